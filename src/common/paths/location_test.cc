#include "common/paths/location.h"

#include <gtest/gtest.h>

namespace ck::paths {
namespace {

Location must(std::string_view given, const DriveMap& drives = {}) {
  auto loc = resolve_location(given, drives);
  EXPECT_TRUE(loc.ok()) << given << ": " << (loc.ok() ? "" : loc.error().message);
  return loc.ok() ? *loc : Location{};
}

std::string error_of(std::string_view given, const DriveMap& drives = {}) {
  auto loc = resolve_location(given, drives);
  EXPECT_FALSE(loc.ok()) << given << " resolved";
  return loc.ok() ? "" : loc.error().message;
}

TEST(Location, LocalPathsStayAsTyped) {
  Location loc = must("var/backup.zip");
  EXPECT_FALSE(loc.on_share());
  EXPECT_EQ(loc.local, "var/backup.zip");
  EXPECT_EQ(must("/abs/x.csv").local, "/abs/x.csv");
  EXPECT_EQ(must("./a\\b").local, "./a\\b");  // a legal (odd) local name, not a network path
}

TEST(Location, BackslashUncPath) {
  Location loc = must("\\\\fileserver\\share\\Test\\OfcNTCer.dat");
  ASSERT_TRUE(loc.on_share());
  EXPECT_EQ(loc.smb->server, "fileserver");
  EXPECT_EQ(loc.smb->share, "share");
  EXPECT_EQ(loc.smb->path, "Test/OfcNTCer.dat");
  EXPECT_EQ(loc.smb->port, 0);
  EXPECT_EQ(loc.smb->url(445), "smb://fileserver:445/share/Test/OfcNTCer.dat");
  EXPECT_EQ(loc.smb->url(4450), "smb://fileserver:4450/share/Test/OfcNTCer.dat");
  EXPECT_EQ(loc.given, "\\\\fileserver\\share\\Test\\OfcNTCer.dat");
}

TEST(Location, SlashUncPathAndSmbUrl) {
  Location unc = must("//127.0.0.1/certs/dir/file.zip");
  ASSERT_TRUE(unc.on_share());
  EXPECT_EQ(unc.smb->server, "127.0.0.1");
  EXPECT_EQ(unc.smb->path, "dir/file.zip");
  Location url = must("smb://127.0.0.1:4455/certs/dir/file.zip");
  ASSERT_TRUE(url.on_share());
  EXPECT_EQ(url.smb->port, 4455);
  EXPECT_EQ(url.smb->share, "certs");
  EXPECT_EQ(url.smb->url(445), "smb://127.0.0.1:4455/certs/dir/file.zip");
  // A port the path names wins over --smb-port, 445 included.
  EXPECT_EQ(must("smb://h:445/s/f").smb->url(4450), "smb://h:445/s/f");
  EXPECT_EQ(must("SMB://host/share").smb->path, "");
}

TEST(Location, NamesReachTheShareExactlyAsTyped) {
  // libsmbclient decodes %XX and takes '?' for options: names go in encoded.
  EXPECT_EQ(must("\\\\h\\s\\a%41 b#?.dat").smb->url(445), "smb://h:445/s/a%2541%20b%23%3F.dat");
  // An smb:// URL is decoded first, so the checks see what the share will see.
  Location url = must("smb://h/s/dir%20one/f%25.dat");
  EXPECT_EQ(url.smb->path, "dir one/f%.dat");
  EXPECT_NE(error_of("smb://h/s/%2e%2e/x").find("'..'"), std::string::npos);
  EXPECT_NE(error_of("smb://h/s/a%2Fb").find("escaped separator"), std::string::npos);
  EXPECT_NE(error_of("smb://h/s/a%zz").find("%-escape"), std::string::npos);
}

TEST(Location, Ipv6Servers) {
  Location url = must("smb://[::1]:4450/certs/f");
  EXPECT_EQ(url.smb->server, "::1");
  EXPECT_EQ(url.smb->port, 4450);
  EXPECT_EQ(url.smb->url(445), "smb://[::1]:4450/certs/f");
  EXPECT_EQ(must("smb://[fe80::1]/s/f").smb->host(445), "[fe80::1]:445");
  EXPECT_EQ(must("\\\\::1\\s\\f").smb->server, "::1");
  EXPECT_NE(error_of("smb://::1/s/f").find("brackets"), std::string::npos);
  EXPECT_NE(error_of("\\\\host:4450\\s\\f").find("names no port"), std::string::npos);
}

TEST(Location, BackslashPathsThatAreNotUncAreErrors) {
  EXPECT_NE(error_of("\\x.dat").find("must be a UNC path"), std::string::npos);
  EXPECT_NE(error_of("\\\\\\server\\share\\x").find("must be a UNC path"), std::string::npos);
  EXPECT_FALSE(must("///srv/x").on_share());  // POSIX: the same as /srv/x
}

TEST(Location, CredentialsInAUrlAreRefusedWithoutRepeatingThem) {
  const std::string message = error_of("smb://admin:S3cretPw@h/s/f");
  EXPECT_NE(message.find("--smb-credentials"), std::string::npos);
  EXPECT_EQ(message.find("S3cretPw"), std::string::npos) << message;
  EXPECT_EQ(message.find("admin"), std::string::npos) << message;
}

TEST(Location, MalformedNetworkPathsAreErrors) {
  EXPECT_NE(error_of("\\\\server").find("needs a server and a share"), std::string::npos);
  EXPECT_NE(error_of("smb://server").find("needs a share"), std::string::npos);
  EXPECT_NE(error_of("smb://user:pw@server/share/f").find("--smb-credentials"), std::string::npos);
  EXPECT_NE(error_of("smb://server:99999/share/f").find("invalid port"), std::string::npos);
  EXPECT_NE(error_of("\\\\?\\C:\\x").find("device paths"), std::string::npos);
  EXPECT_NE(error_of("\\\\srv\\share\\..\\other\\f").find("'..'"), std::string::npos);
  EXPECT_NE(error_of("\\\\srv\\share\\a\nb").find("control character"), std::string::npos);
}

TEST(Location, UnmappedDriveIsAnErrorNeverALocalFile) {
  const std::string message = error_of("D:\\Test\\OfcNTCer.dat");
  EXPECT_NE(message.find("drive D: is not mapped"), std::string::npos) << message;
  EXPECT_NE(message.find("--map-drive D="), std::string::npos) << message;
  EXPECT_TRUE(is_network_or_drive_path("d:/x"));
  EXPECT_TRUE(is_network_or_drive_path("\\\\s\\h\\f"));
  EXPECT_FALSE(is_network_or_drive_path("dir/d:x"));
}

TEST(Location, DriveMapToLocalFolderAndToShare) {
  DriveMap drives;
  ASSERT_TRUE(add_drive_mapping("D=/mnt/share", drives).ok());
  ASSERT_TRUE(add_drive_mapping("z:=\\\\files\\certs\\base", drives).ok());
  Location local = must("d:\\Test\\OfcNTCer.dat", drives);
  EXPECT_FALSE(local.on_share());
  EXPECT_EQ(local.local, "/mnt/share/Test/OfcNTCer.dat");
  EXPECT_EQ(local.given, "d:\\Test\\OfcNTCer.dat");
  Location share = must("Z:\\Test\\TrendMicro.zip", drives);
  ASSERT_TRUE(share.on_share());
  EXPECT_EQ(share.smb->share, "certs");
  EXPECT_EQ(share.smb->path, "base/Test/TrendMicro.zip");
  EXPECT_EQ(must("Z:", drives).smb->path, "base");
  EXPECT_NE(error_of("D:\\..\\etc\\passwd", drives).find("'..'"), std::string::npos);
}

TEST(Location, BadDriveMappings) {
  DriveMap drives;
  EXPECT_FALSE(add_drive_mapping("D/mnt", drives).ok());
  EXPECT_FALSE(add_drive_mapping("DD=/mnt", drives).ok());
  EXPECT_FALSE(add_drive_mapping("1=/mnt", drives).ok());
  EXPECT_FALSE(add_drive_mapping("D=", drives).ok());
  EXPECT_FALSE(add_drive_mapping("D=relative/folder", drives).ok());
  EXPECT_FALSE(add_drive_mapping("D=E:\\x", drives).ok());
  EXPECT_TRUE(drives.empty());
}

TEST(Location, ChildAndParent) {
  Location folder = must("\\\\srv\\share\\dir");
  Location file = folder.child("OfcNTCer.dat");
  EXPECT_EQ(file.smb->path, "dir/OfcNTCer.dat");
  EXPECT_EQ(file.given, "\\\\srv\\share\\dir\\OfcNTCer.dat");
  EXPECT_EQ(file.file_name(), "OfcNTCer.dat");
  EXPECT_EQ(file.parent().smb->path, "dir");
  EXPECT_EQ(must("//srv/share/a/b/c").parent().given, "\\\\srv\\share\\a\\b");
  EXPECT_EQ(must("/a/b").child("c").local, "/a/b/c");
  EXPECT_EQ(must("/a/b").parent().local, "/a");
  EXPECT_EQ(must("b").parent().local, ".");
}

}  // namespace
}  // namespace ck::paths
