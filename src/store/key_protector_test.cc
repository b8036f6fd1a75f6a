// The KEK file is trusted only when it is ours and private, checked on the descriptor we read.
#include "store/key_protector.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

namespace ck::store {
namespace {
namespace fs = std::filesystem;

class KekFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ck_kek_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    kek_ = dir_ + "/store.db.kek";
    ASSERT_TRUE(KeyProtector::open(kek_, true).ok());
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string dir_, kek_;
};

TEST_F(KekFile, CreatedPrivateAndReopened) {
  struct stat st{};
  ASSERT_EQ(::stat(kek_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE(KeyProtector::open(kek_, false).ok());
}

// Two processes opening a new store at once must end with one key-encryption key: the
// loser of the race reads the winner's, or the keys it sealed would be lost.
TEST_F(KekFile, RacingCreatorsShareOneKey) {
  for (int round = 0; round < 20; ++round) {
    const std::string path = dir_ + "/race-" + std::to_string(round) + ".kek";
    std::vector<std::string> sealed(8);
    std::vector<std::thread> openers;
    auto key = crypto::PrivateKey::generate(crypto::Algorithm::kEcdsaP256);
    ASSERT_TRUE(key.ok());
    for (size_t i = 0; i < sealed.size(); ++i) {
      openers.emplace_back([&, i] {
        auto kp = KeyProtector::open(path, true);
        if (!kp.ok()) return;
        auto s = kp->seal(*key);
        if (s.ok()) sealed[i] = *s;
      });
    }
    for (auto& t : openers) t.join();
    auto final_kek = KeyProtector::open(path, false);
    ASSERT_TRUE(final_kek.ok());
    for (const auto& s : sealed) {
      ASSERT_FALSE(s.empty());
      EXPECT_TRUE(final_kek->unseal(s).ok()) << "a key sealed under a key-encryption key that lost the race";
    }
  }
}

TEST_F(KekFile, SymlinkIsRefused) {
  const std::string link = dir_ + "/link.kek";
  ASSERT_EQ(::symlink(kek_.c_str(), link.c_str()), 0);
  auto r = KeyProtector::open(link, false);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kPermissionDenied);
  EXPECT_NE(r.error().message.find("symbolic link"), std::string::npos) << r.error().message;
  // Not even with create: a dangling link is not replaced by a new key through it.
  const std::string dangling = dir_ + "/dangling.kek";
  ASSERT_EQ(::symlink((dir_ + "/elsewhere").c_str(), dangling.c_str()), 0);
  EXPECT_FALSE(KeyProtector::open(dangling, true).ok());
  EXPECT_FALSE(fs::exists(dir_ + "/elsewhere"));
}

TEST_F(KekFile, GroupOrOtherAccessIsRefused) {
  for (mode_t mode : {0640, 0604, 0660, 0610}) {
    ASSERT_EQ(::chmod(kek_.c_str(), mode), 0);
    auto r = KeyProtector::open(kek_, false);
    ASSERT_FALSE(r.ok()) << std::oct << mode;
    EXPECT_EQ(r.error().kind, ErrorKind::kPermissionDenied);
    EXPECT_NE(r.error().message.find("chmod 600"), std::string::npos) << r.error().message;
  }
  ASSERT_EQ(::chmod(kek_.c_str(), 0400), 0);
  EXPECT_TRUE(KeyProtector::open(kek_, false).ok());
}

TEST_F(KekFile, AnotherUsersFileIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give the file away";
  ASSERT_EQ(::chown(kek_.c_str(), 65534, 65534), 0);  // nobody
  auto r = KeyProtector::open(kek_, false);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kPermissionDenied);
  EXPECT_NE(r.error().message.find("another user"), std::string::npos) << r.error().message;
}

TEST_F(KekFile, NotARegularFileIsRefused) {
  const std::string d = dir_ + "/dir.kek";
  ASSERT_EQ(::mkdir(d.c_str(), 0700), 0);
  EXPECT_FALSE(KeyProtector::open(d, false).ok());
}

}  // namespace
}  // namespace ck::store
