// CertStore contract tests; run against SQLite, and against PostgreSQL when
// CK_TEST_POSTGRES_URL names a server (scripts/test starts one).
#include "store/cert_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "crypto/rotation_statement.h"
#include "store/cert_operations.h"
#include "store/sqlite/sqlite_db.h"

namespace ck::store {
namespace {

std::string fresh_dir() {
  auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = std::string(info->test_suite_name()) + "-" + info->name();
  for (char& c : name) if (c == '/') c = '_';
  auto dir = std::filesystem::temp_directory_path() / ("ck-store-" + std::to_string(::getpid()) + "-" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

class CertStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_dir();
    url_ = "sqlite:" + dir_ + "/ck.db";
    StoreOptions options;
    options.busy_timeout_ms = 100;
    auto s = open_cert_store(url_, options);
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(s).value();
  }
  Context ctx() const { return Context{"tester", nullptr}; }

  std::string dir_, url_;
  std::unique_ptr<CertStore> store_;
};

TEST_F(CertStoreTest, FirstGenerateBecomesCurrentWithGenerationOne) {
  auto r = generate_certificate(*store_, {}, ctx());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, CertStatus::kCurrent);
  EXPECT_EQ(r->generation, 1);
  EXPECT_TRUE(r->exportable);
  std::optional<CertRecord> current;
  ASSERT_TRUE(store_->read([&](CertTxn& t) -> Status {
    CK_ASSIGN_OR_RETURN(current, t.current());
    return ok_status();
  }).ok());
  ASSERT_TRUE(current.has_value());
  EXPECT_EQ(current->fingerprint, r->fingerprint);
}

TEST_F(CertStoreTest, ReplacementRetiresPreviousAndRecordsVerifiableRotation) {
  auto a = generate_certificate(*store_, {}, ctx());
  auto b = generate_certificate(*store_, {}, ctx());
  ASSERT_TRUE(a.ok() && b.ok());
  std::vector<CertRecord> all;
  std::vector<RotationRecord> rotations;
  std::vector<AuditEntry> audit;
  ASSERT_TRUE(store_->read([&](CertTxn& t) -> Status {
    CK_ASSIGN_OR_RETURN(all, t.list());
    CK_ASSIGN_OR_RETURN(rotations, t.rotations());
    CK_ASSIGN_OR_RETURN(audit, t.audit_log());
    return ok_status();
  }).ok());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].fingerprint, a->fingerprint);
  EXPECT_EQ(all[0].status, CertStatus::kRetired);
  EXPECT_EQ(all[1].status, CertStatus::kCurrent);
  EXPECT_EQ(all[1].generation, 2);
  ASSERT_EQ(rotations.size(), 1u);
  EXPECT_EQ(rotations[0].from_fingerprint, a->fingerprint);
  EXPECT_EQ(rotations[0].to_fingerprint, b->fingerprint);
  auto a_cert = crypto::Certificate::parse(a->cert_pem);
  ASSERT_TRUE(a_cert.ok());
  auto v = crypto::verify_rotation(rotations[0].by_old, rotations[0].by_new, a_cert->public_key(), 1);
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(v->generation, 2);
  ASSERT_EQ(audit.size(), 2u);
  EXPECT_EQ(audit[1].actor, "tester");
  EXPECT_EQ(audit[1].action, "generate");
}

TEST_F(CertStoreTest, RevokeRulesAndRevokePrevious) {
  auto a = generate_certificate(*store_, {}, ctx());
  ASSERT_TRUE(a.ok());
  auto refused = revoke_certificate(*store_, a->fingerprint, ctx());
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("replace it first"), std::string::npos);
  GenerateOptions opts;
  opts.revoke_previous = true;
  auto b = generate_certificate(*store_, opts, ctx());
  ASSERT_TRUE(b.ok());
  std::optional<CertRecord> old;
  std::vector<RotationRecord> rotations;
  ASSERT_TRUE(store_->read([&](CertTxn& t) -> Status {
    CK_ASSIGN_OR_RETURN(old, t.find(a->fingerprint));
    CK_ASSIGN_OR_RETURN(rotations, t.rotations());
    return ok_status();
  }).ok());
  EXPECT_EQ(old->status, CertStatus::kRevoked);
  EXPECT_TRUE(rotations.empty()) << "a revoked key must not sign a rotation statement";
  EXPECT_FALSE(revoke_certificate(*store_, "00", ctx()).ok());
}

TEST_F(CertStoreTest, RevokedKeyCanNeverBecomeCurrentAgain) {
  auto key = crypto::PrivateKey::generate(crypto::Algorithm::kEcdsaP256);
  auto cert = crypto::Certificate::make_self_signed(*key, crypto::kAuthenticationSubject, 5, 1800000000);
  ASSERT_TRUE(key.ok() && cert.ok());
  ASSERT_TRUE(install_current(*store_, *key, *cert, false, false, "import", ctx()).ok());
  ASSERT_TRUE(generate_certificate(*store_, {}, ctx()).ok());
  ASSERT_TRUE(revoke_certificate(*store_, key->fingerprint(), ctx()).ok());
  auto again = install_current(*store_, *key, *cert, false, false, "import", ctx());
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message.find("revoked"), std::string::npos);
}

TEST_F(CertStoreTest, FailedWriteLeavesStoreUnchanged) {
  ASSERT_TRUE(generate_certificate(*store_, {}, ctx()).ok());
  auto before = store_->change_counter();
  Status s = store_->write([&](CertTxn& t) -> Status {
    CK_RETURN_IF_ERROR(t.delete_all_certificates());
    return make_error(ErrorKind::kIo, "simulated failure half way");
  });
  ASSERT_FALSE(s.ok());
  size_t count = 0;
  ASSERT_TRUE(store_->read([&](CertTxn& t) -> Status {
    CK_ASSIGN_OR_RETURN(auto all, t.list());
    count = all.size();
    return ok_status();
  }).ok());
  EXPECT_EQ(count, 1u);
  EXPECT_EQ(*store_->change_counter(), *before);
}

TEST_F(CertStoreTest, SecondConcurrentWriterGetsBusy) {
  StoreOptions options;
  options.busy_timeout_ms = 100;
  auto other = open_cert_store(url_, options);
  ASSERT_TRUE(other.ok());
  Status inner_status;
  ASSERT_TRUE(store_->write([&](CertTxn&) -> Status {
    inner_status = (*other)->write([](CertTxn&) { return ok_status(); });
    return ok_status();
  }).ok());
  ASSERT_FALSE(inner_status.ok());
  EXPECT_EQ(inner_status.error().kind, ErrorKind::kBusy);
  EXPECT_NE(inner_status.error().message.find("store is busy"), std::string::npos);
}

TEST_F(CertStoreTest, KeysAreEncryptedAtRestAndKekIsPrivate) {
  auto a = generate_certificate(*store_, {}, ctx());
  ASSERT_TRUE(a.ok());
  struct stat st{};
  ASSERT_EQ(::stat((dir_ + "/ck.db.kek").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((dir_ + "/ck.db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0077, 0u);
  // The stored blob is an encrypted PKCS#8 and only opens with the KEK.
  auto db = sqlite::SqliteDb::open(dir_ + "/ck.db", {});
  ASSERT_TRUE(db.ok());
  auto stmt = db->prepare("SELECT sealed_key FROM certificates");
  ASSERT_TRUE(stmt.ok());
  ASSERT_TRUE(*stmt->step());
  std::string blob = stmt->text(0);
  EXPECT_FALSE(crypto::PrivateKey::from_pkcs8_der(blob).ok());
  EXPECT_FALSE(crypto::PrivateKey::from_encrypted_pkcs8_der(blob, "guess").ok());
  // A lost KEK means the store does not open for key use.
  std::filesystem::remove(dir_ + "/ck.db.kek");
  StoreOptions no_create;
  no_create.create = false;
  EXPECT_FALSE(open_cert_store(url_, no_create).ok());
}

TEST_F(CertStoreTest, AuditLogIsAppendOnly) {
  ASSERT_TRUE(generate_certificate(*store_, {}, ctx()).ok());
  auto db = sqlite::SqliteDb::open(dir_ + "/ck.db", {});
  ASSERT_TRUE(db.ok());
  EXPECT_FALSE(db->exec("UPDATE audit SET actor = 'mallory'").ok());
  EXPECT_FALSE(db->exec("DELETE FROM audit").ok());
}

TEST_F(CertStoreTest, ChangeCounterMovesOnEveryCommit) {
  auto c0 = store_->change_counter();
  ASSERT_TRUE(generate_certificate(*store_, {}, ctx()).ok());
  auto c1 = store_->change_counter();
  ASSERT_TRUE(c0.ok() && c1.ok());
  EXPECT_GT(*c1, *c0);
}

}  // namespace
}  // namespace ck::store
