// `certmgr revoke` erases the private key, and nothing brings it back: not a later
// backup, not a restore of a backup made before the revoke. The real binary, on SQLite
// and on PostgreSQL (a private schema on CK_TEST_POSTGRES_URL; skipped locally without
// it, a failure under CI=true).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <regex>
#include <sstream>

#include "archive/manifest.h"
#include "archive/zip_reader.h"
#include "store/cert_store.h"
#include "store/postgres/pg_test_env.h"
#include "support/process.h"

namespace ck {
namespace {

using testing::ProcessResult;
namespace json = boost::json;

const std::string kPassword = "Revoke-Pa55phrase-7zip!";

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct Held {
  store::CertStatus status;
  bool has_private_key;
  bool key_readable;
};

class RevokeRestoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = testing::temp_dir();
    if (GetParam() == "postgres") {
      CK_REQUIRE_POSTGRES();
      auto schema = pg::testing::TestSchema::create(pg::testing::server_url());
      ASSERT_TRUE(schema.ok()) << schema.error().message;
      schema_ = std::move(schema).value();
      url_ = schema_->url();
    } else {
      url_ = "sqlite:" + dir_ + "/ck.db";
    }
    env_.env["CERTKEEPER_STORE"] = url_;
    env_.env["CERTKEEPER_STORE_KEY_FILE"] = dir_ + "/store.kek";
    env_.unset_env = {"CERTKEEPER_PASSWORD"};
  }

  ProcessResult certmgr(std::vector<std::string> args) {
    args.insert(args.begin(), testing::bin("certmgr"));
    return testing::run(args, env_);
  }
  std::string generate(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"generate"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(kPassword);
    auto r = certmgr(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::smatch m;
    EXPECT_TRUE(std::regex_search(r.out, m, std::regex("generated ([0-9a-f]{64})"))) << r.out;
    return m[1];
  }
  // What the store itself holds for `fp`, read as the server would.
  Held held(const std::string& fp) {
    store::StoreOptions options;
    options.create = false;
    options.key_file = dir_ + "/store.kek";
    auto s = store::open_cert_store(url_, options);
    EXPECT_TRUE(s.ok()) << s.error().message;
    Held h{store::CertStatus::kCurrent, true, true};
    if (!s.ok()) return h;
    EXPECT_TRUE((*s)->read([&](store::CertTxn& t) -> Status {
                      CK_ASSIGN_OR_RETURN(auto r, t.find(fp));
                      if (!r) return make_error(ErrorKind::kNotFound, "no " + fp);
                      EXPECT_FALSE(r->cert_pem.empty());  // the certificate stays
                      CK_ASSIGN_OR_RETURN(auto key, t.private_key(fp));
                      h = Held{r->status, r->has_private_key, key.has_value()};
                      return ok_status();
                    })
                    .ok());
    return h;
  }
  void expect_revoked_without_key(const std::string& fp) {
    Held h = held(fp);
    EXPECT_EQ(h.status, store::CertStatus::kRevoked);
    EXPECT_FALSE(h.has_private_key);
    EXPECT_FALSE(h.key_readable);
  }
  // The PFX entries of a backup this store writes now.
  std::vector<std::string> pfx_in_new_backup(const std::string& name) {
    const std::string zip = dir_ + "/" + name;
    auto r = certmgr({"backup", kPassword, zip});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto entries = archive::read_zip_entries(slurp(zip), kPassword);
    EXPECT_TRUE(entries.ok()) << entries.error().message;
    std::vector<std::string> out;
    if (entries.ok())
      for (const auto& e : *entries)
        if (e.name != archive::kManifestName) out.push_back(e.name);
    return out;
  }

  std::string dir_, url_;
  testing::RunOptions env_;
  std::unique_ptr<pg::testing::TestSchema> schema_;
};

TEST_P(RevokeRestoreTest, RevokeErasesTheKeyAndNoBackupOrRestoreBringsItBack) {
  const std::string a = generate();
  const std::string b = generate();
  const std::string old_zip = dir_ + "/old.zip";
  ASSERT_EQ(certmgr({"backup", kPassword, old_zip}).exit_code, 0);  // holds a's key

  auto r = certmgr({"revoke", a});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("private key is erased"), std::string::npos) << r.out;
  expect_revoked_without_key(a);
  EXPECT_TRUE(held(b).key_readable);
  auto st = certmgr({"--json", "status"});
  ASSERT_EQ(st.exit_code, 0) << st.err;
  bool listed = false;
  const json::value status = json::parse(st.out);
  for (const auto& c : status.at("certificates").as_array()) {
    if (c.at("fingerprint").as_string() != a) continue;
    listed = true;
    EXPECT_EQ(c.at("status").as_string(), "revoked");
    EXPECT_FALSE(c.at("exportable").as_bool());
  }
  EXPECT_TRUE(listed) << st.out;
  EXPECT_EQ(pfx_in_new_backup("after-revoke.zip"), std::vector<std::string>{b + ".pfx"});
  auto noted = certmgr({"backup", kPassword, dir_ + "/noted.zip"});
  EXPECT_NE(noted.out.find("note: " + a + " is revoked; the backup holds its certificate, never"),
            std::string::npos)
      << noted.out;

  // The backup made before the revoke, restored after it: a stays revoked and key-less.
  auto restored = certmgr({"-r", kPassword, old_zip});
  ASSERT_EQ(restored.exit_code, 0) << restored.err;
  // It drops nothing but what a restore keeps anyway: no safety backup.
  EXPECT_EQ(restored.out.find("saved first"), std::string::npos) << restored.out;
  expect_revoked_without_key(a);
  EXPECT_EQ(held(b).status, store::CertStatus::kCurrent);
  EXPECT_TRUE(held(b).key_readable);
  EXPECT_EQ(pfx_in_new_backup("after-restore.zip"), std::vector<std::string>{b + ".pfx"});
  // Nothing is left to erase: revoking again is refused.
  auto again = certmgr({"revoke", a});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("already revoked"), std::string::npos) << again.err;
}

TEST_P(RevokeRestoreTest, GenerateRevokePreviousErasesTheReplacedKey) {
  const std::string a = generate();
  const std::string old_zip = dir_ + "/old.zip";
  ASSERT_EQ(certmgr({"backup", kPassword, old_zip}).exit_code, 0);
  const std::string b = generate({"--revoke-previous"});
  expect_revoked_without_key(a);
  EXPECT_EQ(pfx_in_new_backup("now.zip"), std::vector<std::string>{b + ".pfx"});
  // The old backup's current is revoked here: refused, the store as it was.
  auto r = certmgr({"-r", kPassword, old_zip});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("is revoked in this store"), std::string::npos) << r.err;
  expect_revoked_without_key(a);
  EXPECT_EQ(held(b).status, store::CertStatus::kCurrent);
}

INSTANTIATE_TEST_SUITE_P(Backends, RevokeRestoreTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace ck
