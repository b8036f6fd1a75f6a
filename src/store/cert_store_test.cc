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
#include "store/postgres/pg_conn.h"
#include "store/postgres/pg_test_env.h"
#include "support/process.h"
#include "store/sqlite/sqlite_db.h"

namespace ck::store {
namespace {


// Parameterized over the backend: "sqlite" or "postgres" (a private schema on the
// CK_TEST_POSTGRES_URL server; skipped locally without it, a failure under CI=true).
class CertStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = ck::testing::temp_dir();
    if (postgres()) {
      CK_REQUIRE_POSTGRES();
      auto schema = pg::testing::TestSchema::create(pg::testing::server_url());
      ASSERT_TRUE(schema.ok()) << schema.error().message;
      schema_ = std::move(schema).value();
      url_ = schema_->url();
      kek_ = dir_ + "/pg.kek";
    } else {
      url_ = "sqlite:" + dir_ + "/ck.db";
      kek_ = dir_ + "/ck.db.kek";
    }
    auto s = open_cert_store(url_, options());
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(s).value();
  }
  void TearDown() override {
    store_.reset();
    schema_.reset();
    std::filesystem::remove_all(dir_);
  }

  bool postgres() const { return GetParam() == "postgres"; }
  StoreOptions options() const {
    StoreOptions options;
    options.busy_timeout_ms = 100;
    if (postgres()) options.key_file = kek_;
    return options;
  }
  Context ctx() const { return Context{"tester", nullptr}; }

  // Raw access to the database behind the store, bypassing it.
  Status raw_exec(const std::string& sql) {
    if (postgres()) {
      CK_ASSIGN_OR_RETURN(auto conn, pg::PgConn::connect(url_));
      CK_RETURN_IF_ERROR(conn.exec(sql));
      return ok_status();
    }
    CK_ASSIGN_OR_RETURN(auto db, sqlite::SqliteDb::open(dir_ + "/ck.db", {}));
    return db.exec(sql);
  }
  Result<std::string> raw_sealed_key() {
    const std::string sql = "SELECT sealed_key FROM certificates";
    if (postgres()) {
      CK_ASSIGN_OR_RETURN(auto conn, pg::PgConn::connect(url_));
      CK_ASSIGN_OR_RETURN(auto rows, conn.exec(sql));
      if (rows.size() != 1) return make_error(ErrorKind::kNotFound, "expected one row");
      return rows.bytea(0, 0);
    }
    CK_ASSIGN_OR_RETURN(auto db, sqlite::SqliteDb::open(dir_ + "/ck.db", {}));
    CK_ASSIGN_OR_RETURN(auto stmt, db.prepare(sql));
    CK_ASSIGN_OR_RETURN(bool row, stmt.step());
    if (!row) return make_error(ErrorKind::kNotFound, "no row");
    return stmt.text(0);
  }

  std::string dir_, url_, kek_;
  std::unique_ptr<pg::testing::TestSchema> schema_;
  std::unique_ptr<CertStore> store_;
};

TEST_P(CertStoreTest, FirstGenerateBecomesCurrentWithGenerationOne) {
  auto r = generate_certificate(*store_, {}, ctx());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, CertStatus::kCurrent);
  EXPECT_EQ(r->generation, 1);
  EXPECT_TRUE(r->exportable);
  std::optional<CertRecord> current;
  ASSERT_TRUE(store_
                  ->read([&](CertTxn& t) -> Status {
                    CK_ASSIGN_OR_RETURN(current, t.current());
                    return ok_status();
                  })
                  .ok());
  ASSERT_TRUE(current.has_value());
  EXPECT_EQ(current->fingerprint, r->fingerprint);
}

TEST_P(CertStoreTest, ReplacementRetiresPreviousAndRecordsVerifiableRotation) {
  auto a = generate_certificate(*store_, {}, ctx());
  auto b = generate_certificate(*store_, {}, ctx());
  ASSERT_TRUE(a.ok() && b.ok());
  std::vector<CertRecord> all;
  std::vector<RotationRecord> rotations;
  std::vector<AuditEntry> audit;
  ASSERT_TRUE(store_
                  ->read([&](CertTxn& t) -> Status {
                    CK_ASSIGN_OR_RETURN(all, t.list());
                    CK_ASSIGN_OR_RETURN(rotations, t.rotations());
                    CK_ASSIGN_OR_RETURN(audit, t.audit_log());
                    return ok_status();
                  })
                  .ok());
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
  auto v =
      crypto::verify_rotation(rotations[0].by_old, rotations[0].by_new, a_cert->public_key(), 1);
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(v->generation, 2);
  ASSERT_EQ(audit.size(), 2u);
  EXPECT_EQ(audit[1].actor, "tester");
  EXPECT_EQ(audit[1].action, "generate");
}

TEST_P(CertStoreTest, RevokeRulesAndRevokePrevious) {
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
  ASSERT_TRUE(store_
                  ->read([&](CertTxn& t) -> Status {
                    CK_ASSIGN_OR_RETURN(old, t.find(a->fingerprint));
                    CK_ASSIGN_OR_RETURN(rotations, t.rotations());
                    return ok_status();
                  })
                  .ok());
  EXPECT_EQ(old->status, CertStatus::kRevoked);
  EXPECT_TRUE(rotations.empty()) << "a revoked key must not sign a rotation statement";
  EXPECT_FALSE(revoke_certificate(*store_, "00", ctx()).ok());
}

TEST_P(CertStoreTest, RevokedKeyCanNeverBecomeCurrentAgain) {
  auto key = crypto::PrivateKey::generate(crypto::Algorithm::kEcdsaP256);
  auto cert =
      crypto::Certificate::make_self_signed(*key, crypto::kAuthenticationSubject, 5, 1800000000);
  ASSERT_TRUE(key.ok() && cert.ok());
  ASSERT_TRUE(install_current(*store_, *key, *cert, false, false, "import", ctx()).ok());
  ASSERT_TRUE(generate_certificate(*store_, {}, ctx()).ok());
  ASSERT_TRUE(revoke_certificate(*store_, key->fingerprint(), ctx()).ok());
  auto again = install_current(*store_, *key, *cert, false, false, "import", ctx());
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message.find("revoked"), std::string::npos);
}

TEST_P(CertStoreTest, FailedWriteLeavesStoreUnchanged) {
  ASSERT_TRUE(generate_certificate(*store_, {}, ctx()).ok());
  auto before = store_->change_counter();
  Status s = store_->write([&](CertTxn& t) -> Status {
    CK_RETURN_IF_ERROR(t.delete_all_certificates());
    return make_error(ErrorKind::kIo, "simulated failure half way");
  });
  ASSERT_FALSE(s.ok());
  size_t count = 0;
  ASSERT_TRUE(store_
                  ->read([&](CertTxn& t) -> Status {
                    CK_ASSIGN_OR_RETURN(auto all, t.list());
                    count = all.size();
                    return ok_status();
                  })
                  .ok());
  EXPECT_EQ(count, 1u);
  EXPECT_EQ(*store_->change_counter(), *before);
}

TEST_P(CertStoreTest, SecondConcurrentWriterGetsBusy) {
  auto other = open_cert_store(url_, options());
  ASSERT_TRUE(other.ok());
  Status inner_status;
  ASSERT_TRUE(store_
                  ->write([&](CertTxn&) -> Status {
                    inner_status = (*other)->write([](CertTxn&) { return ok_status(); });
                    return ok_status();
                  })
                  .ok());
  ASSERT_FALSE(inner_status.ok());
  EXPECT_EQ(inner_status.error().kind, ErrorKind::kBusy);
  EXPECT_NE(inner_status.error().message.find("store is busy"), std::string::npos);
}

TEST_P(CertStoreTest, KeysAreEncryptedAtRestAndKekIsPrivate) {
  auto a = generate_certificate(*store_, {}, ctx());
  ASSERT_TRUE(a.ok());
  struct stat st {};
  ASSERT_EQ(::stat(kek_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  if (!postgres()) {
    ASSERT_EQ(::stat((dir_ + "/ck.db").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0077, 0u);
  }
  // The stored blob is an encrypted PKCS#8 and only opens with the KEK.
  auto blob = raw_sealed_key();
  ASSERT_TRUE(blob.ok()) << blob.error().message;
  EXPECT_GT(blob->size(), 32u);
  EXPECT_FALSE(crypto::PrivateKey::from_pkcs8_der(*blob).ok());
  EXPECT_FALSE(crypto::PrivateKey::from_encrypted_pkcs8_der(*blob, "guess").ok());
  // With the KEK, the store gives the key back.
  std::optional<crypto::PrivateKey> key;
  ASSERT_TRUE(store_
                  ->read([&](CertTxn& t) -> Status {
                    CK_ASSIGN_OR_RETURN(key, t.private_key(a->fingerprint));
                    return ok_status();
                  })
                  .ok());
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(key->fingerprint(), a->fingerprint);
  // A lost KEK means the store does not open for key use.
  std::filesystem::remove(kek_);
  StoreOptions no_create = options();
  no_create.create = false;
  EXPECT_FALSE(open_cert_store(url_, no_create).ok());
}

TEST_P(CertStoreTest, AuditLogIsAppendOnly) {
  ASSERT_TRUE(generate_certificate(*store_, {}, ctx()).ok());
  std::vector<std::string> attacks = {"UPDATE audit SET actor = 'mallory'", "DELETE FROM audit"};
  if (postgres()) attacks.push_back("TRUNCATE audit");
  for (const auto& sql : attacks) {
    Status s = raw_exec(sql);
    ASSERT_FALSE(s.ok()) << sql;
    EXPECT_NE(s.error().message.find("append-only"), std::string::npos)
        << sql << ": " << s.error().message;
  }
  std::vector<AuditEntry> audit;
  ASSERT_TRUE(store_
                  ->read([&](CertTxn& t) -> Status {
                    CK_ASSIGN_OR_RETURN(audit, t.audit_log());
                    return ok_status();
                  })
                  .ok());
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].actor, "tester");
}

TEST_P(CertStoreTest, AuditQueryFiltersBySinceAndKeepsTheNewestLimitOldestFirst) {
  // Appended out of time order on purpose: the order is the order appended (id).
  const std::vector<int64_t> times = {100, 300, 200, 400, 500};
  ASSERT_TRUE(store_
                  ->write([&](CertTxn& t) -> Status {
                    for (size_t i = 0; i < times.size(); ++i)
                      CK_RETURN_IF_ERROR(t.append_audit(
                          AuditEntry{times[i], "actor" + std::to_string(i), "act", "d", ""}));
                    return ok_status();
                  })
                  .ok());
  auto actors = [&](AuditQuery q) {
    std::vector<std::string> out;
    Status s = store_->read([&](CertTxn& t) -> Status {
      CK_ASSIGN_OR_RETURN(auto entries, t.audit_log(q));
      for (const auto& e : entries) out.push_back(e.actor);
      return ok_status();
    });
    EXPECT_TRUE(s.ok()) << s.error().message;
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(actors({}), (V{"actor0", "actor1", "actor2", "actor3", "actor4"}));
  EXPECT_EQ(actors({0, 2}), (V{"actor3", "actor4"}));
  EXPECT_EQ(actors({250, 0}), (V{"actor1", "actor3", "actor4"}));
  EXPECT_EQ(actors({200, 3}), (V{"actor2", "actor3", "actor4"}));
  EXPECT_EQ(actors({200, 1}), (V{"actor4"}));
  EXPECT_EQ(actors({501, 0}), V{});
  EXPECT_EQ(actors({0, 100}).size(), 5u);
}

TEST_P(CertStoreTest, ChangeCounterMovesOnEveryCommit) {
  auto c0 = store_->change_counter();
  ASSERT_TRUE(generate_certificate(*store_, {}, ctx()).ok());
  auto c1 = store_->change_counter();
  ASSERT_TRUE(c0.ok() && c1.ok());
  EXPECT_GT(*c1, *c0);
}

TEST_P(CertStoreTest, ChangeCounterSeesCommitsOfAnotherConnection) {
  auto other = open_cert_store(url_, options());
  ASSERT_TRUE(other.ok()) << other.error().message;
  auto before = (*other)->change_counter();
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(generate_certificate(*store_, {}, ctx()).ok());
  auto after = (*other)->change_counter();
  ASSERT_TRUE(after.ok());
  EXPECT_GT(*after, *before);
  std::optional<CertRecord> current;
  ASSERT_TRUE((*other)
                  ->read([&](CertTxn& t) -> Status {
                    CK_ASSIGN_OR_RETURN(current, t.current());
                    return ok_status();
                  })
                  .ok());
  ASSERT_TRUE(current.has_value());
  EXPECT_TRUE(current->has_private_key);
}

TEST_P(CertStoreTest, MissingStoreIsNotCreatedWithoutCreate) {
  StoreOptions no_create = options();
  no_create.create = false;
  std::string url;
  std::unique_ptr<pg::testing::TestSchema> empty;
  if (postgres()) {
    auto schema = pg::testing::TestSchema::create(pg::testing::server_url());
    ASSERT_TRUE(schema.ok());
    empty = std::move(schema).value();
    url = empty->url();
  } else {
    url = "sqlite:" + dir_ + "/absent.db";
  }
  auto s = open_cert_store(url, no_create);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, ErrorKind::kNotFound);
}

INSTANTIATE_TEST_SUITE_P(Backends, CertStoreTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

// PostgreSQL only: its KEK lives on each server, apart from the shared database.
TEST(PostgresCertStore, WrongOrMissingKekIsRefusedOnceKeysAreStored) {
  CK_REQUIRE_POSTGRES();
  const std::string dir = ck::testing::temp_dir();
  auto schema = pg::testing::TestSchema::create(pg::testing::server_url());
  ASSERT_TRUE(schema.ok()) << schema.error().message;
  StoreOptions right;
  right.key_file = dir + "/right.kek";
  {
    auto store = open_cert_store((*schema)->url(), right);
    ASSERT_TRUE(store.ok()) << store.error().message;
    ASSERT_TRUE(generate_certificate(**store, {}, Context{"tester", nullptr}).ok());
  }
  // A second server configured with a KEK path that does not exist: no new KEK is made.
  StoreOptions missing;
  missing.key_file = dir + "/other/missing.kek";
  auto s = open_cert_store((*schema)->url(), missing);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, ErrorKind::kNotFound);
  EXPECT_NE(s.error().message.find("copy that file"), std::string::npos) << s.error().message;
  EXPECT_FALSE(std::filesystem::exists(missing.key_file));
  // A KEK that exists but is another one.
  auto other = pg::testing::TestSchema::create(pg::testing::server_url());
  ASSERT_TRUE(other.ok());
  StoreOptions wrong;
  wrong.key_file = dir + "/wrong.kek";
  ASSERT_TRUE(open_cert_store((*other)->url(), wrong).ok());  // creates wrong.kek
  s = open_cert_store((*schema)->url(), wrong);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().kind, ErrorKind::kCrypto);
  // The right one still opens.
  EXPECT_TRUE(open_cert_store((*schema)->url(), right).ok());
  std::filesystem::remove_all(dir);
}

TEST(PostgresCertStore, SurvivesTheServerDroppingItsConnection) {
  CK_REQUIRE_POSTGRES();
  const std::string dir = ck::testing::temp_dir();
  auto schema = pg::testing::TestSchema::create(pg::testing::server_url());
  ASSERT_TRUE(schema.ok()) << schema.error().message;
  const std::string app = "ck_" + (*schema)->name();
  StoreOptions options;
  options.key_file = dir + "/pg.kek";
  auto store = open_cert_store((*schema)->url() + "&application_name=" + app, options);
  ASSERT_TRUE(store.ok()) << store.error().message;
  auto admin = pg::PgConn::connect((*schema)->url());
  ASSERT_TRUE(admin.ok());
  auto kill = [&] {
    auto killed = admin->exec(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
        {pg::Param::text(app)});
    ASSERT_TRUE(killed.ok()) << killed.error().message;
    ASSERT_EQ(killed->size(), 1);
  };
  kill();
  auto counter = (*store)->change_counter();  // the server polls this every second
  ASSERT_TRUE(counter.ok()) << counter.error().message;
  kill();
  auto generated = generate_certificate(**store, {}, Context{"tester", nullptr});
  ASSERT_TRUE(generated.ok()) << generated.error().message;
  EXPECT_GT(*(*store)->change_counter(), *counter);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ck::store
