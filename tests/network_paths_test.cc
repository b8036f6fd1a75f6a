// Certificate paths on network shares and mapped drives (issue 10, DESIGN.md §10),
// against a real Samba smbd on 127.0.0.1 started by the test: every certmgr path
// argument through a UNC path, an smb:// URL and a mapped drive, and every error an
// administrator can meet — one line, exit 1, the store unchanged, no file left behind.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include <boost/json.hpp>

#include "registry/endpoint_registry.h"
#include "support/process.h"
#include "support/samba_server.h"

namespace ck {
namespace {

namespace fs = std::filesystem;
using testing::run;
using testing::slurp;

const std::string kPassword = "Network-Share-Pa55phrase!";

size_t count_lines(const std::string& s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')); }

// Every file under a folder, name -> content.
std::map<std::string, std::string> snapshot(const std::string& dir) {
  std::map<std::string, std::string> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out[fs::relative(e.path(), dir).string()] = slurp(e.path().string());
  return out;
}

// Names under a folder that look like our temporary files.
std::vector<std::string> leftovers(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().filename().string().find(".tmp-") != std::string::npos ||
        e.path().filename().string().find(".old-") != std::string::npos)
      out.push_back(e.path().string());
  return out;
}

class NetworkPathsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string why;
    samba_ = testing::SambaServer::start(testing::temp_dir("samba"), &why).release();
    if (!samba_) why_ = why;
  }
  static void TearDownTestSuite() {
    delete samba_;
    samba_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(samba_, nullptr) << "cannot start smbd: " << why_;
    dir_ = testing::temp_dir();
    password_file_ = dir_ + "/password";
    std::ofstream(password_file_) << kPassword << "\n";
    ::chmod(password_file_.c_str(), 0600);
    share_ = samba_->share_dir("certs");
    ASSERT_EQ(certmgr({"-c", "--password-file", password_file_}).exit_code, 0);
  }

  std::string store_dir() const { return dir_ + "/store"; }
  std::string port() const { return std::to_string(samba_->port()); }
  std::string unc(const std::string& rest) const { return "\\\\127.0.0.1\\certs\\" + rest; }
  std::string url(const std::string& rest) const { return "smb://127.0.0.1:" + port() + "/certs/" + rest; }

  // certmgr on this test's store, with the SMB port and credentials given as flags.
  testing::ProcessResult certmgr(std::vector<std::string> args, const std::string& store = "",
                                 std::vector<std::string> globals = {}) {
    std::vector<std::string> argv{testing::bin("certmgr"), "--smb-port", port()};
    if (globals.empty()) globals = {"--smb-credentials", samba_->credentials_file()};
    argv.insert(argv.end(), globals.begin(), globals.end());
    argv.insert(argv.end(), args.begin(), args.end());
    testing::RunOptions o;
    o.env["CERTKEEPER_STORE"] = "sqlite:" + (store.empty() ? store_dir() : store) + "/ck.db";
    o.cwd = dir_;
    o.unset_env = {"CERTKEEPER_PASSWORD", "CERTKEEPER_SMB_CREDENTIALS", "CERTKEEPER_CONFIG"};
    return run(argv, o);
  }
  std::vector<std::string> drive_z() const { return {"--smb-credentials", samba_->credentials_file(), "--map-drive", "Z=\\\\127.0.0.1\\certs"}; }

  std::string current_fingerprint(const std::string& store = "") {
    auto r = certmgr({"--json", "status"}, store);
    boost::system::error_code ec;
    auto v = boost::json::parse(r.out, ec);
    if (ec || !v.is_object() || !v.as_object().contains("current")) return "";
    return std::string(v.at("current").at("fingerprint").as_string());
  }

  // An error case: exit 1, one line naming `expected`, the store and the share untouched.
  void expect_clean_failure(const testing::ProcessResult& r, const std::string& expected,
                            const std::map<std::string, std::string>& store_before) {
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_EQ(count_lines(r.err), 1u) << r.err;
    EXPECT_NE(r.err.find(expected), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find(testing::SambaServer::kPassword), std::string::npos) << r.err;
    const auto after = snapshot(store_dir());
    EXPECT_TRUE(after == store_before) << expected << ": the store changed (" << store_before.size() << " files before, "
                                       << after.size() << " after)";
    EXPECT_TRUE(leftovers(share_).empty());
  }

  static testing::SambaServer* samba_;
  static std::string why_;
  std::string dir_, password_file_, share_;
};

testing::SambaServer* NetworkPathsTest::samba_ = nullptr;
std::string NetworkPathsTest::why_;

TEST_F(NetworkPathsTest, ExportThroughUncSmbUrlAndMappedDrive) {
  ASSERT_EQ(certmgr({"-e", dir_ + "/local.dat"}).exit_code, 0);
  const std::string expected = slurp(dir_ + "/local.dat");
  ASSERT_NE(expected.find("BEGIN CERTIFICATE"), std::string::npos);
  fs::create_directories(share_ + "/e1");
  fs::create_directories(share_ + "/e2");
  fs::create_directories(share_ + "/e3/Test");

  auto r = certmgr({"-e", unc("e1\\OfcNTCer.dat")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("wrote \\\\127.0.0.1\\certs\\e1\\OfcNTCer.dat"), std::string::npos) << r.out;
  EXPECT_EQ(slurp(share_ + "/e1/OfcNTCer.dat"), expected);
  // A folder on the share gets OfcNTCer.dat inside, as a local folder does.
  r = certmgr({"-e", url("e2/")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(slurp(share_ + "/e2/OfcNTCer.dat"), expected);
  // The established tool's example, through a drive mapped to the share; the
  // CertificateManager name takes the same command line.
  std::vector<std::string> argv{testing::bin("CertificateManager"), "--smb-port", port()};
  for (const auto& g : drive_z()) argv.push_back(g);
  argv.insert(argv.end(), {"-e", "Z:\\e3\\Test\\OfcNTCer.dat"});
  testing::RunOptions o;
  o.env["CERTKEEPER_STORE"] = "sqlite:" + store_dir() + "/ck.db";
  r = run(argv, o);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(slurp(share_ + "/e3/Test/OfcNTCer.dat"), expected);
  // Replacing an existing file on the share is atomic too: new content, no leftovers.
  std::ofstream(share_ + "/e1/OfcNTCer.dat") << "old";
  ASSERT_EQ(certmgr({"-e", "//127.0.0.1/certs/e1/OfcNTCer.dat"}).exit_code, 0);
  EXPECT_EQ(slurp(share_ + "/e1/OfcNTCer.dat"), expected);
  EXPECT_TRUE(leftovers(share_).empty());
}

TEST_F(NetworkPathsTest, DriveMappedToALocalFolder) {
  fs::create_directories(dir_ + "/mnt/share/Test");
  auto r = certmgr({"--map-drive", "D=" + dir_ + "/mnt/share", "-e", "D:\\Test\\OfcNTCer.dat"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(slurp(dir_ + "/mnt/share/Test/OfcNTCer.dat").find("BEGIN CERTIFICATE"), std::string::npos);
  r = certmgr({"--map-drive", "d=" + dir_ + "/mnt/share", "-l", "d:\\Test\\list.csv"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(slurp(dir_ + "/mnt/share/Test/list.csv").rfind("agent_id,", 0), 0u);
}

TEST_F(NetworkPathsTest, ListMismatchedThroughEachForm) {
  const std::string current = current_fingerprint();
  auto registry = registry::open_endpoint_registry("sqlite:" + store_dir() + "/ck.db");
  ASSERT_TRUE(registry.ok()) << registry.error().message;
  auto ep = [](std::string id, std::string fp) {
    registry::Endpoint e;
    e.agent_id = std::move(id);
    e.hostname = "host-" + e.agent_id;
    e.ip_address = "10.0.0.7";
    e.pinned_fingerprint = std::move(fp);
    e.first_seen = e.last_seen = 1764000000;
    return e;
  };
  ASSERT_TRUE((*registry)->upsert_batch({ep("stale-1", std::string(64, 'a')), ep("fresh", current),
                                         ep("stale-2", std::string(64, 'b'))}).ok());
  registry->reset();
  ASSERT_EQ(certmgr({"-l", dir_ + "/local.csv"}).exit_code, 0);
  const std::string expected = slurp(dir_ + "/local.csv");
  EXPECT_EQ(count_lines(expected), 3u) << expected;  // header + the two stale endpoints

  auto r = certmgr({"-l", unc("list1.csv")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("2 endpoint(s)"), std::string::npos) << r.out;
  EXPECT_EQ(slurp(share_ + "/list1.csv"), expected);
  ASSERT_EQ(certmgr({"-l", url("list2.csv")}).exit_code, 0);
  EXPECT_EQ(slurp(share_ + "/list2.csv"), expected);
  ASSERT_EQ(certmgr({"-l", "Z:\\list3.csv"}, "", drive_z()).exit_code, 0);
  EXPECT_EQ(slurp(share_ + "/list3.csv"), expected);
}

TEST_F(NetworkPathsTest, BackupToShareOpensIn7ZipAndRestoresIntoAFreshStore) {
  const std::string current = current_fingerprint();
  ASSERT_EQ(certmgr({"backup", "--password-file", password_file_, unc("b1.zip")}).exit_code, 0);
  ASSERT_EQ(certmgr({"backup", "--password-file", password_file_, url("b2.zip")}).exit_code, 0);
  ASSERT_EQ(certmgr({"backup", "--password-file", password_file_, "Z:\\b3.zip"}, "", drive_z()).exit_code, 0);
  for (const char* name : {"b1.zip", "b2.zip", "b3.zip"}) {
    const std::string zip = share_ + "/" + name;
    auto t = run({"/bin/sh", "-c", "7z t -p'" + kPassword + "' '" + zip + "'"});
    EXPECT_EQ(t.exit_code, 0) << name << ": " << t.out << t.err;
    EXPECT_NE(t.out.find("Everything is Ok"), std::string::npos) << t.out;
  }
  auto v = certmgr({"verify-backup", "--password-file", password_file_, unc("b1.zip")});
  EXPECT_EQ(v.exit_code, 0) << v.err;
  EXPECT_NE(v.out.find(current), std::string::npos) << v.out;

  // -r from an smb:// URL and -re through a mapped drive, each into a fresh store.
  auto r = certmgr({"-r", "--password-file", password_file_, url("b2.zip")}, dir_ + "/fresh1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(current_fingerprint(dir_ + "/fresh1"), current);
  std::vector<std::string> z = drive_z();
  r = certmgr({"-re", "--password-file", password_file_, "Z:\\b3.zip"}, dir_ + "/fresh2", z);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(current_fingerprint(dir_ + "/fresh2"), current);
  r = certmgr({"-r", "--password-file", password_file_, unc("b1.zip")}, dir_ + "/fresh3");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(current_fingerprint(dir_ + "/fresh3"), current);
}

// -c with a share it cannot use on a store that does not exist yet: not even an empty
// store is left behind. The classic form takes --backup-dir after -c too.
TEST_F(NetworkPathsTest, GenerateWithAnUnusableShareCreatesNoStore) {
  const std::string fresh = dir_ + "/fresh";
  auto r = certmgr({"-c", "--backup-dir", "\\\\127.0.0.1\\nosuch\\b", "--password-file", password_file_}, fresh);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("share \\\\127.0.0.1\\nosuch not found"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(fresh));
  r = certmgr({"-c", "--backup-dir", unc("classic"), "--password-file", password_file_}, fresh);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::is_empty(share_ + "/classic"));
}

// Names with characters a URL would take for syntax reach the share exactly as typed.
TEST_F(NetworkPathsTest, NamesWithPercentHashAndSpacesAreKept) {
  fs::create_directories(share_ + "/odd dir");
  auto r = certmgr({"-e", unc("odd dir\\a%41 b#1.dat")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(share_ + "/odd dir/a%41 b#1.dat"));
  r = certmgr({"-e", url("odd%20dir/c%25d.dat")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(share_ + "/odd dir/c%d.dat"));
  // '..' hidden in escapes does not climb out of a drive mapped to a share folder: in a
  // drive path "%2e%2e" is a folder name like any other (here a missing one).
  r = certmgr({"--map-drive", "D=" + url("odd%20dir"), "-e", "D:\\%2e%2e\\esc.dat"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("folder not found"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(share_ + "/esc.dat"));
}

TEST_F(NetworkPathsTest, GenerateWritesItsBackupToAShareFolder) {
  auto r = certmgr({"--backup-dir", unc("backups\\server1"), "-c", "--password-file", password_file_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("backup written to \\\\127.0.0.1\\certs\\backups\\server1\\certkeeper-"), std::string::npos)
      << r.out;
  size_t zips = 0;
  for (const auto& e : fs::directory_iterator(share_ + "/backups/server1")) {
    ++zips;
    auto t = run({"/bin/sh", "-c", "7z t -p'" + kPassword + "' '" + e.path().string() + "'"});
    EXPECT_EQ(t.exit_code, 0) << t.out;
  }
  EXPECT_EQ(zips, 1u);
}

TEST_F(NetworkPathsTest, ImportOpensslPfxThroughEachForm) {
  const std::string pfx_dir = share_ + "/vendor";
  fs::create_directories(pfx_dir);
  for (int i = 1; i <= 3; ++i) {
    const std::string n = std::to_string(i);
    auto made = run({"/bin/sh", "-c",
                     "cd '" + pfx_dir + "' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                     "-keyout v" + n + ".key -out v" + n + ".crt -days 30 -subj /CN=vendor" + n +
                     " >/dev/null 2>&1 && openssl pkcs12 -export -inkey v" + n + ".key -in v" + n + ".crt -out v" + n +
                     ".pfx -passout pass:'" + kPassword + "' && openssl x509 -in v" + n +
                     ".crt -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum"});
    ASSERT_EQ(made.exit_code, 0) << made.out;
    const std::string fingerprint = made.out.substr(0, 64);
    const std::vector<std::string> forms{unc("vendor\\v1.pfx"), url("vendor/v2.pfx"), "Z:\\vendor\\v3.pfx"};
    auto r = certmgr({"-ine", "--password-file", password_file_, forms[static_cast<size_t>(i - 1)]}, "",
                     i == 3 ? drive_z() : std::vector<std::string>{});
    ASSERT_EQ(r.exit_code, 0) << forms[static_cast<size_t>(i - 1)] << ": " << r.err;
    EXPECT_EQ(current_fingerprint(), fingerprint) << forms[static_cast<size_t>(i - 1)];
  }
}

TEST_F(NetworkPathsTest, ConfigFileDrivesAndSmbTable) {
  fs::create_directories(share_ + "/cfg");
  const std::string config = dir_ + "/certkeeper.toml";
  std::ofstream(config) << "# certmgr settings\n[smb]\ncredentials = \"" << samba_->credentials_file()
                        << "\"\nport = " << port() << "\n\n[drives]\nY = 'smb://127.0.0.1:" << port()
                        << "/certs'\n";
  testing::RunOptions o;
  o.env["CERTKEEPER_STORE"] = "sqlite:" + store_dir() + "/ck.db";
  o.env["CERTKEEPER_CONFIG"] = config;
  auto r = run({testing::bin("certmgr"), "-e", "Y:\\cfg\\OfcNTCer.dat"}, o);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(slurp(share_ + "/cfg/OfcNTCer.dat").find("BEGIN CERTIFICATE"), std::string::npos);
  // CERTKEEPER_SMB_CREDENTIALS instead of the file's setting.
  o.env.erase("CERTKEEPER_CONFIG");
  o.env["CERTKEEPER_SMB_CREDENTIALS"] = samba_->credentials_file();
  r = run({testing::bin("certmgr"), "--smb-port", port(), "-l", unc("cfg\\env.csv")}, o);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(share_ + "/cfg/env.csv"));

  // An unknown key and a wrong type name the key, the file and the line.
  std::ofstream(config) << "[drives]\nY = '/mnt/x'\n[smb]\nport = \"445\"\n";
  o.env["CERTKEEPER_CONFIG"] = config;
  r = run({testing::bin("certmgr"), "status"}, o);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("config " + config + ":4: 'smb.port' must be an integer"), std::string::npos) << r.err;
  std::ofstream(config) << "store = 'sqlite:/tmp/x.db'\nbackup_folder = 'x'\n";
  r = run({testing::bin("certmgr"), "status"}, o);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(":2: unknown key 'backup_folder'"), std::string::npos) << r.err;
  std::ofstream(config) << "[drives]\nD = '/mnt/a'\nd = '/mnt/b'\n";
  r = run({testing::bin("certmgr"), "status"}, o);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(":3: drive d is mapped twice"), std::string::npos) << r.err;
  std::ofstream(config) << "log_level = 'loud'\n";
  r = run({testing::bin("certmgr"), "status"}, o);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(":1: 'log_level': "), std::string::npos) << r.err;
}

TEST_F(NetworkPathsTest, EveryErrorIsOneLineAndChangesNothing) {
  ASSERT_EQ(certmgr({"backup", "--password-file", password_file_, url("good.zip")}).exit_code, 0);
  ASSERT_EQ(certmgr({"-l", "-"}).exit_code, 0);  // the registry file exists from here on
  const auto before = snapshot(store_dir());
  const std::string creds = samba_->credentials_file();
  const std::string wrong = dir_ + "/wrong-credentials";
  std::ofstream(wrong) << "username=" << samba_->user() << "\npassword=not-the-password\n";
  ::chmod(wrong.c_str(), 0600);
  const std::string open_creds = dir_ + "/open-credentials";
  fs::copy_file(creds, open_creds);
  ::chmod(open_creds.c_str(), 0644);

  // A drive with no mapping: an error, and no local file named after the path.
  auto r = certmgr({"-e", "D:\\Test\\OfcNTCer.dat"});
  expect_clean_failure(r, "drive D: is not mapped", before);
  for (const auto& e : fs::directory_iterator(dir_)) EXPECT_EQ(e.path().filename().string().find("D:"), std::string::npos);
  // Unreachable server (nothing listens on port 1).
  r = run({testing::bin("certmgr"), "--smb-port", "1", "--smb-credentials", creds, "-e", unc("x.dat")},
          {.env = {{"CERTKEEPER_STORE", "sqlite:" + store_dir() + "/ck.db"}}});
  expect_clean_failure(r, "cannot reach SMB server 127.0.0.1:1", before);
  // Share not found.
  r = certmgr({"-e", "\\\\127.0.0.1\\nosuch\\x.dat"});
  expect_clean_failure(r, "share \\\\127.0.0.1\\nosuch not found", before);
  // Access denied (a read-only share).
  r = certmgr({"-e", "\\\\127.0.0.1\\readonly\\x.dat"});
  expect_clean_failure(r, "access denied: cannot write \\\\127.0.0.1\\readonly\\x.dat", before);
  EXPECT_TRUE(fs::is_empty(samba_->share_dir("readonly")));
  // Wrong credentials, for a write and for a restore.
  r = certmgr({"-e", unc("x.dat")}, "", {"--smb-credentials", wrong});
  expect_clean_failure(r, "wrong user name or password", before);
  r = certmgr({"-r", "--password-file", password_file_, url("good.zip")}, "", {"--smb-credentials", wrong});
  expect_clean_failure(r, "wrong user name or password", before);
  // No credentials: the server refuses an anonymous logon, and says what to give.
  r = certmgr({"-r", "--password-file", password_file_, url("good.zip")}, "", {"--log-level", "warn"});
  expect_clean_failure(r, "anonymous SMB logon", before);
  // A credentials file others can read is refused before it is used.
  r = certmgr({"-e", unc("x.dat")}, "", {"--smb-credentials", open_creds});
  expect_clean_failure(r, "chmod 600", before);
  // File not found (-r, -ine, verify-backup), folder not found (-l).
  r = certmgr({"-r", "--password-file", password_file_, unc("missing.zip")});
  expect_clean_failure(r, "file not found: \\\\127.0.0.1\\certs\\missing.zip", before);
  r = certmgr({"-ine", "--password-file", password_file_, url("missing.pfx")});
  expect_clean_failure(r, "file not found", before);
  r = certmgr({"-l", unc("no-folder\\list.csv")});
  expect_clean_failure(r, "folder not found: \\\\127.0.0.1\\certs\\no-folder", before);
  // -c with an unreachable backup folder generates nothing.
  r = certmgr({"--backup-dir", "\\\\127.0.0.1\\nosuch\\backups", "-c", "--password-file", password_file_});
  expect_clean_failure(r, "nothing was generated", before);
  // A folder where the file should go is an error, not replaced.
  fs::create_directories(share_ + "/taken.csv");
  r = certmgr({"-l", unc("taken.csv")});
  expect_clean_failure(r, "is a folder, not a file", before);
  EXPECT_TRUE(fs::is_directory(share_ + "/taken.csv"));
  // A write whose final rename fails (the share vetoes the name) removes its temporary
  // file from the share.
  r = certmgr({"-l", "\\\\127.0.0.1\\vetoed\\list.csv"});
  expect_clean_failure(r, "list.csv", before);
  EXPECT_TRUE(fs::is_empty(samba_->share_dir("vetoed")));
  // Credentials in the path are refused (they would end up in argv and logs), and the
  // error does not repeat them.
  r = certmgr({"-e", "smb://" + samba_->user() + ":Url-Pa55word@127.0.0.1/certs/x.dat"});
  expect_clean_failure(r, "--smb-credentials", before);
  EXPECT_EQ(r.err.find("Url-Pa55word"), std::string::npos) << r.err;
  // A backslash path that is not a UNC path is refused, not created locally.
  r = certmgr({"-e", "\\\\\\127.0.0.1\\certs\\x.dat"});
  expect_clean_failure(r, "must be a UNC path", before);
  for (const auto& e : fs::directory_iterator(dir_)) EXPECT_EQ(e.path().filename().string().find('\\'), std::string::npos);
}

}  // namespace
}  // namespace ck
