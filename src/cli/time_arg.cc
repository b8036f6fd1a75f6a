#include "cli/time_arg.h"

#include <ctime>
#include <regex>

namespace ck::cli {
namespace {

Error bad_since(const std::string& when) {
  return Error{ErrorKind::kInvalidArgument,
               "--since takes a UTC date (2026-11-01), a UTC date-time (2026-11-01T12:00:00Z) or a "
               "duration back from now (30m, 12h, 7d, 2w), not '" + when + "'"};
}

}  // namespace

Result<int64_t> parse_since(const std::string& when, int64_t now) {
  static const std::regex kDuration(R"(([0-9]{1,9})([smhdw]))");
  static const std::regex kDate(R"(([0-9]{4})-([0-9]{2})-([0-9]{2})(T([0-9]{2}):([0-9]{2})(:([0-9]{2}))?Z)?)");
  std::smatch m;
  if (std::regex_match(when, m, kDuration)) {
    const int64_t n = std::stoll(m[1].str());
    const char unit = m[2].str()[0];
    const int64_t scale = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : unit == 'd' ? 86400 : 604800;
    if (n == 0) return bad_since(when);
    return now - n * scale;
  }
  if (!std::regex_match(when, m, kDate)) return bad_since(when);
  std::tm tm{};
  tm.tm_year = std::stoi(m[1].str()) - 1900;
  tm.tm_mon = std::stoi(m[2].str()) - 1;
  tm.tm_mday = std::stoi(m[3].str());
  if (m[4].matched) {
    tm.tm_hour = std::stoi(m[5].str());
    tm.tm_min = std::stoi(m[6].str());
    tm.tm_sec = m[8].matched ? std::stoi(m[8].str()) : 0;
  }
  const std::tm given = tm;
  const time_t t = ::timegm(&tm);
  // timegm normalizes 2026-02-30 to March 2: a date that moved did not exist.
  if (t == static_cast<time_t>(-1) || tm.tm_year != given.tm_year || tm.tm_mon != given.tm_mon ||
      tm.tm_mday != given.tm_mday || tm.tm_hour != given.tm_hour || tm.tm_min != given.tm_min ||
      tm.tm_sec != given.tm_sec)
    return bad_since(when);
  return static_cast<int64_t>(t);
}

}  // namespace ck::cli
