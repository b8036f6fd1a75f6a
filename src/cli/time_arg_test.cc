#include "cli/time_arg.h"

#include <gtest/gtest.h>

namespace ck::cli {
namespace {

constexpr int64_t kNow = 1'795'000'000;  // 2026-11-18T...Z

TEST(ParseSince, DatesAndDateTimesAreUtc) {
  EXPECT_EQ(*parse_since("2026-11-01", kNow), 1'793'491'200);
  EXPECT_EQ(*parse_since("2026-11-01T12:00:00Z", kNow), 1'793'491'200 + 12 * 3600);
  EXPECT_EQ(*parse_since("2026-11-01T12:30Z", kNow), 1'793'491'200 + 12 * 3600 + 1800);
  EXPECT_EQ(*parse_since("1970-01-01", kNow), 0);
}

TEST(ParseSince, DurationsCountBackFromNow) {
  EXPECT_EQ(*parse_since("30s", kNow), kNow - 30);
  EXPECT_EQ(*parse_since("30m", kNow), kNow - 1800);
  EXPECT_EQ(*parse_since("12h", kNow), kNow - 12 * 3600);
  EXPECT_EQ(*parse_since("7d", kNow), kNow - 7 * 86400);
  EXPECT_EQ(*parse_since("2w", kNow), kNow - 14 * 86400);
}

TEST(ParseSince, AnythingElseIsRefusedNamingTheForms) {
  for (const char* bad : {"", "yesterday", "7", "d", "-7d", "0d", "7 d", "7days", "2026-11-01T12:00:00",
                          "2026-11-01T12:00:00+01:00", "2026-02-30", "2026-13-01", "2026-11-01T24:00:00Z",
                          "2026-11-1", "12345678901d"}) {
    auto r = parse_since(bad, kNow);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().kind, ErrorKind::kInvalidArgument);
    EXPECT_NE(r.error().message.find("2026-11-01T12:00:00Z"), std::string::npos) << r.error().message;
  }
}

}  // namespace
}  // namespace ck::cli
