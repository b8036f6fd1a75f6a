#include "common/paths/smb_credentials.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

namespace ck::paths {
namespace {

TEST(SmbCredentials, MountCifsFormat) {
  auto c = parse_smb_credentials("# for the backups\nusername=backup\npassword= pass with spaces=\ndomain=CORP\n", "f");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->username, "backup");
  EXPECT_EQ(c->password, " pass with spaces=");
  EXPECT_EQ(c->domain, "CORP");
  auto short_keys = parse_smb_credentials("user=CORP\\admin\r\npass=x\r\n", "f");
  ASSERT_TRUE(short_keys.ok()) << short_keys.error().message;
  EXPECT_EQ(short_keys->username, "admin");
  EXPECT_EQ(short_keys->domain, "CORP");
  EXPECT_EQ(short_keys->password, "x");
}

TEST(SmbCredentials, ErrorsNameTheLineAndNeverThePassword) {
  auto unknown = parse_smb_credentials("username=a\npassword=hunter2\nsecret=1\n", "creds");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("creds:3"), std::string::npos);
  EXPECT_EQ(unknown.error().message.find("hunter2"), std::string::npos);
  EXPECT_FALSE(parse_smb_credentials("password=x\n", "f").ok());
  EXPECT_FALSE(parse_smb_credentials("username=a\n", "f").ok());
  EXPECT_FALSE(parse_smb_credentials("username=a\nnonsense\n", "f").ok());
}

TEST(SmbCredentials, FileReadableByOthersIsRefused) {
  char dir_template[] = "/tmp/ck-creds-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  const std::string path = std::string(dir_template) + "/creds";
  std::ofstream(path) << "username=a\npassword=b\n";
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  auto open = read_smb_credentials(path);
  ASSERT_FALSE(open.ok());
  EXPECT_EQ(open.error().kind, ErrorKind::kPermissionDenied);
  EXPECT_NE(open.error().message.find("chmod 600"), std::string::npos);
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  auto closed = read_smb_credentials(path);
  ASSERT_TRUE(closed.ok()) << closed.error().message;
  EXPECT_EQ(closed->username, "a");
  ::unlink(path.c_str());
  ::rmdir(dir_template);
}

}  // namespace
}  // namespace ck::paths
