#include "protocol/wire.h"

#include <gtest/gtest.h>

namespace ck::protocol {
namespace {
namespace json = boost::json;

const std::string kFp(64, 'a');

TEST(Wire, AgentIdRules) {
  EXPECT_TRUE(valid_agent_id("a"));
  EXPECT_TRUE(valid_agent_id("host-1.example_X"));
  EXPECT_TRUE(valid_agent_id(std::string(64, 'x')));
  EXPECT_FALSE(valid_agent_id(""));
  EXPECT_FALSE(valid_agent_id(std::string(65, 'x')));
  EXPECT_FALSE(valid_agent_id("a b"));
  EXPECT_FALSE(valid_agent_id("a/b"));
  EXPECT_FALSE(valid_agent_id("\xc3\xa9"));
}

// "all" is the broadcast address: no agent may check in or open a channel as "all" (in
// any letter case) and so collect every broadcast.
TEST(Wire, AllIsNotAnAgentId) {
  for (const char* id : {"all", "ALL", "All", "aLl"}) {
    EXPECT_FALSE(valid_agent_id(id)) << id;
    EXPECT_FALSE(checkin_request_from_json(
                     *parse_json_body(std::string(R"({"agent_id":")") + id + R"(","pinned_fingerprint":")" + kFp +
                                      "\"}"))
                     .ok())
        << id;
    EXPECT_FALSE(channel_hello_from_json(to_json(ChannelHello{id, kFp})).ok()) << id;
  }
  EXPECT_TRUE(valid_agent_id("all1"));
  EXPECT_TRUE(valid_agent_id("al"));
  EXPECT_TRUE(valid_agent_id("ball"));
  // Only the lowercase "all" is a broadcast; "ALL" is neither a broadcast nor an agent.
  auto all = admin_message_request_from_json(*parse_json_body(R"({"command":"ping","to":"all"})"));
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->to, kToAll);
  EXPECT_FALSE(admin_message_request_from_json(*parse_json_body(R"({"command":"ping","to":"ALL"})")).ok());
}

TEST(Wire, FingerprintRules) {
  EXPECT_TRUE(valid_fingerprint(kFp));
  EXPECT_FALSE(valid_fingerprint(std::string(64, 'A')));
  EXPECT_FALSE(valid_fingerprint(std::string(63, 'a')));
  EXPECT_FALSE(valid_fingerprint(std::string(64, 'g')));
}

TEST(Wire, MalformedJsonIsRefused) {
  EXPECT_FALSE(parse_json_body("{").ok());
  EXPECT_FALSE(parse_json_body("not json").ok());
  EXPECT_FALSE(parse_json_body(std::string(kMaxRequestBodyBytes + 1, ' ')).ok());
  EXPECT_FALSE(parse_json_body(std::string(100, '[') + std::string(100, ']')).ok());  // depth
  EXPECT_TRUE(parse_json_body("{}").ok());
}

TEST(Wire, CheckinRoundTrip) {
  CheckinRequest r;
  r.agent_id = "agent-1";
  r.hostname = "h";
  r.ip = "10.0.0.1";
  r.pinned_fingerprint = kFp;
  r.last_seq = 42;
  auto back = checkin_request_from_json(to_json(r));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->agent_id, "agent-1");
  EXPECT_EQ(back->ip, "10.0.0.1");
  EXPECT_EQ(back->pinned_fingerprint, kFp);
  EXPECT_EQ(back->last_seq, 42);
}

TEST(Wire, CheckinWrongTypesAndValues) {
  auto parse = [](std::string_view text) {
    auto v = parse_json_body(text);
    EXPECT_TRUE(v.ok());
    return checkin_request_from_json(*v);
  };
  std::string fp = "\"" + kFp + "\"";
  EXPECT_TRUE(parse(R"({"agent_id":"a","pinned_fingerprint":)" + fp + "}").ok());
  EXPECT_FALSE(parse("[]").ok());
  EXPECT_FALSE(parse(R"({"agent_id":5,"pinned_fingerprint":)" + fp + "}").ok());
  EXPECT_FALSE(parse(R"({"agent_id":"a b","pinned_fingerprint":)" + fp + "}").ok());
  EXPECT_FALSE(parse(R"({"pinned_fingerprint":)" + fp + "}").ok());
  EXPECT_FALSE(parse(R"({"agent_id":"a","pinned_fingerprint":"xyz"})").ok());
  EXPECT_FALSE(parse(R"({"agent_id":"a","hostname":7,"pinned_fingerprint":)" + fp + "}").ok());
  EXPECT_FALSE(parse(R"({"agent_id":"a","last_seq":"1","pinned_fingerprint":)" + fp + "}").ok());
  EXPECT_FALSE(parse(R"({"agent_id":"a","last_seq":-1,"pinned_fingerprint":)" + fp + "}").ok());
  EXPECT_FALSE(parse(R"({"agent_id":"a","last_seq":1.5,"pinned_fingerprint":)" + fp + "}").ok());
  EXPECT_FALSE(parse(R"({"agent_id":"a","hostname":")" + std::string(300, 'h') +
                     R"(","pinned_fingerprint":)" + fp + "}")
                   .ok());
}

TEST(Wire, CheckinResponseRoundTrip) {
  CheckinResponse r;
  r.current_fingerprint = kFp;
  r.rotations.push_back({"a.b.c", "d.e.f"});
  r.messages.push_back("x.y.z");
  json::value v = to_json(r);
  EXPECT_TRUE(v.as_object().contains("rotations"));
  auto back = checkin_response_from_json(v);
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->rotations.size(), 1u);
  EXPECT_EQ(back->rotations[0].by_new, "d.e.f");
  ASSERT_EQ(back->messages.size(), 1u);
  EXPECT_EQ(back->messages[0], "x.y.z");
}

TEST(Wire, CommandPayloadRoundTrip) {
  CommandPayload p{"set-policy", json::object{{"k", "v"}}, "agent-1", 10, 3610, std::string(32, 'f'), 7};
  json::object o = to_json(p);
  EXPECT_EQ(o.at("typ").as_string(), "command");
  auto back = command_payload_from_json(o);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->seq, 7);
  EXPECT_EQ(back->args.at("k").as_string(), "v");
}

TEST(Wire, AdminMessageRequest) {
  auto ok = admin_message_request_from_json(*parse_json_body(R"({"command":"ping","to":"all"})"));
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(ok->args.empty());
  EXPECT_FALSE(admin_message_request_from_json(*parse_json_body(R"({"command":"rm","to":"all"})")).ok());
  EXPECT_FALSE(admin_message_request_from_json(*parse_json_body(R"({"command":"ping","to":"a b"})")).ok());
  EXPECT_FALSE(
      admin_message_request_from_json(*parse_json_body(R"({"command":"ping","to":"a","args":[]})")).ok());
}
// Check-in text reaches the registry, certmgr -l, CSV, terminals and logs: control characters
// (C0, DEL, C1) are refused with kInvalidArgument (the server answers 422).
TEST(Wire, CheckinFieldsRefuseControlCharacters) {
  const std::vector<std::string> bad = {"\n", "\r", "\t", std::string(1, '\0'), "\x1b[2J", "\x7f", "\xc2\x9b"};
  for (const char* field : {"hostname", "ip", "domain", "os", "agent_version"}) {
    for (const std::string& ctl : bad) {
      CheckinRequest r;
      r.agent_id = "a";
      r.pinned_fingerprint = kFp;
      json::object o = to_json(r);
      o[field] = "host" + ctl + "name";
      auto parsed = checkin_request_from_json(*parse_json_body(json::serialize(o)));
      ASSERT_FALSE(parsed.ok()) << field << " " << json::serialize(json::string(ctl));
      EXPECT_EQ(parsed.error().kind, ErrorKind::kInvalidArgument);
      EXPECT_NE(parsed.error().message.find(field), std::string::npos) << parsed.error().message;
    }
    // Printable text, including non-ASCII letters, is still accepted.
    CheckinRequest r;
    r.agent_id = "a";
    r.pinned_fingerprint = kFp;
    json::object o = to_json(r);
    o[field] = "Windows Server 2022 (x64) \xc3\xa9t\xc3\xa9 ~!";
    auto parsed = checkin_request_from_json(*parse_json_body(json::serialize(o)));
    ASSERT_TRUE(parsed.ok()) << field << ": " << parsed.error().message;
  }
}

TEST(Wire, Hello) {
  ChannelHello h{"a", kFp};
  auto back = channel_hello_from_json(to_json(h));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->agent_id, "a");
}

TEST(Wire, MutatedInputNeverCrashesAndNeverPassesInvalidIds) {
  CheckinRequest r;
  r.agent_id = "agent-1";
  r.hostname = "h";
  r.pinned_fingerprint = kFp;
  const std::string seed = json::serialize(to_json(r));
  uint32_t x = 12345;
  auto rnd = [&x] {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return x;
  };
  for (int i = 0; i < 20000; ++i) {
    std::string s = seed;
    for (int k = 0, n = 1 + rnd() % 4; k < n; ++k) {
      size_t pos = rnd() % s.size();
      switch (rnd() % 3) {
        case 0: s[pos] = static_cast<char>(rnd() & 0xff); break;
        case 1: s.erase(pos, 1 + rnd() % 8); break;
        default: s.insert(pos, 1, "{}[]\",:0\x00"[rnd() % 10]); break;
      }
      if (s.empty()) s = "{";
    }
    auto v = parse_json_body(s);
    if (!v.ok()) continue;
    auto c = checkin_request_from_json(*v);
    if (c.ok()) {
      EXPECT_TRUE(valid_agent_id(c->agent_id));
      EXPECT_TRUE(valid_fingerprint(c->pinned_fingerprint));
      EXPECT_GE(c->last_seq, 0);
    }
    (void)channel_hello_from_json(*v);
    (void)admin_message_request_from_json(*v);
    (void)command_payload_from_json(*v);
  }
}

}  // namespace
}  // namespace ck::protocol
