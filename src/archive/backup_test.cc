// Backups end to end on real SQLite stores: snapshot -> encode -> decode -> restore,
// and every way an archive can disagree with itself.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <map>

#include "archive/backup_reader.h"
#include "archive/backup_writer.h"
#include "archive/manifest.h"
#include "archive/restore.h"
#include "archive/store_files.h"
#include "archive/test_zip.h"
#include "archive/zip_reader.h"
#include "archive/zip_writer.h"
#include "common/file_util.h"
#include "crypto/ossl_ptr.h"
#include "crypto/pkcs12.h"
#include "store/cert_operations.h"

namespace ck::archive {
namespace {

const std::string kPassword = "Backup-Passw0rd-for-tests!";
constexpr int64_t kNow = 1795596300;  // 2026-11-25T08:45:00Z

std::string fresh_dir(const std::string& tag) {
  auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  auto dir = std::filesystem::temp_directory_path() /
             ("ck-archive-" + std::to_string(::getpid()) + "-" + info->name() + "-" + tag);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

std::unique_ptr<store::CertStore> open_store(const std::string& dir) {
  auto s = store::open_cert_store("sqlite:" + dir + "/ck.db");
  EXPECT_TRUE(s.ok()) << s.error().message;
  return s.ok() ? std::move(s).value() : nullptr;
}

store::Context ctx() { return store::Context{"tester", nullptr}; }

struct Dump {
  std::vector<store::CertRecord> certs;
  std::vector<store::RotationRecord> rotations;
  std::map<std::string, std::string> keys;  // fingerprint -> key fingerprint
  std::vector<store::AuditEntry> audit;
};

Dump dump(store::CertStore& s) {
  Dump d;
  EXPECT_TRUE(s.read([&](store::CertTxn& t) -> Status {
                 CK_ASSIGN_OR_RETURN(d.certs, t.list());
                 CK_ASSIGN_OR_RETURN(d.rotations, t.rotations());
                 CK_ASSIGN_OR_RETURN(d.audit, t.audit_log());
                 for (const auto& c : d.certs) {
                   CK_ASSIGN_OR_RETURN(auto key, t.private_key(c.fingerprint));
                   if (key) d.keys[c.fingerprint] = key->fingerprint();
                 }
                 return ok_status();
               }).ok());
  return d;
}

void expect_same_certificates(const Dump& a, const Dump& b, bool exportable) {
  ASSERT_EQ(a.certs.size(), b.certs.size());
  for (size_t i = 0; i < a.certs.size(); ++i) {
    const auto& x = a.certs[i];
    const auto& y = b.certs[i];
    EXPECT_EQ(x.fingerprint, y.fingerprint);
    EXPECT_EQ(x.status, y.status);
    EXPECT_EQ(x.generation, y.generation);
    EXPECT_EQ(x.cert_pem, y.cert_pem);
    EXPECT_EQ(x.created_at, y.created_at);
    EXPECT_EQ(x.has_private_key && x.exportable, y.has_private_key);
    EXPECT_EQ(y.exportable, exportable && y.has_private_key);
  }
  ASSERT_EQ(a.rotations.size(), b.rotations.size());
  for (size_t i = 0; i < a.rotations.size(); ++i) {
    EXPECT_EQ(a.rotations[i].generation, b.rotations[i].generation);
    EXPECT_EQ(a.rotations[i].from_fingerprint, b.rotations[i].from_fingerprint);
    EXPECT_EQ(a.rotations[i].to_fingerprint, b.rotations[i].to_fingerprint);
    EXPECT_EQ(a.rotations[i].by_old, b.rotations[i].by_old);
    EXPECT_EQ(a.rotations[i].by_new, b.rotations[i].by_new);
    EXPECT_EQ(a.rotations[i].created_at, b.rotations[i].created_at);
  }
}

class BackupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_dir("src");
    store_ = open_store(dir_);
    ASSERT_TRUE(store_);
    for (int i = 0; i < 3; ++i) {
      auto r = store::generate_certificate(*store_, {}, ctx());
      ASSERT_TRUE(r.ok()) << r.error().message;
      fps_.push_back(r->fingerprint);
    }
  }

  std::string encode() {
    auto b = snapshot_store(*store_, kNow);
    EXPECT_TRUE(b.ok()) << b.error().message;
    auto bytes = encode_backup(*b, kPassword);
    EXPECT_TRUE(bytes.ok()) << bytes.error().message;
    return *bytes;
  }

  // Re-packs an archive's entries after `edit` changed them.
  std::string repack(const std::string& archive,
                     const std::function<void(std::vector<ZipEntry>&)>& edit) {
    auto entries = read_zip_entries(archive, kPassword);
    EXPECT_TRUE(entries.ok());
    edit(*entries);
    auto w = ZipWriter::create(kPassword, kNow);
    for (auto& e : *entries) EXPECT_TRUE(w->add(e.name, e.data).ok());
    return *w->finish();
  }

  std::string dir_;
  std::unique_ptr<store::CertStore> store_;
  std::vector<std::string> fps_;
};

TEST_F(BackupTest, RoundTripIntoAFreshStore) {
  const std::string archive = encode();
  auto backup = decode_backup(archive, kPassword);
  ASSERT_TRUE(backup.ok()) << backup.error().message;
  EXPECT_EQ(backup->format_version, kManifestFormatVersion);
  EXPECT_EQ(backup->store_generation, 3);
  EXPECT_EQ(backup->rotations.size(), 2u);
  ASSERT_NE(backup->current(), nullptr);
  EXPECT_EQ(backup->current()->certificate.fingerprint(), fps_[2]);
  ASSERT_TRUE(check_restorable(*backup).ok());

  auto target = open_store(fresh_dir("dst"));
  auto summary = restore_backup(*target, *backup, /*exportable=*/true, "x.zip", ctx());
  ASSERT_TRUE(summary.ok()) << summary.error().message;
  EXPECT_EQ(summary->certificates, 3u);
  EXPECT_EQ(summary->with_key, 3u);
  EXPECT_EQ(summary->rotations, 2u);
  const Dump before = dump(*store_);
  const Dump after = dump(*target);
  expect_same_certificates(before, after, true);
  EXPECT_EQ(before.keys, after.keys);
  ASSERT_FALSE(after.audit.empty());
  EXPECT_EQ(after.audit.back().action, "restore");

  // The restored store keeps rotating: generation 4, linked from the restored current.
  auto next = store::generate_certificate(*target, {}, ctx());
  ASSERT_TRUE(next.ok()) << next.error().message;
  EXPECT_EQ(next->generation, 4);
}

TEST_F(BackupTest, RestoreNotExportableAndItsBackupCarriesNoKeys) {
  auto target = open_store(fresh_dir("dst"));
  auto backup = decode_backup(encode(), kPassword);
  ASSERT_TRUE(backup.ok());
  ASSERT_TRUE(restore_backup(*target, *backup, /*exportable=*/false, "x.zip", ctx()).ok());
  const Dump after = dump(*target);
  for (const auto& c : after.certs) {
    EXPECT_FALSE(c.exportable);
    EXPECT_TRUE(c.has_private_key);
  }
  auto again = snapshot_store(*target, kNow);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(certificates_without_key(*again).size(), 3u);
  auto bytes = encode_backup(*again, kPassword);
  ASSERT_TRUE(bytes.ok());
  auto entries = read_zip_entries(*bytes, kPassword);
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 1u);  // manifest only
  auto decoded = decode_backup(*bytes, kPassword);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_FALSE(check_restorable(*decoded).ok());
}

TEST_F(BackupTest, NonExportableRetiredKeyIsListedWithoutKey) {
  auto target = open_store(fresh_dir("dst"));
  // An imported, non-exportable certificate, later replaced by a generated one.
  auto key = crypto::PrivateKey::generate(crypto::Algorithm::kEcdsaP256);
  auto cert = crypto::Certificate::make_self_signed(*key, crypto::kAuthenticationSubject, 30, kNow);
  ASSERT_TRUE(store::install_current(*store_, *key, *cert, false, false, "import", ctx()).ok());
  ASSERT_TRUE(store::generate_certificate(*store_, {}, ctx()).ok());
  auto snap = snapshot_store(*store_, kNow);
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(certificates_without_key(*snap), std::vector<std::string>{cert->fingerprint()});
  auto backup = decode_backup(*encode_backup(*snap, kPassword), kPassword);
  ASSERT_TRUE(backup.ok()) << backup.error().message;
  ASSERT_TRUE(restore_backup(*target, *backup, true, "x.zip", ctx()).ok());
  const Dump before = dump(*store_);
  const Dump after = dump(*target);
  expect_same_certificates(before, after, true);
  EXPECT_EQ(after.keys.count(cert->fingerprint()), 0u);
  EXPECT_EQ(after.rotations.size(), 4u);
}

TEST_F(BackupTest, FailedRestoreLeavesTheStoreAsItWas) {
  auto target = open_store(fresh_dir("dst"));
  ASSERT_TRUE(store::generate_certificate(*target, {}, ctx()).ok());
  const Dump before = dump(*target);
  auto backup = decode_backup(encode(), kPassword);
  ASSERT_TRUE(backup.ok());
  // A key that no longer matches the certificate fails the insert half-way.
  Backup broken = *backup;
  broken.certificates[1].key = *crypto::PrivateKey::generate(crypto::Algorithm::kEcdsaP256);
  broken.rotations.push_back(broken.rotations.front());  // duplicate generation: insert fails
  EXPECT_FALSE(restore_backup(*target, broken, true, "x.zip", ctx()).ok());
  const Dump after = dump(*target);
  expect_same_certificates(before, after, true);
  EXPECT_EQ(before.audit.size(), after.audit.size());
}

TEST_F(BackupTest, WrongPassword) {
  auto b = decode_backup(encode(), "some other long password");
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().message, "wrong password");
}

void expect_disagreement(const Result<Backup>& b, const std::string& needle) {
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error().message.find(needle), std::string::npos) << b.error().message;
}

TEST_F(BackupTest, MissingPfx) {
  auto archive = repack(encode(), [](auto& e) { e.pop_back(); });
  expect_disagreement(decode_backup(archive, kPassword), "missing");
}

TEST_F(BackupTest, ExtraPfx) {
  const std::string archive = encode();
  auto extra = repack(archive, [&](auto& e) {
    e.push_back(ZipEntry{std::string(64, 'c') + ".pfx", e[1].data});
  });
  expect_disagreement(decode_backup(extra, kPassword), "not listed");
}

TEST_F(BackupTest, SwappedPfx) {
  auto archive = repack(encode(), [](auto& e) { std::swap(e[1].data, e[2].data); });
  expect_disagreement(decode_backup(archive, kPassword), "holds certificate");
}

TEST_F(BackupTest, PfxWithAnotherPassword) {
  auto archive = repack(encode(), [&](auto& e) {
    auto contents = crypto::read_pkcs12(e[1].data, kPassword);
    ASSERT_TRUE(contents.ok());
    e[1].data =
        *crypto::write_pkcs12(contents->key, contents->certificate, "another password 123", "x");
  });
  expect_disagreement(decode_backup(archive, kPassword), "wrong password for the PKCS#12");
}

// A PFX whose key belongs to another certificate.
TEST_F(BackupTest, KeyNotMatchingCertificate) {
  auto archive = repack(encode(), [&](auto& e) {
    auto a = crypto::read_pkcs12(e[1].data, kPassword);
    auto b = crypto::read_pkcs12(e[2].data, kPassword);
    ASSERT_TRUE(a.ok() && b.ok());
    ossl::X509StackPtr ca(sk_X509_new_null());
    X509_up_ref(a->certificate.get());
    sk_X509_push(ca.get(), a->certificate.get());
    ossl::Pkcs12Ptr p12(PKCS12_create(kPassword.c_str(), "x", b->key.get(), nullptr, ca.get(),
                                      NID_aes_256_cbc, NID_aes_256_cbc, 0, 0, 0));
    ASSERT_TRUE(p12);
    unsigned char* der = nullptr;
    int len = i2d_PKCS12(p12.get(), &der);
    e[1].data.assign(reinterpret_cast<char*>(der), static_cast<size_t>(len));
    OPENSSL_free(der);
  });
  expect_disagreement(decode_backup(archive, kPassword), "does not match");
}

TEST_F(BackupTest, TamperedManifest) {
  const std::string archive = encode();
  auto edit_manifest = [&](const std::string& from, const std::string& to) {
    return repack(archive, [&](auto& e) {
      auto pos = e[0].data.find(from);
      ASSERT_NE(pos, std::string::npos) << from;
      e[0].data.replace(pos, from.size(), to);
    });
  };
  expect_disagreement(
      decode_backup(edit_manifest("\"status\":\"retired\"", "\"status\":\"current\""), kPassword),
      "marked current");
  expect_disagreement(decode_backup(edit_manifest("\"by_old\":\"", "\"by_old\":\"x"), kPassword),
                      "does not verify");
  auto twice = repack(archive, [&](auto& e) {
    for (size_t pos; (pos = e[0].data.find(fps_[0])) != std::string::npos;)
      e[0].data.replace(pos, 64, fps_[1]);
    e.erase(e.begin() + 1);  // the PFX of fps_[0]
  });
  expect_disagreement(decode_backup(twice, kPassword), "listed twice");
  expect_disagreement(
      decode_backup(edit_manifest("\"generation\":1,", "\"generation\":2,"), kPassword),
      "generation");
}

bool same_entries(const std::vector<ZipEntry>& a, const std::vector<ZipEntry>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].name != b[i].name || a[i].data != b[i].data ||
        a[i].encryption_method != b[i].encryption_method)
      return false;
  return true;
}

TEST_F(BackupTest, EveryBitFlipIsDetectedOrHarmless) {
  const std::string archive = encode();
  auto good = decode_backup(archive, kPassword);
  ASSERT_TRUE(good.ok());
  auto good_entries = read_zip_entries(archive, kPassword);
  ASSERT_TRUE(good_entries.ok());
  for (size_t i = 0; i < archive.size(); i += (i + 300 < archive.size() ? 11 : 1)) {
    std::string bad = archive;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    // decode_backup is a pure function of the decrypted entries: when a flip leaves them
    // as they were, so is its result, without running its PFX derivations (~1 s) again.
    auto entries = read_zip_entries(bad, kPassword);
    if (!entries.ok() || same_entries(*entries, *good_entries)) continue;
    auto b = decode_backup(bad, kPassword);
    if (!b.ok()) continue;
    ASSERT_EQ(b->certificates.size(), good->certificates.size()) << "flip at " << i;
    for (size_t k = 0; k < good->certificates.size(); ++k) {
      EXPECT_EQ(b->certificates[k].certificate.der(), good->certificates[k].certificate.der()) << i;
      EXPECT_EQ(b->certificates[k].status, good->certificates[k].status) << i;
    }
  }
}

// A ZIP of PFX files made by other tools: the newest (latest notBefore) becomes current.
TEST(PfxOnlyTest, NewestBecomesCurrent) {
  std::vector<testing::RawEntry> entries;
  std::vector<std::string> fps;
  for (int64_t age : {300, 100, 200}) {
    auto key = crypto::PrivateKey::generate(crypto::Algorithm::kEcdsaP256);
    auto cert =
        crypto::Certificate::make_self_signed(*key, "CN=other tool", 365, kNow - age * 86400);
    fps.push_back(cert->fingerprint());
    entries.push_back({"cert-" + std::to_string(age) + ".PFX",
                       *crypto::write_pkcs12(*key, *cert, kPassword, "x"),
                       age == 200 ? uint16_t{ZIP_EM_TRAD_PKWARE} : uint16_t{ZIP_EM_AES_256}});
  }
  auto backup = decode_backup(testing::raw_zip(entries, kPassword), kPassword);
  ASSERT_TRUE(backup.ok()) << backup.error().message;
  EXPECT_EQ(backup->format_version, 0);
  ASSERT_NE(backup->current(), nullptr);
  EXPECT_EQ(backup->current()->certificate.fingerprint(), fps[1]);
  EXPECT_TRUE(check_restorable(*backup).ok());

  auto dir = fresh_dir("pfx");
  auto target = open_store(dir);
  ASSERT_TRUE(store::generate_certificate(*target, {}, ctx()).ok());
  ASSERT_TRUE(store::generate_certificate(*target, {}, ctx()).ok());
  const int64_t before = system_clock().now();
  ASSERT_TRUE(restore_backup(*target, *backup, false, "pfx.zip", ctx()).ok());
  const Dump after = dump(*target);
  ASSERT_EQ(after.certs.size(), 3u);
  for (const auto& c : after.certs) {
    EXPECT_EQ(c.status,
              c.fingerprint == fps[1] ? store::CertStatus::kCurrent : store::CertStatus::kRetired);
    EXPECT_FALSE(c.exportable);
    // The store had reached generation 2; the restored current goes above it and above
    // any count its key's own (unknown) store can have reached: the clock (restore.h).
    if (c.fingerprint == fps[1]) {
      EXPECT_GE(c.generation, before);
      EXPECT_LE(c.generation, system_clock().now());
    }
  }
}

TEST(PfxOnlyTest, DuplicateCertificatesAndStrangers) {
  auto key = crypto::PrivateKey::generate(crypto::Algorithm::kEcdsaP256);
  auto cert = crypto::Certificate::make_self_signed(*key, "CN=x", 365, kNow);
  const std::string pfx = *crypto::write_pkcs12(*key, *cert, kPassword, "x");
  auto dup =
      decode_backup(testing::raw_zip({{"a.pfx", pfx}, {"b.p12", pfx}}, kPassword), kPassword);
  expect_disagreement(dup, "duplicate certificate");
  auto stranger =
      decode_backup(testing::raw_zip({{"a.pfx", pfx}, {"readme.txt", "hi"}}, kPassword), kPassword);
  expect_disagreement(stranger, "unexpected entry");
  auto not_pfx = decode_backup(testing::raw_zip({{"a.pfx", "not a pfx"}}, kPassword), kPassword);
  expect_disagreement(not_pfx, "a.pfx");
}

TEST(StoreFilesTest, RefusesTheStoreItself) {
  auto dir = fresh_dir("files");
  auto s = open_store(dir);
  const std::string db = dir + "/ck.db";
  EXPECT_FALSE(refuse_store_file(db, "sqlite:" + db, "write").ok());
  EXPECT_FALSE(
      refuse_store_file(dir + "/../" + std::filesystem::path(dir).filename().string() + "/ck.db",
                        "sqlite:" + db, "write")
          .ok());
  EXPECT_FALSE(refuse_store_file(db + ".kek", "sqlite:" + db, "write").ok());
  EXPECT_TRUE(refuse_store_file(dir + "/backup.zip", "sqlite:" + db, "write").ok());
  paths::PathAccess files({});
  EXPECT_FALSE(write_backup_file(files, *files.resolve(db), "PK", "sqlite:" + db).ok());
}

// Read-only target folder: a clear error and no temporary file left. Root ignores
// folder permissions, so then the write runs in a child that dropped to "nobody".
TEST(StoreFilesTest, ReadOnlyFolderLeavesNothing) {
  auto dir = fresh_dir("ro");
  auto attempt = [&]() -> int {
    paths::PathAccess files({});
    Status s = write_backup_file(files, *files.resolve(dir + "/b.zip"), std::string(10000, 'z'),
                                 "sqlite:/nonexistent/ck.db");
    if (s.ok()) return 1;
    if (s.error().kind != ErrorKind::kPermissionDenied) return 2;
    return s.error().message.find(dir) == std::string::npos ? 3 : 0;
  };
  if (::geteuid() == 0) {
    std::filesystem::permissions(
        dir, std::filesystem::perms::owner_all | std::filesystem::perms::group_read |
                 std::filesystem::perms::others_read | std::filesystem::perms::group_exec |
                 std::filesystem::perms::others_exec);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(4);
      ::_exit(attempt());
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
  } else {
    std::filesystem::permissions(
        dir, std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
    EXPECT_EQ(attempt(), 0);
    std::filesystem::permissions(dir, std::filesystem::perms::owner_all);
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir));
}

// A full disk (simulated with RLIMIT_FSIZE: writes fail with EFBIG): a clear error,
// no temporary file left, an existing backup under the final name untouched.
TEST(StoreFilesTest, FullDiskLeavesNothing) {
  auto dir = fresh_dir("full");
  const std::string path = dir + "/b.zip";
  ASSERT_TRUE(write_file_atomic(path, "previous backup", 0600).ok());
  struct rlimit old {};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = old;
  small.rlim_cur = 4096;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  paths::PathAccess files({});
  Status s = write_backup_file(files, *files.resolve(path), std::string(100000, 'z'), "sqlite:/nonexistent/ck.db");
  ::setrlimit(RLIMIT_FSIZE, &old);
  ::signal(SIGXFSZ, old_handler);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("cannot write"), std::string::npos) << s.error().message;
  EXPECT_EQ(*read_file(path), "previous backup");
  size_t entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++entries;
  EXPECT_EQ(entries, 1u);
}

}  // namespace
}  // namespace ck::archive
