// Parsing the WHEN of `certmgr audit --since WHEN`.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"

namespace ck::cli {

// Unix seconds for: a UTC date "2026-11-01" (its midnight), a UTC date-time
// "2026-11-01T12:00:00Z" or "2026-11-01T12:00Z", or a duration back from `now`:
// a positive whole number followed by s, m, h, d or w ("30m", "12h", "7d").
// Anything else is kInvalidArgument with a message naming the accepted forms.
Result<int64_t> parse_since(const std::string& when, int64_t now);

}  // namespace ck::cli
