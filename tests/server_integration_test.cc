// Integration tests: the real certkeeper-server on 127.0.0.1 (ports picked by the OS)
// with a temporary store — SQLite, and PostgreSQL (one schema per test) when
// $CK_TEST_POSTGRES_URL names a server — driven by real HTTPS/WebSocket clients.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <regex>
#include <set>
#include <thread>

#include "common/file_util.h"
#include "crypto/jws.h"
#include "crypto/rotation_statement.h"
#include "crypto/x509.h"
#include "protocol/wire.h"
#include "registry/endpoint_registry.h"
#include "store/cert_operations.h"
#include "store/cert_store.h"
#include "store/postgres/pg_conn.h"
#include "store/postgres/pg_test_env.h"
#include "support/process.h"
#include "support/server_client.h"

namespace ck::testing {
namespace {
namespace json = boost::json;
using namespace std::chrono_literals;

enum class Backend { kSqlite, kPostgres };

class ServerTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    dir_ = temp_dir("server");
    if (GetParam() == Backend::kPostgres) {
      CK_REQUIRE_POSTGRES();
      auto schema = pg::testing::TestSchema::create(pg::testing::server_url());
      ASSERT_TRUE(schema.ok()) << schema.error().message;
      schema_ = std::move(schema).value();
      url_ = schema_->url();
    } else {
      url_ = "sqlite:" + dir_ + "/ck.db";
    }
    auto s = store::open_cert_store(url_);
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(s).value();
  }

  std::string generate(bool revoke_previous = false) {
    store::GenerateOptions opts;
    opts.revoke_previous = revoke_previous;
    auto r = store::generate_certificate(*store_, opts, store::Context{"tester", nullptr});
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? r->fingerprint : "";
  }
  crypto::PublicKey public_key(const std::string& fp) {
    std::string pem;
    EXPECT_TRUE(store_->read([&](store::CertTxn& t) -> Status {
      CK_ASSIGN_OR_RETURN(auto rec, t.find(fp));
      pem = rec->cert_pem;
      return ok_status();
    }).ok());
    return crypto::Certificate::parse(pem)->public_key();
  }
  void start(const std::vector<std::string>& extra = {}, const std::map<std::string, std::string>& env = {}) {
    server_ = std::make_unique<ServerUnderTest>(url_, dir_ + "/state", extra, env);
    ASSERT_TRUE(server_->started()) << server_->process().error_output();
  }
  static std::string checkin_body(const std::string& id, const std::string& pinned, int64_t last_seq = 0) {
    protocol::CheckinRequest r;
    r.agent_id = id;
    r.hostname = "host-" + id;
    r.ip = "10.1.2.3";
    r.domain = "example.test";
    r.os = "linux";
    r.agent_version = "test";
    r.pinned_fingerprint = pinned;
    r.last_seq = last_seq;
    return json::serialize(protocol::to_json(r));
  }
  HttpReply checkin(const std::string& id, const std::string& pinned, int64_t last_seq = 0) {
    return http_request(server_->agents(), true, "POST", "/v1/checkin", checkin_body(id, pinned, last_seq));
  }
  protocol::CheckinResponse checkin_ok(const std::string& id, const std::string& pinned, int64_t last_seq = 0) {
    HttpReply r = checkin(id, pinned, last_seq);
    EXPECT_EQ(r.status, 200) << r.error << " " << r.body;
    auto v = protocol::parse_json_body(r.body, 1 << 20);
    if (!v.ok()) return {};
    auto parsed = protocol::checkin_response_from_json(*v);
    EXPECT_TRUE(parsed.ok()) << r.body;
    return parsed.ok() ? *parsed : protocol::CheckinResponse{};
  }
  std::string metrics() {
    HttpReply r = http_request(server_->metrics(), false, "GET", "/metrics");
    EXPECT_EQ(r.status, 200) << r.error;
    return r.body;
  }
  static int64_t metric(const std::string& text, const std::string& name) {
    size_t pos = text.find("\n" + name + " ");
    if (pos == std::string::npos) return -1;
    return std::stoll(text.substr(pos + name.size() + 2));
  }

  // Starts `clients` threads, each checking in as PREFIX-c-i (at most `per_client`) until
  // `stop`; the ids answered 200 are added to `answered` under `mu`.
  void start_checkin_load(const std::string& prefix, int clients, int per_client, const std::string& fp,
                          std::atomic<bool>& stop, std::mutex& mu, std::vector<std::string>& answered,
                          std::vector<std::thread>& threads) {
    for (int c = 0; c < clients; ++c) {
      threads.emplace_back([&, prefix, fp, c, per_client] {
        for (int i = 0; !stop.load() && i < per_client; ++i) {
          std::string id = prefix + "-" + std::to_string(c) + "-" + std::to_string(i);
          if (checkin(id, fp).status == 200) {
            std::lock_guard<std::mutex> lock(mu);
            answered.push_back(id);
          }
        }
      });
    }
  }
  // Every id in `ids` is in the registry (read with the server stopped).
  void expect_recorded(const std::vector<std::string>& ids) {
    auto reg = registry::open_endpoint_registry(url_);
    ASSERT_TRUE(reg.ok()) << reg.error().message;
    for (const auto& id : ids) {
      auto e = (*reg)->find(id);
      ASSERT_TRUE(e.ok());
      EXPECT_TRUE(e->has_value()) << id << " was answered but is not in the registry";
    }
  }

  void TearDown() override {
    server_.reset();  // stop the server before its schema goes
    store_.reset();
  }

  std::unique_ptr<pg::testing::TestSchema> schema_;  // destroyed last
  std::string dir_, url_;
  std::unique_ptr<store::CertStore> store_;
  std::unique_ptr<ServerUnderTest> server_;
};

TEST_P(ServerTest, RefusesToStartWithoutCurrentCertificate) {
  ProcessResult r = run({bin("certkeeper-server"), "--store", url_, "--listen", "127.0.0.1:0", "--metrics-listen",
                         "127.0.0.1:0", "--state-dir", dir_ + "/state"},
                        RunOptions{.timeout = 20s});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("certmgr -c"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("listening on"), std::string::npos);
}

TEST_P(ServerTest, CheckinAnswersCurrentFingerprintAndIsRecorded) {
  std::string fp = generate();
  start();
  auto before = metrics();
  auto resp = checkin_ok("agent-1", fp);
  EXPECT_EQ(resp.current_fingerprint, fp);
  EXPECT_TRUE(resp.rotations.empty());
  EXPECT_TRUE(resp.messages.empty());
  auto reg = registry::open_endpoint_registry(url_);
  ASSERT_TRUE(reg.ok()) << reg.error().message;
  auto e = (*reg)->find("agent-1");
  ASSERT_TRUE(e.ok());
  ASSERT_TRUE(e->has_value());
  EXPECT_EQ((*e)->pinned_fingerprint, fp);
  EXPECT_EQ((*e)->hostname, "host-agent-1");
  EXPECT_EQ((*e)->ip_address, "10.1.2.3");
  auto after = metrics();
  EXPECT_EQ(metric(after, "certkeeper_checkins_total"), metric(before, "certkeeper_checkins_total") + 1);
  EXPECT_GE(metric(after, "certkeeper_registry_batch_size_count"), 1);
  EXPECT_GE(metric(after, "certkeeper_registry_batch_size_sum"), 1);
  EXPECT_NE(after.find("certkeeper_endpoints{fingerprint=\"" + fp + "\",status=\"current\"} 1"), std::string::npos)
      << after;
  EXPECT_GT(metric(after, "certkeeper_channels_connected"), -1);
  EXPECT_NE(after.find("certkeeper_current_certificate_expiry_seconds{"), std::string::npos);
}

TEST_P(ServerTest, NewCertificateIsServedWithinASecondAndAHalf) {
  std::string old_fp = generate();
  start();
  EXPECT_EQ(checkin_ok("a", old_fp).current_fingerprint, old_fp);
  std::string new_fp = generate();  // as `certmgr -c` would, from another process
  auto deadline = std::chrono::steady_clock::now() + 1500ms;
  std::string seen;
  while (std::chrono::steady_clock::now() < deadline) {
    seen = checkin_ok("a", old_fp).current_fingerprint;
    if (seen == new_fp) break;
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_EQ(seen, new_fp) << "the server did not notice the new certificate within 1.5 s";
  // The stale agent gets a link it can verify with the key it pins.
  auto resp = checkin_ok("a", old_fp);
  ASSERT_EQ(resp.rotations.size(), 1u);
  auto link = crypto::verify_rotation(resp.rotations[0].by_old, resp.rotations[0].by_new, public_key(old_fp), 0);
  ASSERT_TRUE(link.ok()) << link.error().message;
  EXPECT_EQ(link->to, new_fp);
  EXPECT_TRUE(checkin_ok("a", new_fp).rotations.empty());
}

TEST_P(ServerTest, BadInputGetsTheRightStatus) {
  std::string fp = generate();
  start();
  const HostPort& a = server_->agents();
  EXPECT_EQ(http_request(a, true, "POST", "/v1/checkin", "{\"agent_id\": ").status, 400);
  EXPECT_EQ(http_request(a, true, "POST", "/v1/checkin", "{\"agent_id\": 42}").status, 422);
  EXPECT_EQ(http_request(a, true, "POST", "/v1/checkin", checkin_body("bad/id", fp)).status, 422);
  EXPECT_EQ(http_request(a, true, "POST", "/v1/checkin", std::string(200 * 1024, 'x')).status, 413);
  EXPECT_EQ(http_request(a, true, "GET", "/etc/passwd").status, 404);
  HttpReply wrong_method = http_request(a, true, "GET", "/v1/checkin");
  EXPECT_EQ(wrong_method.status, 405);
  EXPECT_EQ(wrong_method.headers["allow"], "POST");
  EXPECT_EQ(http_request(a, true, "DELETE", "/v1/checkin").status, 405);
  // The admin API is not on the agent port, and the agent API is not on the admin port.
  EXPECT_EQ(http_request(a, true, "GET", "/metrics").status, 404);
  EXPECT_EQ(admin_request(server_->admin_socket(), "POST", "/v1/checkin", checkin_body("x", fp)).status, 404);
  EXPECT_EQ(http_request(server_->metrics(), false, "POST", "/v1/admin/messages", "{}").status, 404);
  // Still serving.
  EXPECT_EQ(checkin_ok("after-bad-input", fp).current_fingerprint, fp);
  auto m = metrics();
  EXPECT_GE(metric(m, "certkeeper_checkins_rejected_total"), 7);
}

TEST_P(ServerTest, GarbageAndSlowClientsDoNotHurtOthers) {
  std::string fp = generate();
  start({"--read-timeout", "1"});
  const HostPort& a = server_->agents();
  // Plain HTTP and random bytes to the TLS port: that connection is dropped.
  RawResult plain = raw_tcp(a, "POST /v1/checkin HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", 5s);
  EXPECT_TRUE(plain.connected);
  EXPECT_TRUE(plain.closed_by_peer);
  EXPECT_EQ(plain.data.find("200 OK"), std::string::npos);
  std::string noise(4096, '\0');
  for (size_t i = 0; i < noise.size(); ++i) noise[i] = static_cast<char>((i * 7919) & 0xff);
  EXPECT_TRUE(raw_tcp(a, noise, 5s).closed_by_peer);
  // Half-open clients that never speak, kept open meanwhile.
  std::vector<std::thread> idle;
  std::atomic<int> idle_closed{0};
  for (int i = 0; i < 8; ++i) {
    idle.emplace_back([&] {
      if (raw_tcp(a, "", 20s).closed_by_peer) idle_closed++;
    });
  }
  std::this_thread::sleep_for(200ms);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(checkin_ok("well-behaved", fp).current_fingerprint, fp);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  // A slow client that sends half a request over plain TCP on the admin port is cut
  // after the read timeout (1 s here).
  auto t1 = std::chrono::steady_clock::now();
  RawResult slow = raw_tcp(server_->metrics(), "GET /metrics HTTP/1.1\r\nHost: x\r\n", 15s);
  EXPECT_TRUE(slow.closed_by_peer);
  EXPECT_LT(std::chrono::steady_clock::now() - t1, 8s);
  for (auto& t : idle) t.join();
  EXPECT_EQ(idle_closed.load(), 8);  // dropped by the handshake timeout
  EXPECT_EQ(checkin_ok("still-fine", fp).current_fingerprint, fp);
}

// Seq of the (verified) command payloads in a check-in answer.
std::vector<int64_t> seqs_of(const protocol::CheckinResponse& resp, const crypto::PublicKey& key) {
  std::vector<int64_t> out;
  for (const auto& m : resp.messages) {
    auto payload = crypto::jws_verify(m, key);
    EXPECT_TRUE(payload.ok());
    if (!payload.ok()) continue;
    auto p = protocol::command_payload_from_json(*payload);
    EXPECT_TRUE(p.ok());
    if (p.ok()) out.push_back(p->seq);
  }
  return out;
}

TEST_P(ServerTest, ChannelPushesSignedMessagesAndCheckinsCarryThemUntilAcknowledged) {
  std::string fp = generate();
  start();
  ChannelClient ch;
  std::string err;
  ASSERT_TRUE(ch.connect(server_->agents(), 5s, &err)) << err;
  ASSERT_TRUE(ch.send_text(json::serialize(protocol::to_json(protocol::ChannelHello{"live-1", fp}))));
  // Queued in the outbox whether or not the hello landed yet: the channel gets it
  // either from the hello's flush or from the delivery loop.
  HttpReply r = admin_request(server_->admin_socket(), "POST", "/v1/admin/messages", R"({"command":"set-policy","args":{"mode":"strict"},"to":"live-1"})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto queued = protocol::admin_message_response_from_json(*protocol::parse_json_body(r.body));
  ASSERT_TRUE(queued.ok()) << r.body;
  auto frame = ch.read(5s);
  ASSERT_TRUE(frame.has_value());
  auto payload = crypto::jws_verify(*frame, public_key(fp));
  ASSERT_TRUE(payload.ok()) << payload.error().message;
  auto p = protocol::command_payload_from_json(*payload);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->aud, "live-1");
  EXPECT_EQ(p->cmd, "set-policy");
  EXPECT_EQ(p->seq, queued->seq);  // the outbox's seq, not a per-server counter
  EXPECT_EQ(p->jti, queued->jti);
  EXPECT_FALSE(ch.read(500ms).has_value());  // pushed once
  EXPECT_GT(metric(metrics(), "certkeeper_channels_connected"), 0);

  // Offline agent: carried by every check-in until the agent reports its seq.
  r = admin_request(server_->admin_socket(), "POST", "/v1/admin/messages", R"({"command":"run-scan","to":"offline-1"})");
  ASSERT_EQ(r.status, 200);
  int64_t seq = protocol::admin_message_response_from_json(*protocol::parse_json_body(r.body))->seq;
  EXPECT_EQ(seqs_of(checkin_ok("offline-1", fp), public_key(fp)), std::vector<int64_t>{seq});
  EXPECT_EQ(seqs_of(checkin_ok("offline-1", fp), public_key(fp)), std::vector<int64_t>{seq});  // not acknowledged yet
  EXPECT_TRUE(checkin_ok("offline-1", fp, seq).messages.empty());                             // acknowledged
  // An agent that says it has a channel gets its messages there, not in the answer.
  r = admin_request(server_->admin_socket(), "POST", "/v1/admin/messages", R"({"command":"ping","to":"offline-1"})");
  ASSERT_EQ(r.status, 200);
  std::string body = checkin_body("offline-1", fp, seq);
  auto with_channel = json::parse(body).as_object();
  with_channel["channel_open"] = true;
  HttpReply answer = http_request(server_->agents(), true, "POST", "/v1/checkin", json::serialize(with_channel));
  ASSERT_EQ(answer.status, 200);
  EXPECT_TRUE(protocol::checkin_response_from_json(*protocol::parse_json_body(answer.body))->messages.empty());
  EXPECT_EQ(checkin_ok("offline-1", fp, seq).messages.size(), 1u);
  EXPECT_EQ(admin_request(server_->admin_socket(), "POST", "/v1/admin/messages", R"({"command":"rm -rf","to":"all"})")
                .status,
            422);
}

// Sequence numbers come from the database, never from what a client reports: a check-in
// claiming a huge last_seq changes nothing for anyone else.
TEST_P(ServerTest, HugeLastSeqFromOneClientChangesNothingForOthers) {
  std::string fp = generate();
  start();
  EXPECT_TRUE(checkin_ok("greedy", fp, int64_t{1} << 62).messages.empty());
  HttpReply r = admin_request(server_->admin_socket(), "POST", "/v1/admin/messages", R"({"command":"ping","to":"all"})");
  ASSERT_EQ(r.status, 200) << r.body;
  int64_t seq = protocol::admin_message_response_from_json(*protocol::parse_json_body(r.body))->seq;
  EXPECT_LT(seq, int64_t{1} << 60);
  EXPECT_TRUE(checkin_ok("greedy", fp, int64_t{1} << 62).messages.empty());  // only the liar loses out
  EXPECT_EQ(seqs_of(checkin_ok("honest", fp, 0), public_key(fp)), std::vector<int64_t>{seq});
  r = admin_request(server_->admin_socket(), "POST", "/v1/admin/messages", R"({"command":"ping","to":"honest"})");
  ASSERT_EQ(r.status, 200);
  int64_t next = protocol::admin_message_response_from_json(*protocol::parse_json_body(r.body))->seq;
  EXPECT_GT(next, seq);
  EXPECT_LT(next, int64_t{1} << 60);
  EXPECT_EQ(seqs_of(checkin_ok("honest", fp, seq), public_key(fp)), std::vector<int64_t>{next});
}

// The admin API is a Unix socket (0660) and the server trusts the kernel's word on
// who connects (SO_PEERCRED): an unprivileged local user can neither open it nor,
// where the file mode would let them, get a message signed. What a browser or a
// request-forging proxy would send is refused too. Nothing is queued by any of it.
TEST_P(ServerTest, AdminApiIsAUnixSocketForAdministratorsOnly) {
  std::string fp = generate();
  start();
  const std::string sock = server_->admin_socket();
  struct stat st;
  ASSERT_EQ(::stat(sock.c_str(), &st), 0) << sock;
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  const std::string body = R"({"command":"ping","to":"victim"})";
  auto raw_status = [&](const std::string& headers) {
    RawResult r = raw_unix(sock, "POST /v1/admin/messages HTTP/1.1\r\nHost: localhost\r\n" + headers +
                                     "Connection: close\r\nContent-Length: " + std::to_string(body.size()) +
                                     "\r\n\r\n" + body,
                           10s);
    return r.data.size() > 12 ? std::stoi(r.data.substr(9, 3)) : 0;
  };
  const std::string json = "Content-Type: application/json\r\n";
  EXPECT_EQ(raw_status(json + "Origin: https://evil.example\r\n"), 403);
  EXPECT_EQ(raw_status("Content-Type: text/plain\r\n"), 415);
  EXPECT_EQ(raw_status(""), 415);
  // An unprivileged user (nobody) through certmgr: the socket's folder and mode keep it out.
  const std::vector<std::string> as_nobody = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"};
  auto send_as_nobody = [&](const std::string& path) {
    std::vector<std::string> argv = as_nobody;
    for (const std::string& a : {bin("certmgr"), std::string("send"), std::string("ping"), std::string("--to"),
                                 std::string("victim"), std::string("--server-admin"), "unix:" + path}) {
      argv.push_back(a);
    }
    return run(argv, RunOptions{.timeout = 20s});
  };
  ProcessResult denied = send_as_nobody(sock);
  EXPECT_EQ(denied.exit_code, 1) << denied.out << denied.err;
  EXPECT_NE(denied.err.find("permission denied"), std::string::npos) << denied.err;
  // Even with the socket world-writable in a folder nobody may enter, SO_PEERCRED refuses.
  const std::string open_dir = short_socket_path() + ".d";
  std::filesystem::create_directories(open_dir);
  ::chmod(open_dir.c_str(), 0755);
  server_.reset();
  start({"--admin-listen", "unix:" + open_dir + "/admin.sock", "--admin-group", "no-such-group-here"});
  ::chmod((open_dir + "/admin.sock").c_str(), 0666);
  ProcessResult refused = send_as_nobody(open_dir + "/admin.sock");
  EXPECT_EQ(refused.exit_code, 1) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("HTTP 403"), std::string::npos) << refused.err;
  EXPECT_TRUE(checkin_ok("victim", fp).messages.empty());  // none of the above was queued
  EXPECT_NE(server_->process().error_output().find("audit: admin request refused"), std::string::npos);
  // The server's own user (root here) gets through, with certmgr and with curl-like JSON.
  ProcessResult sent = run({bin("certmgr"), "send", "ping", "--to", "victim", "--server-admin",
                            "unix:" + open_dir + "/admin.sock"},
                           RunOptions{.timeout = 20s});
  EXPECT_EQ(sent.exit_code, 0) << sent.out << sent.err;
  EXPECT_EQ(raw_status(json), 0);  // the old socket is gone with the old server
  EXPECT_EQ(checkin_ok("victim", fp).messages.size(), 1u);
  // /metrics stays readable by scrapers, on its own loopback listener.
  EXPECT_EQ(http_request(server_->metrics(), false, "GET", "/metrics").status, 200);
}

// A TCP address for the admin API is refused with a clear error.
TEST(ServerFlags, AdminApiOnTcpIsRefused) {
  ProcessResult r = run({bin("certkeeper-server"), "--store", "sqlite:/nonexistent/x.db", "--admin-listen",
                         "127.0.0.1:9443", "--state-dir", temp_dir("flags") + "/state"},
                        RunOptions{.timeout = 20s});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("Unix socket"), std::string::npos) << r.err;
}

// "all" is the broadcast address: nobody can check in or open a channel as "all" to
// collect broadcasts, and every broadcast is signed for one agent ("aud" = its id).
TEST_P(ServerTest, AllIsNotAnAgentAndBroadcastsArePerAgent) {
  std::string fp = generate();
  start();
  checkin_ok("fleet-1", fp);
  checkin_ok("fleet-2", fp);
  HttpReply r = admin_request(server_->admin_socket(), "POST", "/v1/admin/messages", R"({"command":"ping","to":"all"})");
  ASSERT_EQ(r.status, 200) << r.body;
  for (const char* id : {"all", "ALL"}) {
    HttpReply refused = checkin(id, fp);
    EXPECT_EQ(refused.status, 422) << id << " " << refused.body;
    EXPECT_EQ(refused.body.find("messages"), std::string::npos);
  }
  ChannelClient ch;
  ASSERT_TRUE(ch.connect(server_->agents(), 5s));
  ASSERT_TRUE(ch.send_text(json::serialize(json::object{{"agent_id", "all"}, {"pinned_fingerprint", fp}})));
  EXPECT_FALSE(ch.read(2s).has_value());  // closed, nothing pushed
  for (const char* id : {"fleet-1", "fleet-2"}) {
    auto resp = checkin_ok(id, fp);
    ASSERT_EQ(resp.messages.size(), 1u) << id;
    auto p = protocol::command_payload_from_json(*crypto::jws_verify(resp.messages[0], public_key(fp)));
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->aud, id);
  }
}

// Opens a TCP connection to `to` from the loopback source address `source` and keeps it
// idle; -1 when the connection could not be made.
int idle_connection(const HostPort& to, const char* source) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in src{};
  src.sin_family = AF_INET;
  ::inet_pton(AF_INET, source, &src.sin_addr);
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(to.port);
  ::inet_pton(AF_INET, to.host.c_str(), &dst.sin_addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Whether the server closed `fd` (EOF within `wait`).
bool closed_by_server(int fd, std::chrono::milliseconds wait) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return false;
  char c;
  return ::recv(fd, &c, 1, MSG_DONTWAIT) == 0;
}

// A flood of idle connections from one address cannot lock real agents out: past the
// per-address cap they are closed at accept (counted), and the agent on another
// address keeps checking in.
TEST_P(ServerTest, IdleConnectionFloodFromOneAddressDoesNotLockAgentsOut) {
  std::string fp = generate();
  start({"--max-connections-per-address", "20"});
  std::vector<int> flood;
  for (int i = 0; i < 60; ++i) {
    int fd = idle_connection(server_->agents(), "127.0.0.2");
    ASSERT_GE(fd, 0);
    flood.push_back(fd);
  }
  std::this_thread::sleep_for(500ms);
  int refused = 0;
  for (int fd : flood) refused += closed_by_server(fd, 0ms) ? 1 : 0;
  EXPECT_EQ(refused, 40);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(checkin_ok("real-agent", fp).current_fingerprint, fp);
  std::string m = metrics();
  std::smatch refusals;
  ASSERT_TRUE(std::regex_search(m, refusals, std::regex(R"(certkeeper_connections_refused_total\{reason="per_address"\} (\d+))")))
      << m;
  EXPECT_EQ(std::stoll(refusals[1]), 40);
  for (int fd : flood) ::close(fd);
}

// The descriptor limit is raised to the hard limit at start.
TEST_P(ServerTest, RaisesItsDescriptorLimit) {
  generate();
  start();
  auto limits = read_file("/proc/" + std::to_string(server_->process().pid()) + "/limits");
  ASSERT_TRUE(limits.ok());
  std::smatch m;
  ASSERT_TRUE(std::regex_search(*limits, m, std::regex(R"(Max open files\s+(\S+)\s+(\S+))"))) << *limits;
  EXPECT_EQ(m[1], m[2]);
}

// A channel that never sends its hello is closed after the handshake timeout.
TEST_P(ServerTest, ChannelWithoutHelloIsClosed) {
  generate();
  start({"--read-timeout", "1"});
  ChannelClient ch;
  ASSERT_TRUE(ch.connect(server_->agents(), 5s));
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(ch.read(5s).has_value());  // closed, not a frame
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s);
  EXPECT_GE(metric(metrics(), "certkeeper_channels_without_hello_total"), 1);
}

// The server keeps signing keys in memory: no core dumps.
TEST_P(ServerTest, CoreDumpsAreDisabled) {
  generate();
  start();
  auto limits = read_file("/proc/" + std::to_string(server_->process().pid()) + "/limits");
  ASSERT_TRUE(limits.ok());
  std::smatch m;
  ASSERT_TRUE(std::regex_search(*limits, m, std::regex(R"(Max core file size\s+(\S+)\s+(\S+))"))) << *limits;
  EXPECT_EQ(m[1], "0");
  EXPECT_EQ(m[2], "0");
}

TEST_P(ServerTest, SigtermExitsZeroAndEveryAnsweredCheckinIsRecorded) {
  std::string fp = generate();
  start({"--threads", "2"});
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<std::string> answered;
  std::vector<std::thread> clients;
  start_checkin_load("drain", 4, 200, fp, stop, mu, answered, clients);
  std::this_thread::sleep_for(700ms);
  int code = server_->process().stop(SIGTERM, 15s);
  stop = true;
  for (auto& t : clients) t.join();
  EXPECT_EQ(code, 0) << server_->process().error_output();
  ASSERT_FALSE(answered.empty());
  expect_recorded(answered);
}

// SIGKILL under load: no drain, no flush. Every check-in answered before the kill is in
// the registry after a restart, and every message the admin API accepted (answered 200
// with a seq) is still in the outbox and delivered afterwards: a check-in with
// last_seq 0 carries each of them.
TEST_P(ServerTest, SigkillUnderLoadLosesNoAnsweredCheckinAndNoAcceptedMessage) {
  std::string fp = generate();
  start({"--threads", "2"});
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<std::string> answered;
  std::set<int64_t> accepted;
  std::vector<std::thread> clients;
  start_checkin_load("kill", 3, 4000, fp, stop, mu, answered, clients);
  clients.emplace_back([&] {
    for (int i = 0; !stop.load() && i < 4000; ++i) {
      HttpReply r = admin_request(server_->admin_socket(), "POST", "/v1/admin/messages",
                                  R"({"command":"ping","to":"mailbox-1"})");
      if (r.status != 200) continue;
      auto queued = protocol::admin_message_response_from_json(*protocol::parse_json_body(r.body));
      if (queued.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        accepted.insert(queued->seq);
      }
    }
  });
  // Killed in full flow: once both kinds of traffic have been answered a few times.
  EXPECT_TRUE(wait_until(
      [&] {
        std::lock_guard<std::mutex> lock(mu);
        return answered.size() >= 30 && accepted.size() >= 10;
      },
      30s));
  EXPECT_EQ(server_->process().stop(SIGKILL, 15s), 128 + SIGKILL);
  stop = true;
  for (auto& t : clients) t.join();
  ASSERT_FALSE(answered.empty());
  ASSERT_FALSE(accepted.empty());

  expect_recorded(answered);

  start({"--threads", "2"});
  std::set<int64_t> delivered;
  int64_t last = 0;
  for (int round = 0; round < 200 && delivered.size() < accepted.size(); ++round) {
    auto resp = checkin_ok("mailbox-1", fp, last);
    if (resp.messages.empty()) break;
    for (int64_t seq : seqs_of(resp, public_key(fp))) {
      delivered.insert(seq);
      last = std::max(last, seq);
    }
  }
  for (int64_t seq : accepted) EXPECT_TRUE(delivered.count(seq)) << "accepted message " << seq << " was lost";
  RecordProperty("answered_checkins", static_cast<int>(answered.size()));
  RecordProperty("accepted_messages", static_cast<int>(accepted.size()));
}

// The outbox write killed at each of its steps (CK_FAULT_AT): before the commit the
// message is gone and was never acknowledged; after the commit, though the sender got no
// answer, it is stored whole and delivered once.
TEST_P(ServerTest, OutboxWriteKilledAtEachStepIsAllOrNothing) {
#ifndef CK_FAULT_INJECTION_BUILD
  GTEST_SKIP() << "built without CK_FAULT_INJECTION (the development presets turn it on)";
#endif
  std::string fp = generate();
  for (const char* step : {"outbox.add.before_commit", "outbox.add.committed"}) {
    SCOPED_TRACE(step);
    start({}, {{"CK_FAULT_AT", step}});
    HttpReply r = admin_request(server_->admin_socket(), "POST", "/v1/admin/messages",
                                R"({"command":"ping","to":"fault-1"})");
    EXPECT_NE(r.status, 200) << "acknowledged, yet killed before answering";
    // Signal 0 sends nothing: the server must have died by itself, at the fault point.
    EXPECT_EQ(server_->process().stop(0, 10s), 128 + SIGKILL) << "the fault point was not reached";
    start();
    auto resp = checkin_ok("fault-1", fp);
    const bool committed = std::string(step) == "outbox.add.committed";
    ASSERT_EQ(resp.messages.size(), committed ? 1u : 0u);
    if (committed) {
      auto seqs = seqs_of(resp, public_key(fp));
      ASSERT_EQ(seqs.size(), 1u);
      EXPECT_TRUE(checkin_ok("fault-1", fp, seqs[0]).messages.empty());  // delivered once
    }
    server_.reset();
  }
}

// A connection still in its TLS handshake (no request yet) does not hold up SIGTERM:
// it is ended at once, not after the handshake timeout (10 s here) or the grace period.
// Seen in the soak: 20,000 reconnecting agents made every graceful stop take 10 s.
TEST_P(ServerTest, SigtermDoesNotWaitForConnectionsStillInTheirHandshake) {
  generate();
  start({"--read-timeout", "3600"});
  std::vector<int> idle;
  for (int i = 0; i < 5; ++i) idle.push_back(idle_connection(server_->agents(), "127.0.0.1"));
  for (int fd : idle) ASSERT_GE(fd, 0);
  std::this_thread::sleep_for(300ms);  // accepted, handshakes pending
  EXPECT_EQ(server_->process().stop(SIGTERM, 5s), 0) << "still waiting for the pending handshakes";
  for (int fd : idle) ::close(fd);
}

TEST_P(ServerTest, TlsIdentityIsGeneratedOnceAndKeptPrivate) {
  generate();
  start();
  std::string key = dir_ + "/state/server-tls.key";
  struct stat st;
  ASSERT_EQ(::stat(key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string cert_before = *read_file(dir_ + "/state/server-tls.crt");
  EXPECT_EQ(server_->process().stop(SIGTERM), 0);
  start();
  EXPECT_EQ(*read_file(dir_ + "/state/server-tls.crt"), cert_before);
}

TEST_P(ServerTest, ConfigFileSetsOptionsAndFlagsWin) {
  std::string fp = generate();
  std::string config = dir_ + "/server.conf";
  ASSERT_TRUE(write_file_atomic(config, "# test\nstore = \"" + url_ + "\"\n[server]\nthreads = 3\nlisten = \"127.0.0.1:1\"\n[agent]\nserver = \"https://elsewhere:1\"\n").ok());
  // The config's listen port 1 is overridden by the flag (port 0).
  server_ = std::make_unique<ServerUnderTest>("sqlite:/nonexistent/overridden-below.db", dir_ + "/state",
                                              std::vector<std::string>{"--config", config, "--store", url_});
  ASSERT_TRUE(server_->started()) << server_->process().error_output();
  EXPECT_EQ(checkin_ok("cfg", fp).current_fingerprint, fp);
}

// The file sets a shared key; CERTKEEPER_LOG_FORMAT wins over it; the flag wins over both.
TEST_P(ServerTest, EnvironmentWinsOverTheConfigFileAndTheFlagOverBoth) {
  generate();
  const std::string config = dir_ + "/certkeeper.toml";
  ASSERT_TRUE(write_file_atomic(config, "log_format = \"journal\"\n[server]\nlog_level = \"info\"\n").ok());
  auto first_log_line = [&](const std::map<std::string, std::string>& env, const std::vector<std::string>& flags) {
    server_.reset();
    std::vector<std::string> args = {"--config", config};
    args.insert(args.end(), flags.begin(), flags.end());
    server_ = std::make_unique<ServerUnderTest>(url_, dir_ + "/state", args, env);
    EXPECT_TRUE(server_->started()) << server_->process().error_output();
    EXPECT_EQ(server_->process().stop(SIGTERM), 0);
    const std::string log = server_->process().error_output();
    return log.substr(0, log.find('\n'));
  };
  EXPECT_EQ(first_log_line({}, {}).rfind("<6>info ", 0), 0u) << "the file's journal format";
  EXPECT_EQ(first_log_line({{"CERTKEEPER_LOG_FORMAT", "json"}}, {}).rfind("{\"ts\":", 0), 0u) << "the variable";
  const std::string flagged = first_log_line({{"CERTKEEPER_LOG_FORMAT", "json"}}, {"--log-format", "text"});
  EXPECT_NE(flagged.find(" info "), std::string::npos) << flagged;
  EXPECT_EQ(flagged.find('{'), std::string::npos) << flagged;
}

TEST(ServerConfig, AMistakeInTheFileIsAUsageErrorNamingFileLineAndKey) {
  const std::string dir = temp_dir("server-config");
  const std::string config = dir + "/certkeeper.toml";
  ASSERT_TRUE(write_file_atomic(config, "[server]\nlisten = \"127.0.0.1:0\"\nthreds = 4\n").ok());
  ProcessResult r = run({bin("certkeeper-server"), "--config", config}, RunOptions{.timeout = 30s});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "certkeeper-server: usage error: config " + config +
                       ":3: unknown key 'server.threds' (not a flag of certkeeper-server; see its --help)\n");
  ASSERT_TRUE(write_file_atomic(config, "[server]\nthreads = 0\n").ok());
  r = run({bin("certkeeper-server"), "--config", config}, RunOptions{.timeout = 30s});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(config + ":2: 'server.threads': "), std::string::npos) << r.err;
  // The agent reads the same file: its own table applies, the server's is skipped.
  ASSERT_TRUE(write_file_atomic(config, "store = \"sqlite:/x.db\"\n[server]\nthreads = 0\n[agent]\ncheckin_interval = 0\n").ok());
  r = run({bin("certkeeper-agent"), "--config", config, "--server", "https://127.0.0.1:1", "--install-dir", dir + "/a"},
          RunOptions{.timeout = 30s});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(config + ":5: 'agent.checkin_interval': "), std::string::npos) << r.err;
}

// Store URLs end up in error messages: never with a password.
TEST(RedactUrl, RemovesPasswords) {
  EXPECT_EQ(pg::redact_url("postgresql://ck:s3cret@db.example:5432/ck"), "postgresql://ck@db.example:5432/ck");
  EXPECT_EQ(pg::redact_url("postgresql://ck@db/ck?password=s3cret"), "postgresql://ck@db/ck");
  EXPECT_EQ(pg::redact_url("postgresql://db/ck?sslmode=require&password=s3cret&connect_timeout=5"),
            "postgresql://db/ck?sslmode=require&connect_timeout=5");
  EXPECT_EQ(pg::redact_url("postgres://db/ck?pass%77ord=s3cret"), "postgres://db/ck");
  EXPECT_EQ(pg::redact_url("postgresql://db/ck?sslpassword=s3cret&password=two"), "postgresql://db/ck");
  EXPECT_EQ(pg::redact_url("postgresql://ck:s3c?r@t@db/ck"), "postgresql://ck@db/ck");
  EXPECT_EQ(pg::redact_url("postgresql://db?password=s3cret"), "postgresql://db");
  EXPECT_EQ(pg::redact_url("host=db user=ck password=s3cret dbname=ck"), "host=db user=ck dbname=ck");
  EXPECT_EQ(pg::redact_url("host=db password = 'a b\\' c' dbname=ck"), "host=db dbname=ck");
  // Nothing secret: unchanged.
  EXPECT_EQ(pg::redact_url("postgresql://ck@db:5432/ck?sslmode=require"), "postgresql://ck@db:5432/ck?sslmode=require");
  EXPECT_EQ(pg::redact_url("postgresql:///ck?host=/run/postgresql"), "postgresql:///ck?host=/run/postgresql");
  EXPECT_EQ(pg::redact_url("sqlite:./var/certkeeper.db"), "sqlite:./var/certkeeper.db");
}

TEST(RedactUrl, ServerErrorsDoNotShowThePassword) {
  // Nothing listens on port 1: the store cannot be opened and the server says so.
  for (const std::string url : {"postgresql://ck:Pw-in-userinfo@127.0.0.1:1/ck",
                                "postgresql://ck@127.0.0.1:1/ck?password=Pw-in-query"}) {
    ProcessResult r = run({bin("certkeeper-server"), "--store", url, "--listen", "127.0.0.1:0", "--metrics-listen",
                           "127.0.0.1:0", "--state-dir", temp_dir("server-redact") + "/state"},
                          RunOptions{.timeout = 30s});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("127.0.0.1:1"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("Pw-in-"), std::string::npos) << r.err;
    EXPECT_EQ(r.out.find("Pw-in-"), std::string::npos) << r.out;
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, ServerTest, ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         [](const ::testing::TestParamInfo<Backend>& info) {
                           return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
                         });

}  // namespace
}  // namespace ck::testing
