#include "common/clock.h"

#include <chrono>
#include <ctime>

namespace ck {
namespace {

class SystemClock final : public Clock {
 public:
  int64_t now() const override {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

}  // namespace

const Clock& system_clock() {
  static const SystemClock clock;
  return clock;
}

std::string format_rfc3339(int64_t unix_seconds) {
  // Civil date from days (C++20 <chrono>): no strftime, no time zone lookup per call.
  using namespace std::chrono;
  const sys_seconds t{seconds{unix_seconds}};
  const auto day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss hms{t - day};
  const int y = static_cast<int>(ymd.year());
  if (y < 0 || y > 9999) {
    std::time_t tt = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
  }
  char buf[21];
  auto two = [&buf](int at, unsigned v) {
    buf[at] = static_cast<char>('0' + v / 10);
    buf[at + 1] = static_cast<char>('0' + v % 10);
  };
  two(0, static_cast<unsigned>(y / 100));
  two(2, static_cast<unsigned>(y % 100));
  buf[4] = '-';
  two(5, static_cast<unsigned>(ymd.month()));
  buf[7] = '-';
  two(8, static_cast<unsigned>(ymd.day()));
  buf[10] = 'T';
  two(11, static_cast<unsigned>(hms.hours().count()));
  buf[13] = ':';
  two(14, static_cast<unsigned>(hms.minutes().count()));
  buf[16] = ':';
  two(17, static_cast<unsigned>(hms.seconds().count()));
  buf[19] = 'Z';
  buf[20] = '\0';
  return std::string(buf, 20);
}

}  // namespace ck
