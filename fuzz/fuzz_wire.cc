// The check-in and channel wire messages, both ways: what a server reads from agents
// (check-in, hello, admin message) and what an agent reads from a server (check-in
// answer, rotation frame, command payload). Every parser gets every input.
#include "fuzz_target.h"
#include "protocol/wire.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace p = ck::protocol;
  const std::string_view text = ck::fuzz::as_text(data, size);
  (void)p::is_typed_frame(text);
  (void)p::valid_agent_id(text);
  (void)p::valid_fingerprint(text);
  (void)p::known_command(text);
  auto v = p::parse_json_body(text, 1 << 20);
  if (!v.ok()) return 0;
  (void)p::checkin_request_from_json(*v);
  (void)p::checkin_response_from_json(*v);
  (void)p::channel_hello_from_json(*v);
  (void)p::channel_rotation_from_json(*v);
  (void)p::command_payload_from_json(*v);
  (void)p::admin_message_request_from_json(*v);
  (void)p::admin_message_response_from_json(*v);
  // What parses must serialize back and parse the same way (one definition per message).
  if (auto r = p::checkin_request_from_json(*v); r.ok()) {
    if (!p::checkin_request_from_json(boost::json::value(p::to_json(*r))).ok()) std::abort();
  }
  if (auto h = p::channel_hello_from_json(*v); h.ok()) {
    if (!p::channel_hello_from_json(boost::json::value(p::to_json(*h))).ok()) std::abort();
  }
  return 0;
}
