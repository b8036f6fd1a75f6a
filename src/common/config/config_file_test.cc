// The shared config format: keys become option defaults, flags and CERTKEEPER_* win,
// every mistake names the file, the line and the key.
#include "common/config/config_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "common/install_layout.h"

namespace ck::config {
namespace {

class ConfigFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ck-config-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    path_ = std::string(tmpl) + "/certkeeper.toml";
    app_.add_option("--store", store_);
    app_.add_option("--state-dir", state_dir_);
    app_.add_option("--threads", threads_)->check(CLI::Range(1, 256));
    app_.add_option("--read-timeout", timeout_);
    app_.add_option("--smb-port", smb_port_);
    app_.add_option("--server", server_)->required();
    app_.add_flag("--once", once_);
    app_.add_option("--log-level", level_)->check(CLI::IsMember({"info", "warn"}));
    program_.table = "server";
    program_.app = &app_;
    program_.free_form.push_back({"drives", [this](const std::vector<Entry>& entries) {
                                    drives_ = entries;
                                    return ok_status();
                                  }});
  }
  void TearDown() override {
    std::remove(path_.c_str());
    ::rmdir(path_.substr(0, path_.rfind('/')).c_str());
    ::unsetenv("CERTKEEPER_THREADS");
  }

  Status load(const std::string& text) {
    std::ofstream(path_, std::ios::binary | std::ios::trunc) << text;
    return apply_config_file(path_, program_);
  }
  void parse(std::vector<std::string> args) {
    args.insert(args.begin(), "prog");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    app_.parse(static_cast<int>(argv.size()), argv.data());
  }
  std::string error_of(const std::string& text) {
    Status s = load(text);
    EXPECT_FALSE(s.ok()) << text;
    return s.ok() ? "" : s.error().message;
  }

  std::string path_;
  CLI::App app_;
  Program program_;
  std::string store_, state_dir_, server_, level_ = "warn";
  int threads_ = 2, smb_port_ = 445;
  double timeout_ = 30;
  bool once_ = false;
  std::vector<Entry> drives_;
};

TEST_F(ConfigFileTest, KeysBecomeDefaultsAndFlagsWin) {
  ASSERT_TRUE(load("# shared\nstore = \"sqlite:/srv/ck.db\"\n[server]\nstate_dir = '/srv/state'\nthreads = 4\n"
                   "read_timeout = 2.5\nonce = true\nserver = \"https://h:1\"\n[agent]\nwhatever = 1\n")
                  .ok());
  EXPECT_EQ(store_, "sqlite:/srv/ck.db");
  EXPECT_EQ(state_dir_, "/srv/state");
  EXPECT_EQ(threads_, 4);
  EXPECT_DOUBLE_EQ(timeout_, 2.5);
  EXPECT_TRUE(once_);
  parse({"--threads", "8"});  // --server came from the file: no "required" error
  EXPECT_EQ(threads_, 8);
  EXPECT_EQ(state_dir_, "/srv/state");
  EXPECT_EQ(server_, "https://h:1");
}

TEST_F(ConfigFileTest, EnvironmentWinsOverTheFileAndLosesToTheFlag) {
  add_environment_names(app_);
  EXPECT_EQ(app_.get_option("--state-dir")->get_envname(), "CERTKEEPER_STATE_DIR");
  ASSERT_TRUE(load("threads = 4\nserver = 'https://h:1'\n").ok());
  ::setenv("CERTKEEPER_THREADS", "6", 1);
  parse({});
  EXPECT_EQ(threads_, 6);
  app_.clear();
  parse({"--threads=7"});
  EXPECT_EQ(threads_, 7);
}

TEST_F(ConfigFileTest, MistakesNameTheFileTheLineAndTheKey) {
  EXPECT_EQ(error_of("store = 'x'\n\nthreds = 3\n"),
            "config " + path_ + ":3: unknown key 'threds' (not a flag of certkeeper-server; see its --help)");
  EXPECT_EQ(error_of("threads = \"4\"\n"), "config " + path_ + ":1: 'threads' must be an integer");
  EXPECT_EQ(error_of("[server]\nonce = 1\n"), "config " + path_ + ":2: 'server.once' must be true or false");
  EXPECT_EQ(error_of("store = 5\n"), "config " + path_ + ":1: 'store' must be a string (in quotes)");
  EXPECT_EQ(error_of("read_timeout = 'soon'\n"), "config " + path_ + ":1: 'read_timeout' must be a number");
  const std::string range = error_of("threads = 999\n");
  EXPECT_EQ(range.rfind("config " + path_ + ":1: 'threads': ", 0), 0u) << range;
  EXPECT_NE(range.find("999"), std::string::npos) << range;
  EXPECT_NE(error_of("log_level = 'loud'\n").find(":1: 'log_level': "), std::string::npos);
  EXPECT_NE(error_of("config = '/etc/other.toml'\n").find("unknown key 'config'"), std::string::npos);
  EXPECT_NE(error_of("[a]\n[a.b]\nc = 1\n").find("nested too deep"), std::string::npos);
  // A shared key the program lacks is skipped only at the top level.
  EXPECT_TRUE(load("log_format = 'json'\n").ok());
  EXPECT_NE(error_of("[server]\nlog_format = 'json'\n").find("unknown key 'server.log_format'"), std::string::npos);
  EXPECT_NE(error_of("backup_dir = '/x'\n").find("unknown key 'backup_dir'"), std::string::npos);
}

TEST_F(ConfigFileTest, OneValuePerKeyAndLevelTheProgramTableOverridesTheTop) {
  EXPECT_EQ(error_of("[server]\nstate_dir = '/a'\nstate-dir = '/b'\n"),
            "config " + path_ + ":3: 'server.state-dir' is set twice (also on line 2)");
  ASSERT_TRUE(load("threads = 3\n[server]\nthreads = 5\nserver = 'https://h:1'\n").ok());
  EXPECT_EQ(threads_, 5);
}

// The file's values may be secrets (a store URL with its password): --help shows the
// built-in default, and help text ends up in man pages.
TEST_F(ConfigFileTest, HelpNeverShowsTheFilesValues) {
  app_.get_option("--store")->default_str("sqlite:./var/certkeeper.db");
  ASSERT_TRUE(load("store = 'postgresql://ck:S3cretPW@db/ck'\nserver = 'https://h:1'\n").ok());
  EXPECT_EQ(store_, "postgresql://ck:S3cretPW@db/ck");
  const std::string help = app_.help();
  EXPECT_EQ(help.find("S3cretPW"), std::string::npos) << help;
  EXPECT_NE(help.find("sqlite:./var/certkeeper.db"), std::string::npos) << help;
}

TEST_F(ConfigFileTest, TablesPrefixTheirKeysAndFreeFormTablesGetEntries) {
  ASSERT_TRUE(load("server = 'https://h:1'\n[smb]\nport = 1445\n").ok());
  EXPECT_EQ(smb_port_, 1445);
  ASSERT_TRUE(load("[server.smb]\nport = 2445\n").ok());
  EXPECT_EQ(smb_port_, 2445);
  ASSERT_TRUE(load("# drives\n[drives]\nZ = '\\\\fs\\certs'\nD = \"/mnt/d\"\n").ok());
  ASSERT_EQ(drives_.size(), 2u);
  EXPECT_EQ(drives_[0].key, "Z");
  EXPECT_EQ(drives_[0].value, "\\\\fs\\certs");
  EXPECT_EQ(drives_[0].line, 3);
  EXPECT_EQ(drives_[1].line, 4);
  EXPECT_NE(error_of("[drives]\nZ = 1\n").find(":2: 'drives.Z' must be a string"), std::string::npos);
}

TEST_F(ConfigFileTest, OnlyTheSubsetTomlppSurvivesIsParsed) {
  for (const char* bad : {"x = [1, 2]\n", "x = { a = 1 }\n", "x = \"\"\"\nmulti\n\"\"\"\n", "x = inf\n",
                          "x = 1979-05-27\n", "[[array]]\n", "x = 'unterminated\n", "\"quoted key\" = 1\n"}) {
    Status s = check_parsable("f.toml", bad);
    EXPECT_FALSE(s.ok()) << bad;
    if (!s.ok()) {
      EXPECT_EQ(s.error().message.rfind("config f.toml:1: ", 0), 0u) << s.error().message;
    }
  }
  for (const char* good : {"x = 1\n", "x = -2_000\n", "x = 0.25\n", "x = 1e3\n", "x = 2.5E-1 # c\n", "x = true\n",
                           "[a.b]\n", "x = 'caf\xc3\xa9'\n", "# \xd0\xb1\n", "  \n"}) {
    EXPECT_TRUE(check_parsable("f.toml", good).ok()) << good;
  }
}

TEST(InstallLayout, InstalledBinariesFindTheirConfigBesideTheirPrefix) {
  auto sys = install_layout_for("/usr/bin/certmgr");
  EXPECT_TRUE(sys.installed);
  EXPECT_EQ(sys.config_file, "/etc/certkeeper/certkeeper.toml");
  EXPECT_EQ(sys.state_dir, "/var/lib/certkeeper");
  auto local = install_layout_for("/usr/local/bin/certkeeper-server");
  EXPECT_EQ(local.config_file, "/usr/local/etc/certkeeper/certkeeper.toml");
  auto unpacked = install_layout_for("/tmp/root/usr/bin/certmgr");  // dpkg -x into /tmp/root
  EXPECT_EQ(unpacked.config_file, "/tmp/root/etc/certkeeper/certkeeper.toml");
  auto tree = install_layout_for("/work/main/build/bin/certmgr");
  EXPECT_FALSE(tree.installed);
  EXPECT_EQ(tree.config_file, "");
  EXPECT_EQ(tree.state_dir, "./var");
  EXPECT_FALSE(install_layout().installed) << "the test runs from a build tree";
}

}  // namespace
}  // namespace ck::config
