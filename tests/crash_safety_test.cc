// Crash safety: every certmgr operation that changes the store is killed with SIGKILL at
// every step it takes (the fault points it reports with CK_FAULT_TRACE, killed there with
// CK_FAULT_AT), and afterwards:
//   - the store opens and `certmgr status` works;
//   - it holds the state before or the state after the operation, never a mix
//     (certificates, statuses, generations, rotation statements and the audit log);
//   - every private key it holds decrypts and matches its certificate;
//   - no temporary file is left, and every backup in the backup folder opens;
//   - the operation, run again, succeeds.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <csignal>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "crypto/x509.h"
#include "store/cert_store.h"
#include "support/process.h"

namespace ck::testing {
namespace {
namespace fs = std::filesystem;

constexpr const char* kPassword = "Crash-Safe-Backup-Pass-2026!";

// What one run of an operation must look like from outside.
struct Scenario {
  std::string name;
  // Builds the starting point in `dir` (store in dir/store, inputs in dir/in).
  std::function<void(const std::string& dir)> prepare;
  // certmgr arguments of the operation; "{dir}" is replaced by the folder.
  std::vector<std::string> args;
  // A backup reads the store: its outcomes are "no file" and "a whole file".
  bool changes_store = true;
};

std::string store_url(const std::string& dir) { return "sqlite:" + dir + "/store/ck.db"; }

ProcessResult certmgr(const std::string& dir, std::vector<std::string> args,
                      std::map<std::string, std::string> env = {}) {
  for (auto& a : args) {
    for (size_t at; (at = a.find("{dir}")) != std::string::npos;) a.replace(at, 5, dir);
  }
  args.insert(args.begin(), {bin("certmgr"), "--store", store_url(dir)});
  RunOptions options;
  options.env = std::move(env);
  options.unset_env = {"CERTKEEPER_STORE", "CERTKEEPER_BACKUP_DIR", "CERTKEEPER_CONFIG", "CERTKEEPER_STORE_KEY_FILE",
                       "CK_FAULT_AT", "CK_FAULT_TRACE"};
  options.timeout = std::chrono::seconds(120);
  return run(args, options);
}

void must(const ProcessResult& r, const std::string& what) {
  ASSERT_EQ(r.exit_code, 0) << what << ": " << r.err << r.out;
}

// The store as text: certificates (by generation), rotation statements, audit log.
// Fingerprints the starting store did not hold print as NEW<i> (a generate makes a
// fresh key each run); times are left out. Checks every held key against its
// certificate on the way. A store not created yet reads as an empty one.
std::string describe_store(const std::string& dir, const std::set<std::string>& known_fps) {
  if (!fs::exists(dir + "/store/ck.db")) return "";
  store::StoreOptions options;
  options.create = false;
  auto opened = store::open_cert_store(store_url(dir), options);
  EXPECT_TRUE(opened.ok()) << opened.error().message;
  if (!opened.ok()) return "unopenable";
  std::map<std::string, std::string> renamed;
  auto name = [&](const std::string& fp) {
    if (known_fps.count(fp)) return fp.substr(0, 16);
    auto [it, added] = renamed.emplace(fp, "NEW" + std::to_string(renamed.size()));
    return it->second;
  };
  auto names = [&](const std::string& fps) {
    std::istringstream in(fps);
    std::string fp, out;
    while (in >> fp) out += name(fp) + " ";
    return out;
  };
  std::ostringstream text;
  Status s = (*opened)->read([&](store::CertTxn& t) -> Status {
    CK_ASSIGN_OR_RETURN(auto certs, t.list());
    for (const auto& c : certs) {
      text << "cert " << name(c.fingerprint) << " " << store::status_name(c.status) << " gen=" << c.generation
           << " exportable=" << c.exportable << " key=" << c.has_private_key << " " << c.algorithm << "\n";
      CK_ASSIGN_OR_RETURN(auto cert, crypto::Certificate::parse(c.cert_pem));
      EXPECT_EQ(cert.fingerprint(), c.fingerprint);
      CK_ASSIGN_OR_RETURN(auto key, t.private_key(c.fingerprint));
      EXPECT_EQ(key.has_value(), c.has_private_key) << c.fingerprint;
      if (key) {
        EXPECT_TRUE(cert.matches(*key)) << "the key held for " << c.fingerprint << " is not its key";
      }
    }
    CK_ASSIGN_OR_RETURN(auto rotations, t.rotations());
    for (const auto& r : rotations)
      text << "rotation " << r.generation << " " << name(r.from_fingerprint) << " -> " << name(r.to_fingerprint) << "\n";
    CK_ASSIGN_OR_RETURN(auto audit, t.audit_log());
    for (const auto& a : audit) text << "audit " << a.action << " [" << names(a.fingerprints) << "]\n";
    return ok_status();
  });
  EXPECT_TRUE(s.ok()) << s.error().message;
  return text.str();
}

std::set<std::string> fingerprints_in(const std::string& dir) {
  std::set<std::string> fps;
  if (!fs::exists(dir + "/store/ck.db")) return fps;
  store::StoreOptions options;
  options.create = false;
  auto opened = store::open_cert_store(store_url(dir), options);
  if (!opened.ok()) return fps;
  (void)(*opened)->read([&](store::CertTxn& t) -> Status {
    CK_ASSIGN_OR_RETURN(auto certs, t.list());
    for (const auto& c : certs) fps.insert(c.fingerprint);
    return ok_status();
  });
  return fps;
}

// Every file under `dir` a user could come across, relative; leftovers of an atomic
// write (".NAME.tmp-…", ".NAME.old-…") are what this test hunts.
std::vector<std::string> files_under(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) files.push_back(fs::relative(e.path(), dir).string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<std::string> backups_in(const std::string& dir) {
  std::vector<std::string> zips;
  for (const auto& f : files_under(dir)) {
    if (f.size() > 4 && f.ends_with(".zip") && f.rfind("store/backups/", 0) == 0) zips.push_back(f);
  }
  return zips;
}

// The steps an operation passes, in order, as CK_FAULT_AT values ("name#k" for the k-th
// time a name is reached).
std::vector<std::string> steps_of(const std::string& trace_file) {
  std::vector<std::string> steps;
  std::map<std::string, int> seen;
  std::istringstream in(slurp(trace_file));
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) steps.push_back(line + "#" + std::to_string(++seen[line]));
  }
  return steps;
}

void copy_tree(const std::string& from, const std::string& to) {
  fs::create_directories(to);
  fs::copy(from, to, fs::copy_options::recursive);
}

void make_pfx(const std::string& dir) {
  fs::create_directories(dir + "/in");
  must(run({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", dir + "/in/key.pem", "-out", dir + "/in/cert.pem", "-days", "365", "-subj", "/CN=Crash Test"}),
       "openssl req");
  must(run({"/usr/bin/openssl", "pkcs12", "-export", "-inkey", dir + "/in/key.pem", "-in", dir + "/in/cert.pem",
            "-out", dir + "/in/import.pfx", "-passout", std::string("pass:") + kPassword}),
       "openssl pkcs12");
}

std::vector<Scenario> scenarios() {
  auto generate_once = [](const std::string& dir) { must(certmgr(dir, {"-c", kPassword}), "-c"); };
  return {
      {"GenerateIntoEmptyStore", [](const std::string&) {}, {"-c", kPassword}},
      {"GenerateReplacingCurrent", generate_once, {"-c", kPassword}},
      {"GenerateRevokingPrevious", generate_once, {"generate", kPassword, "--revoke-previous"}},
      {"Import",
       [&](const std::string& dir) {
         generate_once(dir);
         make_pfx(dir);
       },
       {"-ine", kPassword, "{dir}/in/import.pfx"}},
      {"Restore",
       [&](const std::string& dir) {
         generate_once(dir);
         generate_once(dir);
         auto zips = backups_in(dir);
         ASSERT_FALSE(zips.empty());
         fs::create_directories(dir + "/in");
         fs::copy_file(dir + "/" + zips.back(), dir + "/in/restore.zip");
         generate_once(dir);  // a certificate the backup lacks: restore saves it first
       },
       {"-r", kPassword, "{dir}/in/restore.zip"}},
      {"Revoke",
       [&](const std::string& dir) {
         generate_once(dir);
         auto fps = fingerprints_in(dir);
         generate_once(dir);
         ASSERT_EQ(fps.size(), 1u);
         std::ofstream(dir + "/in.fp") << *fps.begin();
       },
       {"revoke", "@retired"}},
      {"Backup", generate_once, {"backup", kPassword, "{dir}/out/store-backup.zip"}, /*changes_store=*/false},
  };
}

class CrashSafetyTest : public ::testing::TestWithParam<Scenario> {};

TEST_P(CrashSafetyTest, KilledAtEveryStepLeavesTheStateBeforeOrAfter) {
  const Scenario& sc = GetParam();
  // The binaries must honour CK_FAULT_AT, or this test would prove nothing.
  const std::string base = temp_dir(sc.name) + "/base";
  fs::create_directories(base + "/out");
  ASSERT_NO_FATAL_FAILURE(sc.prepare(base));
  std::vector<std::string> args = sc.args;
  if (args == std::vector<std::string>{"revoke", "@retired"}) args = {"revoke", slurp(base + "/in.fp")};

  const std::set<std::string> known = fingerprints_in(base);
  const std::string before = describe_store(base, known);
  const auto files_before = files_under(base);
  const size_t backups_before = backups_in(base).size();

  // One clean run, traced: the steps, and the state after.
  const std::string traced = fs::path(base).parent_path().string() + "/traced";
  copy_tree(base, traced);
  const std::string trace_file = fs::path(base).parent_path().string() + "/trace.txt";
  must(certmgr(traced, args, {{"CK_FAULT_TRACE", trace_file}}), "traced run");
  const std::string after = describe_store(traced, known);
  if (sc.changes_store) {
    ASSERT_NE(before, after) << "the operation changed nothing in the store";
  }
  const std::vector<std::string> steps = steps_of(trace_file);
  ASSERT_GE(steps.size(), 3u) << "too few fault points reached: is CK_FAULT_INJECTION compiled in?\n"
                              << slurp(trace_file);

  int ended_before = 0, ended_after = 0;
  for (size_t i = 0; i < steps.size(); ++i) {
    SCOPED_TRACE("killed at " + steps[i]);
    const std::string dir = fs::path(base).parent_path().string() + "/kill-" + std::to_string(i);
    copy_tree(base, dir);
    ProcessResult killed = certmgr(dir, args, {{"CK_FAULT_AT", steps[i]}});
    ASSERT_FALSE(killed.timed_out) << "hung instead of reaching the step";
    ASSERT_EQ(killed.exit_code, 128 + SIGKILL) << "not killed at the step: " << killed.err << killed.out;

    const std::string state = describe_store(dir, known);
    EXPECT_TRUE(state == before || state == after) << "a mixed state:\n" << state << "\nbefore:\n"
                                                   << before << "\nafter:\n" << after;
    const bool wrote_backup = fs::exists(dir + "/out/store-backup.zip");
    (sc.changes_store ? state == before : !wrote_backup) ? ++ended_before : ++ended_after;
    if (fs::exists(dir + "/store/ck.db")) must(certmgr(dir, {"status"}), "status after the kill");

    // A kill between naming a temporary and renaming it may leave one hidden
    // ".NAME.tmp-<pid>-…" file (the next write into that folder removes it); nothing else.
    const std::regex our_temp(R"((^|/)\.[^/]+\.tmp-[0-9]+-[0-9a-f]{16}$)");
    for (const auto& f : files_under(dir)) {
      if (std::regex_search(f, our_temp)) continue;
      EXPECT_EQ(f.find(".tmp-"), std::string::npos) << "temporary file left: " << f;
      EXPECT_EQ(f.find(".old-"), std::string::npos) << "temporary file left: " << f;
    }
    // A backup is there whole or not at all: every one in the folder opens.
    auto backups = backups_in(dir);
    EXPECT_LE(backups.size(), backups_before + 1);
    for (const auto& zip : backups) {
      if (std::find(files_before.begin(), files_before.end(), zip) != files_before.end()) continue;
      must(certmgr(dir, {"verify-backup", kPassword, dir + "/" + zip}), "new backup " + zip);
    }
    if (wrote_backup)
      must(certmgr(dir, {"verify-backup", kPassword, dir + "/out/store-backup.zip"}), "the backup written");

    // Nothing is wedged: the operation, run again, works (an import or a revoke already
    // done says so), and leaves no temporary file at all.
    ProcessResult again = certmgr(dir, args);
    for (const auto& f : files_under(dir)) EXPECT_EQ(f.find(".tmp-"), std::string::npos) << "left after a rerun: " << f;
    if (state == after && (args[0] == "revoke" || args[0] == "-ine")) {
      EXPECT_EQ(again.exit_code, 1) << again.err;
      EXPECT_NE(again.err.find("already"), std::string::npos) << again.err;
    } else {
      EXPECT_EQ(again.exit_code, 0) << again.err << again.out;
    }
    fs::remove_all(dir);
  }
  // Both outcomes happen: the kill points straddle the commit.
  EXPECT_GT(ended_before, 0);
  EXPECT_GT(ended_after, 0);
  RecordProperty("steps", static_cast<int>(steps.size()));
}

INSTANTIATE_TEST_SUITE_P(Operations, CrashSafetyTest, ::testing::ValuesIn(scenarios()),
                         [](const ::testing::TestParamInfo<Scenario>& p) { return p.param.name; });

}  // namespace
}  // namespace ck::testing
