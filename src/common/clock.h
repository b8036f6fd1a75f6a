// Clock: the one seam for time, so tests can move it.
#pragma once

#include <cstdint>
#include <string>

namespace ck {

class Clock {
 public:
  virtual ~Clock() = default;
  // Seconds since the Unix epoch.
  virtual int64_t now() const = 0;
};

// The real wall clock. Thread-safe.
const Clock& system_clock();

// RFC 3339 UTC ("2026-11-25T08:45:00Z").
std::string format_rfc3339(int64_t unix_seconds);

}  // namespace ck
