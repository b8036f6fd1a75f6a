#include "cli/password.h"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

namespace ck::cli {
namespace {

TEST(PasswordStrength, RefusesShortAndGuessablePasswordsWithAReason) {
  auto short_pw = check_password_strength("Ab1!");
  ASSERT_FALSE(short_pw.ok());
  EXPECT_NE(short_pw.error().message.find("fewer than 12"), std::string::npos);

  auto dictionary = check_password_strength("passwordpassword");
  ASSERT_FALSE(dictionary.ok());
  EXPECT_EQ(dictionary.error().kind, ErrorKind::kWeakPassword);
  EXPECT_NE(dictionary.error().message.find("password is too weak"), std::string::npos);

  auto sequence = check_password_strength("abcdefghijklmnop");
  ASSERT_FALSE(sequence.ok());
  EXPECT_NE(sequence.error().message.find("sequence"), std::string::npos) << sequence.error().message;

  auto keyboard = check_password_strength("qwertyuiopasdfgh");
  ASSERT_FALSE(keyboard.ok());
}

TEST(PasswordStrength, AcceptsStrongPassphrase) {
  EXPECT_TRUE(check_password_strength("Tr0ub4dor&3-horse-Staple!9").ok());
  EXPECT_TRUE(check_password_strength("vT7#qLp2$wX9mZk4").ok());
  EXPECT_TRUE(check_password_strength("kq7mz2xw9pla").ok());  // 12 random characters: ~2^60
}

// The backup floor is 2^56 (the ZIP layer is a fast KDF): these passwords (2^43..2^53) passed
// the old 2^33 floor and are refused now.
TEST(PasswordStrength, BackupFloorIsTwoToThe56) {
  for (const char* pw : {"correcthorsebatterystaple", "Purple-Elephant-2019", "Kx9-vacation-2"}) {
    auto r = check_password_strength(pw);
    ASSERT_FALSE(r.ok()) << pw;
    EXPECT_NE(r.error().message.find("need 2^56"), std::string::npos) << r.error().message;
  }
}

class PasswordFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ck_pw_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    ::unlink(path_.c_str());
    ::rmdir(dir_.c_str());
  }
  Result<std::string> read(const std::string& content, mode_t mode) {
    path_ = dir_ + "/pw";
    ::unlink(path_.c_str());
    std::ofstream(path_, std::ios::binary) << content;
    ::chmod(path_.c_str(), mode);
    PasswordOptions o;
    o.file = path_;
    return resolve_password(o);
  }
  std::string dir_, path_;
};

TEST_F(PasswordFile, UsesTheFirstLineOnly) {
  auto two_lines = read("first-line-pw\nsecond line\n", 0600);
  ASSERT_TRUE(two_lines.ok()) << two_lines.error().message;
  EXPECT_EQ(*two_lines, "first-line-pw");
  auto crlf = read("dos-password\r\nmore", 0400);
  ASSERT_TRUE(crlf.ok());
  EXPECT_EQ(*crlf, "dos-password");
  auto no_newline = read("no-newline", 0600);
  ASSERT_TRUE(no_newline.ok());
  EXPECT_EQ(*no_newline, "no-newline");
  auto empty_first = read("\nsecond", 0600);
  ASSERT_FALSE(empty_first.ok());
  EXPECT_EQ(empty_first.error().kind, ErrorKind::kInvalidArgument);
  EXPECT_FALSE(read(std::string(5000, 'x') + "\n", 0600).ok());
}

TEST_F(PasswordFile, RefusesAFileOthersCanReadOrWrite) {
  for (mode_t mode : {0640, 0604, 0644, 0620, 0602}) {
    auto r = read("secret-password\n", mode);
    ASSERT_FALSE(r.ok()) << std::oct << mode;
    EXPECT_EQ(r.error().kind, ErrorKind::kPermissionDenied);
    EXPECT_NE(r.error().message.find("chmod 600"), std::string::npos) << r.error().message;
    EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
  }
}

TEST(PasswordSources, OnlyOneSourceAndEnvironmentFallback) {
  PasswordOptions both;
  both.positional = "a";
  both.from_stdin = true;
  EXPECT_FALSE(resolve_password(both).ok());
  ::unsetenv("CERTKEEPER_PASSWORD");
  EXPECT_FALSE(resolve_password(PasswordOptions{}).ok());
  ::setenv("CERTKEEPER_PASSWORD", "from-env", 1);
  auto env = resolve_password(PasswordOptions{});
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(*env, "from-env");
  ::unsetenv("CERTKEEPER_PASSWORD");
}

}  // namespace
}  // namespace ck::cli
