#include "cli/password.h"

#include <gtest/gtest.h>

#include <cstdlib>

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
