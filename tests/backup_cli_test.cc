// certmgr backup / restore (-r, -re) / verify-backup / the -c backup, run as an
// administrator would: the real binary, real files, 7-Zip and the openssl tool on the
// other side. Every bad input must fail with one line, exit 1, and leave every byte
// of the store as it was.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <zip.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include "archive/manifest.h"
#include "archive/test_zip.h"
#include "archive/zip_reader.h"
#include "archive/zip_writer.h"
#include "crypto/x509.h"
#include "archive/test_pfx.h"
#include "crypto/key.h"
#include "store/cert_operations.h"
#include "store/cert_store.h"
#include "support/process.h"

namespace ck {
namespace {

using testing::ProcessResult;
using testing::RunOptions;
namespace fs = std::filesystem;
namespace json = boost::json;

const std::string kPassword = "Backup-Pa55phrase-7zip!";

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void spit(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << data;
}

size_t count_lines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

// Every file under a folder, name -> content (the store's database, key file, WAL...).
std::map<std::string, std::string> snapshot_dir(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out[fs::relative(e.path(), dir).string()] = slurp(e.path().string());
  return out;
}

struct StoreDump {
  std::vector<store::CertRecord> certs;
  std::vector<store::RotationRecord> rotations;
  std::vector<std::string> keys;  // fingerprints whose private key is held
};

StoreDump dump_store(const std::string& db) {
  StoreDump d;
  store::StoreOptions options;
  options.create = false;
  auto s = store::open_cert_store("sqlite:" + db, options);
  EXPECT_TRUE(s.ok()) << s.error().message;
  if (!s.ok()) return d;
  EXPECT_TRUE((*s)->read([&](store::CertTxn& t) -> Status {
                    CK_ASSIGN_OR_RETURN(d.certs, t.list());
                    CK_ASSIGN_OR_RETURN(d.rotations, t.rotations());
                    for (const auto& c : d.certs) {
                      CK_ASSIGN_OR_RETURN(auto key, t.private_key(c.fingerprint));
                      if (key) d.keys.push_back(c.fingerprint);
                    }
                    return ok_status();
                  })
                  .ok());
  return d;
}

class BackupCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::temp_dir();
    env_.unset_env = {"CERTKEEPER_PASSWORD", "CERTKEEPER_STORE", "CERTKEEPER_STORE_KEY_FILE"};
  }

  std::string db(const std::string& name) const { return dir_ + "/" + name + "/ck.db"; }

  ProcessResult certmgr(const std::string& store, std::vector<std::string> args,
                        RunOptions options) {
    args.insert(args.begin(), {testing::bin("certmgr"), "--store", "sqlite:" + db(store)});
    return testing::run(args, options);
  }
  ProcessResult certmgr(const std::string& store, std::vector<std::string> args) {
    return certmgr(store, std::move(args), env_);
  }
  ProcessResult sh(const std::string& command) {
    return testing::run({"/bin/sh", "-c", command}, env_);
  }

  // A store whose three generated certificates form a rotation chain.
  std::vector<std::string> generate(const std::string& store, int n) {
    std::vector<std::string> fps;
    for (int i = 0; i < n; ++i) {
      auto r = certmgr(store, {"-c", kPassword});
      EXPECT_EQ(r.exit_code, 0) << r.err;
      std::smatch m;
      EXPECT_TRUE(std::regex_search(r.out, m, std::regex("generated ([0-9a-f]{64})"))) << r.out;
      fps.push_back(m[1]);
    }
    return fps;
  }

  json::object status(const std::string& store) {
    auto r = certmgr(store, {"--json", "status"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto v = json::parse(r.out).as_object();
    v.erase("store");  // the location differs by design
    return v;
  }

  std::string backup(const std::string& store, const std::string& name) {
    const std::string path = dir_ + "/" + name;
    auto r = certmgr(store, {"backup", kPassword, path});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return path;
  }

  // Runs `args` (which fail) and checks: exit 1, one line on stderr naming `needle`,
  // and every byte of the store unchanged.
  void expect_rejected(const std::string& store, const std::vector<std::string>& args,
                       const std::string& needle) {
    const auto before = snapshot_dir(dir_ + "/" + store);
    auto r = certmgr(store, args);
    EXPECT_EQ(r.exit_code, 1) << args[0] << " " << args.back() << ": " << r.err;
    EXPECT_EQ(count_lines(r.err), 1u) << r.err;
    EXPECT_EQ(r.err.rfind("certmgr: error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos)
        << "expected \"" << needle << "\" in: " << r.err;
    EXPECT_TRUE(before == snapshot_dir(dir_ + "/" + store)) << "the store changed: " << args.back();
  }

  std::string dir_;
  RunOptions env_;
};

void expect_same_store(const StoreDump& a, const StoreDump& b) {
  ASSERT_EQ(a.certs.size(), b.certs.size());
  for (size_t i = 0; i < a.certs.size(); ++i) {
    EXPECT_EQ(a.certs[i].fingerprint, b.certs[i].fingerprint);
    EXPECT_EQ(a.certs[i].status, b.certs[i].status);
    EXPECT_EQ(a.certs[i].generation, b.certs[i].generation);
    EXPECT_EQ(a.certs[i].cert_pem, b.certs[i].cert_pem);
  }
  ASSERT_EQ(a.rotations.size(), b.rotations.size());
  for (size_t i = 0; i < a.rotations.size(); ++i) {
    EXPECT_EQ(a.rotations[i].generation, b.rotations[i].generation);
    EXPECT_EQ(a.rotations[i].from_fingerprint, b.rotations[i].from_fingerprint);
    EXPECT_EQ(a.rotations[i].to_fingerprint, b.rotations[i].to_fingerprint);
    EXPECT_EQ(a.rotations[i].by_old, b.rotations[i].by_old);
    EXPECT_EQ(a.rotations[i].by_new, b.rotations[i].by_new);
  }
  EXPECT_EQ(a.keys, b.keys);
}

TEST_F(BackupCliTest, RoundTripKeepsStatusesAndTheChain) {
  auto fps = generate("a", 3);
  const std::string zip = backup("a", "all.zip");
  EXPECT_EQ(fs::status(zip).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);

  auto r = certmgr("b", {"-r", kPassword, zip});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("restored 3 certificates"), std::string::npos) << r.out;
  EXPECT_EQ(status("a"), status("b"));
  const auto a = dump_store(db("a"));
  const auto b = dump_store(db("b"));
  expect_same_store(a, b);
  ASSERT_EQ(b.rotations.size(), 2u);
  EXPECT_EQ(b.rotations[1].to_fingerprint, fps[2]);
  for (const auto& c : b.certs) EXPECT_TRUE(c.exportable);

  // The restored store carries on: its next certificate is generation 4.
  auto next = generate("b", 1);
  EXPECT_EQ(dump_store(db("b")).certs.back().generation, 4);

  // Restoring over a store that holds other certificates replaces them all.
  generate("c", 2);
  const auto c_before = dump_store(db("c"));
  auto over = certmgr("c", {"restore", kPassword, zip});
  ASSERT_EQ(over.exit_code, 0) << over.err;
  expect_same_store(a, dump_store(db("c")));
  // ...after saving what it replaces, so no key is ever lost.
  std::smatch saved;
  ASSERT_TRUE(std::regex_search(over.out, saved,
                                std::regex("saved first to (\\S+before-restore\\S+\\.zip)")))
      << over.out;
  ASSERT_EQ(certmgr("d", {"restore", kPassword, saved[1]}).exit_code, 0);
  expect_same_store(c_before, dump_store(db("d")));
  // Restoring the same backup again drops nothing, so no second safety copy.
  auto again = certmgr("c", {"restore", kPassword, zip});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out.find("saved first"), std::string::npos) << again.out;
}

TEST_F(BackupCliTest, GenerateWritesARestorableBackup) {
  auto fps = generate("a", 2);
  const std::string backups = dir_ + "/a/backups";
  EXPECT_EQ(fs::status(backups).permissions() & fs::perms::all, fs::perms::owner_all);
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(backups)) files.push_back(e.path().string());
  ASSERT_EQ(files.size(), 2u);
  auto latest = std::find_if(files.begin(), files.end(), [&](const std::string& f) {
    return f.find(fps[1].substr(0, 12)) != std::string::npos;
  });
  ASSERT_NE(latest, files.end());
  EXPECT_TRUE(std::regex_search(
      *latest, std::regex("/certkeeper-[0-9]{8}T[0-9]{6}Z-" + fps[1].substr(0, 12) + "\\.zip$")))
      << *latest;
  EXPECT_EQ(fs::status(*latest).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  auto r = certmgr("b", {"-r", kPassword, *latest});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(status("a"), status("b"));

  // A weak password is refused before anything is generated.
  auto weak = certmgr("a", {"-c", "password1"});
  EXPECT_EQ(weak.exit_code, 1);
  EXPECT_EQ(dump_store(db("a")).certs.size(), 2u);
}

// When -c's backup folder cannot be used, -c says so on one line, exits 1 and changes
// nothing (the folder is checked before the certificate is generated).
TEST_F(BackupCliTest, GenerateWhoseBackupFolderIsUnusableChangesNothing) {
  fs::create_directories(dir_ + "/a");
  ASSERT_EQ(certmgr("a", {"-c", kPassword}).exit_code, 0);
  const auto before = dump_store(db("a"));
  fs::remove_all(dir_ + "/a/backups");
  spit(dir_ + "/a/backups", "a file where the backup folder should be");
  auto r = certmgr("a", {"-c", kPassword});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(count_lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("nothing was generated"), std::string::npos) << r.err;
  auto d = dump_store(db("a"));
  ASSERT_EQ(d.certs.size(), before.certs.size());
  EXPECT_EQ(d.certs[0].fingerprint, before.certs[0].fingerprint);
  EXPECT_EQ(d.certs[0].status, store::CertStatus::kCurrent);
}

// Restoring over an imported (not exportable) key that the backup lacks: it cannot be
// saved, so restore says that it removes it.
TEST_F(BackupCliTest, RestoreWarnsAboutANotExportableKeyItRemoves) {
  generate("a", 1);
  const std::string zip = backup("a", "a.zip");
  auto g = sh("cd " + dir_ +
              " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes " +
              "-keyout v.key -out v.crt -days 30 -subj /CN=vendor 2>&1 && openssl pkcs12 -export " +
              "-inkey v.key -in v.crt -passout pass:'" + kPassword + "' -out v.pfx");
  ASSERT_EQ(g.exit_code, 0) << g.out;
  ASSERT_EQ(certmgr("b", {"-ine", kPassword, dir_ + "/v.pfx"}).exit_code, 0);
  auto r = certmgr("b", {"-r", kPassword, zip});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("is not exportable and not in the backup"), std::string::npos) << r.err;
  EXPECT_EQ(status("a"), status("b"));
}

TEST_F(BackupCliTest, RestoreNoExportAndItsBackupCarriesNoKeys) {
  generate("a", 3);
  const std::string zip = backup("a", "all.zip");
  auto r = certmgr("b", {"-re", kPassword, zip});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("not exportable"), std::string::npos);
  auto st = status("b");
  for (const auto& c : st["certificates"].as_array())
    EXPECT_FALSE(c.as_object().at("exportable").as_bool());
  EXPECT_EQ(dump_store(db("b")).keys.size(), 3u);  // the keys are there, just not exportable

  const std::string again = dir_ + "/again.zip";
  auto b = certmgr("b", {"backup", kPassword, again});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_NE(b.out.find("0 private keys"), std::string::npos) << b.out;
  EXPECT_NE(b.out.find("is not exportable"), std::string::npos) << b.out;
  EXPECT_NE(b.err.find("cannot restore a working store"), std::string::npos) << b.err;
  auto entries = archive::read_zip_entries(slurp(again), kPassword);
  ASSERT_TRUE(entries.ok()) << entries.error().message;
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].name, "manifest.json");
  EXPECT_EQ(certmgr("c", {"verify-backup", kPassword, again}).exit_code, 1);
}

TEST_F(BackupCliTest, RestoreNeverBringsBackARevokedKey) {
  auto fps = generate("a", 1);
  const std::string old_zip = backup("a", "old.zip");
  // The key leaks: replace and revoke it, then someone restores the old backup.
  ASSERT_EQ(certmgr("a", {"generate", "--revoke-previous", kPassword}).exit_code, 0);
  // The store holds a certificate the backup lacks, yet no safety backup is written
  // for a restore that is refused anyway.
  expect_rejected("a", {"-r", kPassword, old_zip}, "is revoked in this store");

  // A backup that lists a since-revoked key as retired restores it as revoked.
  auto b = generate("b", 2);
  const std::string b_zip = backup("b", "b.zip");
  ASSERT_EQ(certmgr("b", {"revoke", b[0]}).exit_code, 0);
  auto restored = certmgr("b", {"-r", kPassword, b_zip});
  ASSERT_EQ(restored.exit_code, 0) << restored.err;
  auto status_of = [&](const std::string& store) {
    std::map<std::string, std::string> out;
    const json::object st = status(store);
    for (const auto& cert : st.at("certificates").as_array())
      out[std::string(cert.at("fingerprint").as_string())] = std::string(cert.at("status").as_string());
    return out;
  };
  EXPECT_EQ(status_of("b")[b[0]], "revoked");
  EXPECT_EQ(status_of("b")[b[1]], "current");

  // Revoked keys the backup does not know are kept as revoked.
  auto other = generate("c", 1);
  const std::string c_zip = backup("c", "c.zip");
  auto after = certmgr("b", {"-r", kPassword, c_zip});
  ASSERT_EQ(after.exit_code, 0) << after.err;
  auto final_status = status_of("b");
  EXPECT_EQ(final_status[b[0]], "revoked");
  EXPECT_EQ(final_status[other[0]], "current");
  EXPECT_EQ(final_status.count(b[1]), 0u);
}

TEST_F(BackupCliTest, VerifyBackupReportsAndChangesNothing) {
  auto fps = generate("a", 3);
  const std::string zip = backup("a", "all.zip");
  const auto before = snapshot_dir(dir_ + "/a");
  auto text = certmgr("a", {"verify-backup", kPassword, zip});
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("ok: every entry decrypts"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("current  " + fps[2]), std::string::npos) << text.out;
  auto js = certmgr("a", {"--json", "verify-backup", kPassword, zip});
  ASSERT_EQ(js.exit_code, 0) << js.err;
  auto v = json::parse(js.out).as_object();
  EXPECT_TRUE(v["ok"].as_bool());
  EXPECT_EQ(v["certificates"].as_array().size(), 3u);
  EXPECT_EQ(v["rotations"].as_int64(), 2);
  EXPECT_TRUE(before == snapshot_dir(dir_ + "/a"));
  auto bad = certmgr("a", {"--json", "verify-backup", "a wrong password!!", zip});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_FALSE(json::parse(bad.out).as_object()["ok"].as_bool());
  EXPECT_NE(bad.err.find("wrong password"), std::string::npos);
}

TEST_F(BackupCliTest, PasswordSources) {
  generate("a", 1);
  const std::string file = dir_ + "/pw";
  spit(file, kPassword + "\n");
  fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write);  // as a secret file is
  EXPECT_EQ(certmgr("a", {"backup", "--password-file", file, dir_ + "/f.zip"}).exit_code, 0);
  RunOptions with_env = env_;
  with_env.env["CERTKEEPER_PASSWORD"] = kPassword;
  EXPECT_EQ(certmgr("b", {"restore", dir_ + "/f.zip"}, with_env).exit_code, 0);
  RunOptions with_stdin = env_;
  with_stdin.stdin_data = kPassword + "\n";
  EXPECT_EQ(
      certmgr("c", {"verify-backup", "--password-stdin", dir_ + "/f.zip"}, with_stdin).exit_code,
      0);
  auto weak = certmgr("a", {"backup", "short", dir_ + "/weak.zip"});
  EXPECT_EQ(weak.exit_code, 1);
  EXPECT_NE(weak.err.find("too weak"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir_ + "/weak.zip"));
  EXPECT_EQ(certmgr("a", {"backup", kPassword}).exit_code, 2);
}

// Every bad input: one line, exit 1, store byte-for-byte unchanged (restore), and
// verify-backup fails the same way.
TEST_F(BackupCliTest, BadInputsLeaveTheStoreUnchanged) {
  generate("a", 3);
  const std::string good = slurp(backup("a", "good.zip"));
  generate("b", 1);
  auto file = [&](const std::string& name, const std::string& data) {
    const std::string path = dir_ + "/" + name;
    spit(path, data);
    return path;
  };
  std::string flipped = good;
  flipped[good.size() / 2] = static_cast<char>(flipped[good.size() / 2] ^ 0x40);
  const std::string pfx = [&] {
    auto entries = archive::read_zip_entries(good, kPassword);
    return (*entries)[1].data;
  }();
  auto repack = [&](const std::function<void(std::vector<archive::ZipEntry>&)>& edit) {
    auto entries = archive::read_zip_entries(good, kPassword);
    edit(*entries);
    auto w = archive::ZipWriter::create(kPassword, 1764000000);
    for (auto& e : *entries) EXPECT_TRUE(w->add(e.name, e.data).ok());
    return *w->finish();
  };
  using archive::testing::raw_zip;
  const uint32_t big = (2u << 20) + 7;
  auto le32 = [](uint32_t v) {
    std::string s(4, '\0');
    for (int i = 0; i < 4; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xff);
    return s;
  };

  struct Case {
    std::string name;
    std::string path;
    std::string needle;
    std::string password = kPassword;
  };
  const std::vector<Case> cases = {
      {"wrong password", dir_ + "/good.zip", "wrong password", "Another-Pa55phrase-7zip!"},
      {"missing file", dir_ + "/nope.zip", "nope.zip"},
      {"not a zip", file("text.zip", "just some text\n"), "not a ZIP"},
      {"truncated", file("truncated.zip", good.substr(0, good.size() / 2)), "truncated.zip"},
      {"truncated tail", file("tail.zip", good.substr(0, good.size() - 5)), "tail.zip"},
      {"bit flip", file("flipped.zip", flipped), "flipped.zip"},
      {"absolute path", file("abs.zip", raw_zip({{"/etc/x.pfx", pfx}}, kPassword)),
       "absolute path"},
      {"dot dot", file("dotdot.zip", raw_zip({{"../x.pfx", pfx}}, kPassword)), "\"..\""},
      {"symlink",
       file("link.zip",
            raw_zip({{"x.pfx", "/etc/passwd", ZIP_EM_AES_256, S_IFLNK | 0777}}, kPassword)),
       "symbolic link"},
      {"unencrypted", file("plain.zip", raw_zip({{"x.pfx", pfx, ZIP_EM_NONE}}, kPassword)),
       "not encrypted"},
      {"missing pfx", file("missing.zip", repack([](auto& e) { e.pop_back(); })),
       "listed but missing"},
      {"extra pfx", file("extra.zip", repack([&](auto& e) {
                           e.push_back({std::string(64, 'e') + ".pfx", pfx});
                         })),
       "not listed"},
      {"swapped pfx", file("swapped.zip", repack([](auto& e) { std::swap(e[1].data, e[2].data); })),
       "holds certificate"},
      {"duplicate certificates",
       file("dup.zip", raw_zip({{"a.pfx", pfx}, {"b.pfx", pfx}}, kPassword)),
       "duplicate certificate"},
      {"empty archive", file("empty.zip", std::string("PK\x05\x06", 4) + std::string(18, '\0')),
       "empty"},
      {"declared bomb", file("bomb1.zip", raw_zip({{"a.pfx", std::string(big, '\0')}}, kPassword)),
       "ZIP bomb"},
      {"actual bomb",
       file("bomb2.zip",
            archive::testing::patch_all(raw_zip({{"a.pfx", std::string(big, '\0')}}, kPassword),
                                        le32(big), le32(1000))),
       "ZIP bomb"},
      {"the store itself", db("b"), "certificate store's own file"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    expect_rejected("b", {"-r", c.password, c.path}, c.needle);
    expect_rejected("b", {"-re", c.password, c.path}, c.needle);
    if (c.name != "the store itself")
      expect_rejected("b", {"verify-backup", c.password, c.path}, c.needle);
  }
}

TEST_F(BackupCliTest, BackupTargetProblems) {
  generate("a", 1);
  // Into the store's own database (or its key file): refused, nothing touched.
  expect_rejected("a", {"backup", kPassword, db("a")}, "certificate store's own file");
  expect_rejected("a", {"backup", kPassword, db("a") + ".kek"}, "certificate store's own file");
  // A folder that does not exist.
  expect_rejected("a", {"backup", kPassword, dir_ + "/no/such/folder/b.zip"},
                  "cannot write the backup");
}

// A full disk: the write fails (EFBIG under a file-size limit, SIGXFSZ ignored), the
// error is one line, no temporary file is left and an older backup stays intact.
TEST_F(BackupCliTest, FullDiskLeavesNothingBehind) {
  // A store whose backup is ~65 KiB, made in-process: certificates imported not
  // exportable are listed with their PEM but carry no PFX, so nothing here spends
  // 600,000-iteration derivations (each -c would also write a backup of all).
  fs::create_directories(dir_ + "/a");
  {
    auto s = store::open_cert_store("sqlite:" + db("a"));
    ASSERT_TRUE(s.ok()) << s.error().message;
    for (int i = 0; i < 80; ++i) {
      auto key = crypto::PrivateKey::generate(crypto::Algorithm::kEcdsaP256);
      auto cert = crypto::Certificate::make_self_signed(*key, crypto::kAuthenticationSubject, 30,
                                                        1795596300 + i);
      ASSERT_TRUE(store::install_current(**s, *key, *cert, false, false, "import",
                                         store::Context{"tester", nullptr})
                      .ok());
    }
  }
  ASSERT_EQ(certmgr("a", {"backup", kPassword, dir_ + "/probe.zip"}).exit_code, 0);
  ASSERT_GT(fs::file_size(dir_ + "/probe.zip"), 60u * 1024);
  const std::string out = dir_ + "/out";
  fs::create_directories(out);
  spit(out + "/b.zip", "older backup");
  // dash counts ulimit -f in 512-byte blocks: 48 KiB lets SQLite map its 32 KiB -shm
  // file but not the ~65 KiB archive.
  const std::string cmd = "trap '' XFSZ; ulimit -f 96; exec '" + testing::bin("certmgr") +
                          "' --store 'sqlite:" + db("a") + "' backup '" + kPassword + "' '" + out +
                          "/b.zip'";
  auto r = sh(cmd);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(count_lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("cannot write the backup"), std::string::npos) << r.err;
  EXPECT_EQ(slurp(out + "/b.zip"), "older backup");
  size_t files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(out)) ++files;
  EXPECT_EQ(files, 1u);
}

// Our archives open in 7-Zip with the password (AES-256 entries), and our PFX files
// open in openssl pkcs12 with the same password.
TEST_F(BackupCliTest, SevenZipAndOpensslReadOurBackup) {
  auto fps = generate("a", 2);
  const std::string zip = backup("a", "all.zip");
  auto list = sh("7z l -slt -p'" + kPassword + "' '" + zip + "'");
  ASSERT_EQ(list.exit_code, 0) << list.out << list.err;
  size_t aes = 0;
  for (size_t pos = 0; (pos = list.out.find("Method = AES-256", pos)) != std::string::npos; ++pos)
    ++aes;
  EXPECT_EQ(aes, 3u) << list.out;  // manifest + 2 PFX
  const std::string out = dir_ + "/x";
  auto x = sh("7z x -y -p'" + kPassword + "' -o'" + out + "' '" + zip + "'");
  ASSERT_EQ(x.exit_code, 0) << x.out << x.err;
  auto manifest = archive::parse_manifest(slurp(out + "/manifest.json"));
  ASSERT_TRUE(manifest.ok()) << manifest.error().message;
  EXPECT_EQ(manifest->certificates.size(), 2u);
  for (const auto& fp : fps) {
    auto p = sh("openssl pkcs12 -in '" + out + "/" + fp + ".pfx' -passin pass:'" + kPassword +
                "' -nokeys");
    ASSERT_EQ(p.exit_code, 0) << p.err;
    auto cert = crypto::Certificate::parse(p.out.substr(p.out.find("-----BEGIN CERTIFICATE-----")));
    ASSERT_TRUE(cert.ok()) << cert.error().message;
    EXPECT_EQ(cert->fingerprint(), fp);
    auto k = sh("openssl pkcs12 -in '" + out + "/" + fp + ".pfx' -passin pass:'" + kPassword +
                "' -nocerts -nodes | openssl pkey -noout -check");
    EXPECT_EQ(k.exit_code, 0) << k.err;
  }
  auto wrong = sh("7z x -y -p'not the password' -o'" + dir_ + "/y' '" + zip + "'");
  EXPECT_NE(wrong.exit_code, 0);
}

// A ZIP made by 7-Zip (AES-256 and ZipCrypto) of PFX files made by openssl (also a
// legacy RC2/3DES one) restores; the newest certificate becomes current.
TEST_F(BackupCliTest, RestoresSevenZipArchiveOfOpensslPfxFiles) {
  const std::string w = dir_ + "/w";
  fs::create_directories(w);
  std::vector<std::string> fps;
  for (int i = 0; i < 3; ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // distinct notBefore
    const std::string n = w + "/" + std::to_string(i);
    auto g =
        sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + n +
           ".key -out " + n + ".crt -days 30 -subj /CN=vendor 2>&1 && openssl pkcs12 -export " +
           (i == 0 ? "-legacy " : "") + "-inkey " + n + ".key -in " + n + ".crt -passout pass:'" +
           kPassword + "' -out " + n + ".pfx");
    ASSERT_EQ(g.exit_code, 0) << g.out << g.err;
    fps.push_back(crypto::Certificate::parse(slurp(n + ".crt"))->fingerprint());
  }
  for (const std::string method : {"AES256", "ZipCrypto"}) {
    SCOPED_TRACE(method);
    const std::string zip = dir_ + "/vendor-" + method + ".zip";
    auto z = sh("cd " + w + " && 7z a -tzip -mem=" + method + " -p'" + kPassword + "' '" + zip +
                "' 0.pfx 1.pfx 2.pfx");
    ASSERT_EQ(z.exit_code, 0) << z.out << z.err;
    auto v = certmgr("b", {"verify-backup", kPassword, zip});
    EXPECT_EQ(v.exit_code, 0) << v.err;
    EXPECT_NE(v.out.find("no manifest"), std::string::npos) << v.out;
    auto r = certmgr("b", {"-r", kPassword, zip});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto st = status("b");
    EXPECT_EQ(st["current"].as_object()["fingerprint"].as_string(), fps[2]);
    EXPECT_EQ(st["certificates"].as_array().size(), 3u);
    // And the restored store backs up and restores like any other.
    const std::string ours = backup("b", "ours-" + method + ".zip");
    ASSERT_EQ(certmgr("c", {"-r", kPassword, ours}).exit_code, 0);
    EXPECT_EQ(status("b"), status("c"));
  }
}

size_t files_in(const std::string& dir) {
  size_t n = 0;
  if (fs::exists(dir))
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

// Every PFX certkeeper writes (in a `backup` and in the -c backup) resists offline
// guessing: openssl reports its key bag and its MAC at >= 600,000 iterations of SHA-256.
TEST_F(BackupCliTest, OurPfxFilesCost600000Sha256IterationsPerGuess) {
  auto fps = generate("a", 1);
  std::vector<std::string> zips = {backup("a", "all.zip")};
  for (const auto& e : fs::directory_iterator(dir_ + "/a/backups")) zips.push_back(e.path());
  ASSERT_EQ(zips.size(), 2u);
  for (size_t i = 0; i < zips.size(); ++i) {
    SCOPED_TRACE(zips[i]);
    const std::string out = dir_ + "/x" + std::to_string(i);
    auto x = sh("7z x -y -p'" + kPassword + "' -o'" + out + "' '" + zips[i] + "'");
    ASSERT_EQ(x.exit_code, 0) << x.out << x.err;
    auto info = sh("openssl pkcs12 -info -in '" + out + "/" + fps[0] + ".pfx' -passin pass:'" +
                   kPassword + "' -passout pass:unused -out /dev/null 2>&1");
    ASSERT_EQ(info.exit_code, 0) << info.out;
    std::smatch m;
    ASSERT_TRUE(std::regex_search(info.out, m, std::regex("MAC: (\\S+), Iteration ([0-9]+)")))
        << info.out;
    EXPECT_EQ(m[1], "sha256");
    EXPECT_GE(std::stoll(m[2]), 600000);
    ASSERT_TRUE(std::regex_search(
        info.out, m,
        std::regex("Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration ([0-9]+), PRF "
                   "hmacWithSHA256")))
        << info.out;
    EXPECT_GE(std::stoll(m[1]), 600000);
    // No other derivation under the same password (a cheaper oracle): every count is high.
    const std::regex any("Iteration ([0-9]+)");
    size_t counts = 0;
    for (auto it = std::sregex_iterator(info.out.begin(), info.out.end(), any);
         it != std::sregex_iterator(); ++it, ++counts)
      EXPECT_GE(std::stoll((*it)[1]), 600000) << info.out;
    EXPECT_EQ(counts, 2u) << info.out;
  }
}

// A PFX asking for 20,000,000 PBKDF2 iterations (~8 s of work) is refused at once with
// one line, by import and by restore, before any derivation runs; nothing changes.
TEST_F(BackupCliTest, AbsurdIterationCountsAreRefusedAtOnce) {
  generate("b", 1);
  auto key = crypto::PrivateKey::generate(crypto::Algorithm::kEcdsaP256);
  auto cert = crypto::Certificate::make_self_signed(*key, "CN=vendor", 30, 1795596300);
  const std::string pfx = dir_ + "/slow.pfx";
  spit(pfx, archive::testing::costly_pfx(*key, *cert, kPassword,
                                         archive::testing::CostlyPart::kKeyBag, 20000000));
  const std::string zip = dir_ + "/slow.zip";
  spit(zip, archive::testing::raw_zip({{"slow.pfx", slurp(pfx)}}, kPassword));
  const std::string mac_pfx = dir_ + "/slow-mac.pfx";
  spit(mac_pfx, archive::testing::costly_pfx(*key, *cert, kPassword,
                                             archive::testing::CostlyPart::kMac, 20000000));
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"-ine", kPassword, pfx}, {"-ine", kPassword, mac_pfx}, {"-r", kPassword, zip},
           {"verify-backup", kPassword, zip}}) {
    SCOPED_TRACE(args[0] + " " + args[2]);
    const auto t0 = std::chrono::steady_clock::now();
    expect_rejected("b", args, "20000000 iterations");
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 3.0);
  }
}

// A wrong password is found in the archive before anything else happens: exit 1, one
// line, no safety backup in the backup folder (the store holds a certificate the
// backup lacks, so a restore would write one), the store unchanged.
TEST_F(BackupCliTest, WrongPasswordWritesNoSafetyBackup) {
  generate("a", 1);
  const std::string zip = backup("a", "a.zip");
  generate("b", 1);
  const size_t backups = files_in(dir_ + "/b/backups");
  for (const std::string flag : {"-r", "-re"})
    expect_rejected("b", {flag, "Wrong-Pa55phrase-7zip!", zip}, "wrong password");
  EXPECT_EQ(files_in(dir_ + "/b/backups"), backups);
  // The right one: the safety backup is written, then the restore.
  auto r = certmgr("b", {"-r", kPassword, zip});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(files_in(dir_ + "/b/backups"), backups + 1);
}

// Our backup re-zipped by 7-Zip with ZipCrypto (`7z a -p` default for .zip): restores,
// with a warning, and keeps only what the PFX files back (the imported, not exportable
// certificate is listed only in the now unauthenticated manifest).
TEST_F(BackupCliTest, ZipCryptoArchiveRestoresWithWarningsAndOnlyWhatPfxFilesBack) {
  auto fps = generate("a", 1);
  auto g = sh("cd " + dir_ +
              " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes " +
              "-keyout v.key -out v.crt -days 30 -subj /CN=vendor 2>&1 && openssl pkcs12 -export " +
              "-inkey v.key -in v.crt -passout pass:'" + kPassword + "' -out v.pfx");
  ASSERT_EQ(g.exit_code, 0) << g.out;
  ASSERT_EQ(certmgr("a", {"-ine", kPassword, dir_ + "/v.pfx"}).exit_code, 0);
  const std::string vendor = crypto::Certificate::parse(slurp(dir_ + "/v.crt"))->fingerprint();
  fps.push_back(generate("a", 1)[0]);
  const std::string ours = backup("a", "ours.zip");
  const std::string out = dir_ + "/x";
  ASSERT_EQ(sh("7z x -y -p'" + kPassword + "' -o'" + out + "' '" + ours + "'").exit_code, 0);
  const std::string zip = dir_ + "/zipcrypto.zip";
  auto z = sh("cd '" + out + "' && 7z a -tzip -mem=ZipCrypto -p'" + kPassword + "' '" + zip +
              "' manifest.json *.pfx");
  ASSERT_EQ(z.exit_code, 0) << z.out << z.err;
  for (const std::string cmd : {"verify-backup", "-r"}) {
    SCOPED_TRACE(cmd);
    auto r = certmgr("b", {cmd, kPassword, zip});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("certmgr: warning: the archive uses ZipCrypto"), std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("integrity rests on the PFX files alone"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("certmgr: warning: ignored " + vendor), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("error"), std::string::npos) << r.err;
  }
  std::map<std::string, std::string> statuses;
  const json::object restored = status("b");
  for (const auto& c : restored.at("certificates").as_array()) {
    statuses[std::string(c.at("fingerprint").as_string())] =
        std::string(c.at("status").as_string());
  }
  EXPECT_EQ(statuses.size(), 2u);
  EXPECT_EQ(statuses[fps[1]], "current");
  EXPECT_EQ(statuses[fps[0]], "retired");
  EXPECT_EQ(statuses.count(vendor), 0u);
  // The same archive with AES-256 entries: no warning, everything restored.
  auto a = certmgr("c", {"-r", kPassword, ours});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.err, "");
  EXPECT_EQ(status("c").at("certificates").as_array().size(), 3u);
}

}  // namespace
}  // namespace ck
