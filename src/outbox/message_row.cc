#include "outbox/message_row.h"

namespace ck::outbox {

Result<boost::json::object> parse_args(const std::string& text) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) return make_error(ErrorKind::kCorrupt, "outbox: stored args are not a JSON object");
  return std::move(v.as_object());
}

std::string serialize_args(const boost::json::object& args) { return boost::json::serialize(args); }

}  // namespace ck::outbox
