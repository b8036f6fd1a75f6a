#include "protocol/seq_source.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace ck::protocol {
namespace {

struct FixedClock : Clock {
  int64_t t = 1000;
  int64_t now() const override { return t; }
};

TEST(SeqSource, IncreasesAndSurvivesRestart) {
  auto dir = std::filesystem::temp_directory_path() / ("ck-seq-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::string path = (dir / "seq").string();
  FixedClock clock;
  int64_t last = 0;
  {
    auto src = SeqSource::open(path, &clock);
    ASSERT_TRUE(src.ok()) << src.error().message;
    for (int i = 0; i < 100; ++i) {
      auto v = (*src)->next();
      ASSERT_TRUE(v.ok());
      EXPECT_GT(*v, last);
      last = *v;
    }
    auto high = (*src)->next(last + 1000);
    ASSERT_TRUE(high.ok());
    EXPECT_EQ(*high, last + 1000);
    last = *high;
    // Absurd floors from peers are ignored.
    auto v = (*src)->next(INT64_MAX);
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(*v, last + 1);
    last = *v;
  }
  clock.t = 10;  // even with the clock going backwards
  auto again = SeqSource::open(path, &clock);
  ASSERT_TRUE(again.ok());
  auto v = (*again)->next();
  ASSERT_TRUE(v.ok());
  EXPECT_GT(*v, last);
  std::filesystem::remove_all(dir);
}

TEST(SeqSource, CorruptFileIsAnError) {
  auto path = std::filesystem::temp_directory_path() / ("ck-seq-bad-" + std::to_string(::getpid()));
  FILE* f = fopen(path.c_str(), "w");
  fputs("garbage", f);
  fclose(f);
  auto src = SeqSource::open(path.string());
  EXPECT_FALSE(src.ok());
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace ck::protocol
