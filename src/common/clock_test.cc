#include "common/clock.h"

#include <gtest/gtest.h>

#include <ctime>
#include <random>

namespace ck {
namespace {

std::string with_strftime(int64_t s) {
  std::time_t t = static_cast<std::time_t>(s);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

TEST(Rfc3339, MatchesStrftimeAcrossTheRange) {
  for (int64_t s : {int64_t{0}, int64_t{951782400} /* 2000-02-29 */, int64_t{1764000000}, int64_t{4102444799},
                    int64_t{253402300799} /* 9999-12-31T23:59:59Z */, int64_t{-1}, int64_t{-30610224000} /* 1000-01-01 */})
    EXPECT_EQ(format_rfc3339(s), with_strftime(s)) << s;
  // RFC 3339 years have four digits; strftime's %Y does not pad.
  EXPECT_EQ(format_rfc3339(-62135596800), "0001-01-01T00:00:00Z");
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int64_t> any(-30610224000, 253402300799);
  for (int i = 0; i < 100000; ++i) {
    const int64_t s = any(rng);
    ASSERT_EQ(format_rfc3339(s), with_strftime(s)) << s;
  }
}

}  // namespace
}  // namespace ck
