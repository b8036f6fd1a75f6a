// Restore rules from the security review: a revoked key never comes back from a backup,
// a ZipCrypto manifest counts only where PFX files back it, and a history-less (PFX-only)
// restore never makes agents see a generation go backwards.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "archive/backup_reader.h"
#include "archive/backup_writer.h"
#include "archive/restore.h"
#include "archive/test_zip.h"
#include "archive/zip_reader.h"
#include "crypto/pkcs12.h"
#include "store/cert_operations.h"

namespace ck::archive {
namespace {

const std::string kPassword = "Restore-Passw0rd-for-tests!";
constexpr int64_t kNow = 1795596300;  // 2026-11-25T08:45:00Z

std::unique_ptr<store::CertStore> fresh_store(const std::string& tag) {
  auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  auto dir = std::filesystem::temp_directory_path() /
             ("ck-restore-" + std::to_string(::getpid()) + "-" + info->name() + "-" + tag);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto s = store::open_cert_store("sqlite:" + (dir / "ck.db").string());
  EXPECT_TRUE(s.ok()) << s.error().message;
  return s.ok() ? std::move(s).value() : nullptr;
}

store::Context ctx() { return store::Context{"tester", nullptr}; }

std::optional<store::CertRecord> find(store::CertStore& s, const std::string& fp) {
  std::optional<store::CertRecord> out;
  EXPECT_TRUE(s.read([&](store::CertTxn& t) -> Status {
                 CK_ASSIGN_OR_RETURN(out, t.find(fp));
                 return ok_status();
               }).ok());
  return out;
}

bool holds_key(store::CertStore& s, const std::string& fp) {
  bool held = false;
  EXPECT_TRUE(s.read([&](store::CertTxn& t) -> Status {
                 CK_ASSIGN_OR_RETURN(auto key, t.private_key(fp));
                 held = key.has_value();
                 return ok_status();
               }).ok());
  return held;
}

std::string encode(store::CertStore& s) {
  auto b = snapshot_store(s, kNow);
  EXPECT_TRUE(b.ok()) << b.error().message;
  auto bytes = encode_backup(*b, kPassword);
  EXPECT_TRUE(bytes.ok()) << bytes.error().message;
  return *bytes;
}

// The same entries, re-packed with `method` (ZipCrypto: what `7z a -p` makes by default).
std::string repack(const std::string& archive, uint16_t method,
                   const std::function<void(std::vector<ZipEntry>&)>& edit = {}) {
  auto entries = read_zip_entries(archive, kPassword);
  EXPECT_TRUE(entries.ok());
  if (edit) edit(*entries);
  std::vector<testing::RawEntry> raw;
  for (auto& e : *entries) raw.push_back({e.name, e.data, method});
  return testing::raw_zip(raw, kPassword);
}

bool has_line(const std::vector<std::string>& lines, const std::string& needle) {
  for (const auto& l : lines)
    if (l.find(needle) != std::string::npos && l.find('\n') == std::string::npos) return true;
  return false;
}

TEST(RevokedKeys, AreErasedNeverBackedUpAndNeverRestored) {
  auto s = fresh_store("src");
  auto a = store::generate_certificate(*s, {}, ctx());
  auto b = store::generate_certificate(*s, {}, ctx());
  ASSERT_TRUE(a.ok() && b.ok());
  const std::string before_revoke = encode(*s);  // holds a's key, as retired

  auto revoked = store::revoke_certificate(*s, a->fingerprint, ctx());
  ASSERT_TRUE(revoked.ok()) << revoked.error().message;
  EXPECT_FALSE(revoked->has_private_key);
  EXPECT_FALSE(revoked->exportable);
  EXPECT_FALSE(holds_key(*s, a->fingerprint));
  ASSERT_TRUE(find(*s, a->fingerprint));  // the certificate stays
  EXPECT_EQ(find(*s, a->fingerprint)->status, store::CertStatus::kRevoked);
  EXPECT_FALSE(store::revoke_certificate(*s, a->fingerprint, ctx()).ok());  // already

  // A later backup lists it without key.
  auto later = decode_backup(encode(*s), kPassword);
  ASSERT_TRUE(later.ok()) << later.error().message;
  for (const auto& c : later->certificates)
    EXPECT_TRUE(c.certificate.fingerprint() != a->fingerprint || !c.key);

  // The backup from before the revoke, restored after it: revoked and key-less.
  auto old = decode_backup(before_revoke, kPassword);
  ASSERT_TRUE(old.ok()) << old.error().message;
  auto summary = restore_backup(*s, *old, true, "old.zip", ctx());
  ASSERT_TRUE(summary.ok()) << summary.error().message;
  EXPECT_EQ(summary->with_key, 1u);
  EXPECT_EQ(find(*s, a->fingerprint)->status, store::CertStatus::kRevoked);
  EXPECT_FALSE(holds_key(*s, a->fingerprint));
  EXPECT_TRUE(holds_key(*s, b->fingerprint));
}

// --revoke-previous erases the replaced key in the same transaction.
TEST(RevokedKeys, RevokePreviousErasesTheKey) {
  auto s = fresh_store("src");
  auto a = store::generate_certificate(*s, {}, ctx());
  ASSERT_TRUE(a.ok());
  store::GenerateOptions options;
  options.revoke_previous = true;
  ASSERT_TRUE(store::generate_certificate(*s, options, ctx()).ok());
  EXPECT_EQ(find(*s, a->fingerprint)->status, store::CertStatus::kRevoked);
  EXPECT_FALSE(holds_key(*s, a->fingerprint));
}

// A store revoked by an older version still holds the key: no backup carries it, a
// restore drops it, and revoking again erases it.
TEST(RevokedKeys, AKeyLeftByAnOlderVersionIsNeitherExportedNorRestored) {
  auto s = fresh_store("src");
  ASSERT_TRUE(store::generate_certificate(*s, {}, ctx()).ok());
  auto key = crypto::PrivateKey::generate(crypto::Algorithm::kEcdsaP256);
  auto cert = crypto::Certificate::make_self_signed(*key, crypto::kAuthenticationSubject, 30, kNow);
  const std::string fp = cert->fingerprint();
  ASSERT_TRUE(s->write([&](store::CertTxn& t) -> Status {
                 auto r = store::record_for(*cert, store::CertStatus::kRevoked, true, 0, kNow);
                 return t.insert(r, &*key);
               }).ok());
  ASSERT_TRUE(holds_key(*s, fp));
  auto snap = snapshot_store(*s, kNow);
  ASSERT_TRUE(snap.ok());
  for (const auto& c : snap->certificates) EXPECT_TRUE(c.certificate.fingerprint() != fp || !c.key);

  // Even a backup that carries such a key (written by an older version) restores none.
  Backup legacy = *snap;
  for (auto& c : legacy.certificates)
    if (c.certificate.fingerprint() == fp) c.key = *key;
  auto target = fresh_store("dst");
  ASSERT_TRUE(restore_backup(*target, legacy, true, "legacy.zip", ctx()).ok());
  EXPECT_EQ(find(*target, fp)->status, store::CertStatus::kRevoked);
  EXPECT_FALSE(holds_key(*target, fp));

  auto again = store::revoke_certificate(*s, fp, ctx());
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_FALSE(holds_key(*s, fp));
  EXPECT_FALSE(store::revoke_certificate(*s, fp, ctx()).ok());
}

// A restore keeps the store's revoked certificates, generations included, beside an
// older backup's: the store's next backup still decodes, though a revoked certificate
// shares a generation with a restored one and has a higher one than the current.
TEST(RevokedKeys, KeptBesideAnOlderBackupTheNextBackupStillDecodes) {
  auto other = fresh_store("other");
  ASSERT_TRUE(store::generate_certificate(*other, {}, ctx()).ok());
  const std::string older = encode(*other);  // generation 1
  auto s = fresh_store("src");
  auto a = store::generate_certificate(*s, {}, ctx());
  ASSERT_TRUE(a.ok());
  store::GenerateOptions options;
  options.revoke_previous = true;
  ASSERT_TRUE(store::generate_certificate(*s, options, ctx()).ok());
  ASSERT_TRUE(store::generate_certificate(*s, options, ctx()).ok());  // 2 revoked, 3 current
  auto backup = decode_backup(older, kPassword);
  ASSERT_TRUE(backup.ok()) << backup.error().message;
  ASSERT_TRUE(restore_backup(*s, *backup, true, "older.zip", ctx()).ok());
  auto again = decode_backup(encode(*s), kPassword);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->certificates.size(), 3u);
}

class ZipCryptoTest : public ::testing::Test {
 protected:
  // a (generated), b (imported: not exportable, so no PFX), c (generated, current).
  void SetUp() override {
    store_ = fresh_store("src");
    auto a = store::generate_certificate(*store_, {}, ctx());
    auto key = crypto::PrivateKey::generate(crypto::Algorithm::kEcdsaP256);
    auto cert =
        crypto::Certificate::make_self_signed(*key, crypto::kAuthenticationSubject, 30, kNow);
    auto b = store::install_current(*store_, *key, *cert, false, false, "import", ctx());
    auto c = store::generate_certificate(*store_, {}, ctx());
    ASSERT_TRUE(a.ok() && b.ok() && c.ok());
    fps_ = {a->fingerprint, b->fingerprint, c->fingerprint};
    archive_ = encode(*store_);
  }
  std::unique_ptr<store::CertStore> store_;
  std::vector<std::string> fps_;
  std::string archive_;
};

TEST_F(ZipCryptoTest, AesManifestIsTakenAsItIs) {
  auto backup = decode_backup(repack(archive_, ZIP_EM_AES_256), kPassword);
  ASSERT_TRUE(backup.ok()) << backup.error().message;
  EXPECT_TRUE(backup->warnings.empty());
  EXPECT_EQ(backup->certificates.size(), 3u);
  EXPECT_EQ(backup->rotations.size(), 2u);
}

TEST_F(ZipCryptoTest, ManifestCountsOnlyWherePfxFilesBackIt) {
  auto backup = decode_backup(repack(archive_, ZIP_EM_TRAD_PKWARE), kPassword);
  ASSERT_TRUE(backup.ok()) << backup.error().message;
  ASSERT_FALSE(backup->warnings.empty());
  EXPECT_TRUE(has_line({backup->warnings[0]}, "ZipCrypto"));
  EXPECT_TRUE(has_line({backup->warnings[0]}, "integrity rests on the PFX files"));
  EXPECT_TRUE(has_line(backup->warnings, "ignored " + fps_[1]));
  EXPECT_TRUE(has_line(backup->warnings, "ignored rotation statement 2"));
  EXPECT_TRUE(has_line(backup->warnings, "ignored rotation statement 3"));
  ASSERT_EQ(backup->certificates.size(), 2u);
  EXPECT_TRUE(backup->rotations.empty());
  ASSERT_NE(backup->current(), nullptr);
  EXPECT_EQ(backup->current()->certificate.fingerprint(), fps_[2]);
  auto target = fresh_store("dst");
  auto summary = restore_backup(*target, *backup, true, "zipcrypto.zip", ctx());
  ASSERT_TRUE(summary.ok()) << summary.error().message;
  EXPECT_FALSE(find(*target, fps_[1]));
  EXPECT_EQ(find(*target, fps_[2])->status, store::CertStatus::kCurrent);
}

// Someone who recovered the ZipCrypto keys (known plaintext; no password needed) rolls
// the current certificate back to an older one: the signed history contradicts it.
TEST_F(ZipCryptoTest, AForgedCurrentContradictingTheSignedChainIsRefused) {
  auto swap_current = [&](std::vector<ZipEntry>& e) {
    std::string& m = e[0].data;
    const std::string cur = "\"status\":\"current\"", ret = "\"status\":\"retired\"";
    m.replace(m.find(cur), cur.size(), "\"status\":\"XXXXXXX\"");
    m.replace(m.find(ret), ret.size(), cur);  // a, the first listed
    m.replace(m.find("\"status\":\"XXXXXXX\""), cur.size(), ret);
  };
  // b dropped (no PFX) leaves a (generation 1) and c (generation 3) without statements:
  // a marked current below c's generation is refused.
  auto forged = decode_backup(repack(archive_, ZIP_EM_TRAD_PKWARE, swap_current), kPassword);
  ASSERT_FALSE(forged.ok());
  EXPECT_NE(forged.error().message.find("above the current one's"), std::string::npos)
      << forged.error().message;
}

// A ZIP of PFX files restored into a fresh store: its current goes above any count the
// key's own store can have reached, and later rotations go on from there.
TEST(HistoryLessRestore, GenerationsKeepIncreasingInAFreshStore) {
  auto key = crypto::PrivateKey::generate(crypto::Algorithm::kEcdsaP256);
  auto cert = crypto::Certificate::make_self_signed(*key, crypto::kAuthenticationSubject, 30, kNow);
  const std::string zip = testing::raw_zip(
      {{"server.pfx", *crypto::write_pkcs12(*key, *cert, kPassword, "x")}}, kPassword);
  auto backup = decode_backup(zip, kPassword);
  ASSERT_TRUE(backup.ok()) << backup.error().message;
  auto target = fresh_store("dst");
  const int64_t before = system_clock().now();
  auto summary = restore_backup(*target, *backup, true, "pfx.zip", ctx());
  ASSERT_TRUE(summary.ok()) << summary.error().message;
  const int64_t restored = find(*target, cert->fingerprint())->generation;
  EXPECT_GE(restored, before);  // above any 1, 2, 3, ... count agents may hold
  EXPECT_EQ(summary->generation, restored);
  auto next = store::generate_certificate(*target, {}, ctx());
  ASSERT_TRUE(next.ok()) << next.error().message;
  EXPECT_EQ(next->generation, restored + 1);
  std::vector<store::RotationRecord> rotations;
  ASSERT_TRUE(target
                  ->read([&](store::CertTxn& t) -> Status {
                    CK_ASSIGN_OR_RETURN(rotations, t.rotations());
                    return ok_status();
                  })
                  .ok());
  ASSERT_EQ(rotations.size(), 1u);
  EXPECT_EQ(rotations[0].generation, restored + 1);
  EXPECT_EQ(rotations[0].from_fingerprint, cert->fingerprint());

  // Restoring the same ZIP again (a second history-less restore) goes higher still.
  EXPECT_GT(history_less_generation(restored + 1, before), restored + 1);
  EXPECT_EQ(history_less_generation(3, before), before);
}

}  // namespace
}  // namespace ck::archive
