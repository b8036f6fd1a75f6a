// The outbox row <-> Message mapping shared by both backends: the column list and
// the args column (a JSON object as text).
#pragma once

#include <string>

#include "common/result.h"
#include "outbox/outbox.h"

namespace ck::outbox {

inline constexpr const char* kMessageColumns = "seq, jti, command, args, audience, iat, exp, issued_by";

// Parses the stored args text. Errors: kCorrupt.
Result<boost::json::object> parse_args(const std::string& text);
std::string serialize_args(const boost::json::object& args);

// The kBusy error for an audience at kMaxPendingPerAudience.
Error too_many_pending(const std::string& audience);

}  // namespace ck::outbox
