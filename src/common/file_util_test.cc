#include "common/file_util.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

namespace ck {
namespace {

std::string temp_dir() {
  auto dir = std::filesystem::temp_directory_path() /
             ("ck-file-" + std::to_string(::getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

TEST(FileUtil, AtomicWriteReplacesContentAndSetsMode) {
  auto dir = temp_dir();
  auto path = dir + "/f.txt";
  ASSERT_TRUE(write_file_atomic(path, "one", 0600).ok());
  ASSERT_TRUE(write_file_atomic(path, "two", 0600).ok());
  auto data = read_file(path);
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(*data, "two");
  struct stat st{};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // No temporary files are left behind.
  int entries = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir)) ++entries;
  EXPECT_EQ(entries, 1);
}

TEST(FileUtil, WriteIntoMissingFolderFailsCleanly) {
  auto r = write_file_atomic("/nonexistent-ck-dir/x", "data");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("/nonexistent-ck-dir"), std::string::npos);
}

TEST(FileUtil, ReadRefusesOversizedFile) {
  auto dir = temp_dir();
  ASSERT_TRUE(write_file_atomic(dir + "/big", std::string(100, 'x')).ok());
  auto r = read_file(dir + "/big", 10);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kInvalidArgument);
}

TEST(FileUtil, ReadMissingFileIsNotFound) {
  auto r = read_file("/nonexistent-ck-file");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kNotFound);
}

TEST(FileUtil, UncommittedStreamingWriteLeavesNothing) {
  auto dir = temp_dir();
  ASSERT_TRUE(write_file_atomic(dir + "/out", "old").ok());
  {
    auto w = AtomicFileWriter::create(dir + "/out");
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(w->write("partial").ok());
  }  // abandoned, e.g. an error half way
  EXPECT_EQ(*read_file(dir + "/out"), "old");
  int entries = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir)) ++entries;
  EXPECT_EQ(entries, 1);
}

TEST(FileUtil, NewFileNeverReplacesAnExistingOne) {
  auto dir = temp_dir();
  ASSERT_TRUE(write_new_file(dir + "/kek", "first").ok());
  struct stat st{};
  ASSERT_EQ(::stat((dir + "/kek").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  Status second = write_new_file(dir + "/kek", "second");
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().kind, ErrorKind::kConflict);
  EXPECT_NE(second.error().message.find("already exists"), std::string::npos) << second.error().message;
  EXPECT_EQ(*read_file(dir + "/kek"), "first");
  int entries = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir)) ++entries;
  EXPECT_EQ(entries, 1) << "a temporary file was left";
}

}  // namespace
}  // namespace ck
