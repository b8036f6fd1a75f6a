// The database, its -wal and its -shm are private (0600) whatever the process umask.
#include "store/sqlite/sqlite_db.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <thread>

namespace ck::sqlite {
namespace {
namespace fs = std::filesystem;

mode_t mode_of(const std::string& path) {
  struct stat st{};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

class SqliteFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    old_umask_ = ::umask(022);  // the usual default, which made them 0644
    char tmpl[] = "/tmp/ck_sqlite_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    db_ = dir_ + "/registry.db";
  }
  void TearDown() override {
    ::umask(old_umask_);
    fs::remove_all(dir_);
  }
  void write_in_wal_mode(SqliteDb& db) {
    ASSERT_TRUE(db.exec("PRAGMA journal_mode = WAL").ok());
    ASSERT_TRUE(db.exec("CREATE TABLE IF NOT EXISTS t (v TEXT)").ok());
    ASSERT_TRUE(db.exec("INSERT INTO t VALUES ('x')").ok());
  }

  mode_t old_umask_ = 0;
  std::string dir_, db_;
};

TEST_F(SqliteFiles, NewDatabaseWalAndShmAre0600) {
  auto db = SqliteDb::open(db_, SqliteDb::Options{});
  ASSERT_TRUE(db.ok()) << db.error().message;
  write_in_wal_mode(*db);
  ASSERT_TRUE(fs::exists(db_ + "-wal"));
  ASSERT_TRUE(fs::exists(db_ + "-shm"));
  EXPECT_EQ(mode_of(db_), 0600u);
  EXPECT_EQ(mode_of(db_ + "-wal"), 0600u);
  EXPECT_EQ(mode_of(db_ + "-shm"), 0600u);
  // The process umask is restored.
  mode_t now = ::umask(022);
  EXPECT_EQ(now, 022u);
}

// Side files an older version left readable are tightened to the database's own mode.
TEST_F(SqliteFiles, ExistingWideSideFilesAreTightened) {
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open_v2(db_.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "PRAGMA journal_mode = WAL; CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('x');",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  ASSERT_EQ(mode_of(db_ + "-wal"), 0644u);  // what the old code produced
  ASSERT_EQ(::chmod(db_.c_str(), 0600), 0);
  {
    auto db = SqliteDb::open(db_, SqliteDb::Options{});
    ASSERT_TRUE(db.ok()) << db.error().message;
    EXPECT_EQ(mode_of(db_ + "-wal"), 0600u);
    EXPECT_EQ(mode_of(db_ + "-shm"), 0600u);
  }
  sqlite3_close(raw);
}

// A writer waits for another connection's write lock and takes it once it is free, and
// gives up with kBusy after its busy timeout (our handler, not SQLite's).
TEST_F(SqliteFiles, WriterWaitsForTheLockAndGivesUpAfterItsTimeout) {
  using namespace std::chrono;
  auto holder = SqliteDb::open(db_, {.busy_timeout_ms = 5000});
  ASSERT_TRUE(holder.ok());
  write_in_wal_mode(*holder);
  auto patient = SqliteDb::open(db_, {.busy_timeout_ms = 5000});
  auto hasty = SqliteDb::open(db_, {.busy_timeout_ms = 100});
  ASSERT_TRUE(patient.ok() && hasty.ok());

  auto held = WriteTransaction::begin(*holder);
  ASSERT_TRUE(held.ok());
  const auto t0 = steady_clock::now();
  auto refused = WriteTransaction::begin(*hasty);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::kBusy);
  EXPECT_GE(steady_clock::now() - t0, milliseconds(100));

  auto waiter = std::async(std::launch::async, [&] {
    auto txn = WriteTransaction::begin(*patient);
    const auto got = steady_clock::now();
    EXPECT_TRUE(txn.ok());
    if (txn.ok()) {
      EXPECT_TRUE(patient->exec("INSERT INTO t VALUES ('y')").ok());
      EXPECT_TRUE(txn->commit().ok());
    }
    return got;
  });
  std::this_thread::sleep_for(milliseconds(300));
  const auto releasing = steady_clock::now();  // the lock is freed inside commit()
  ASSERT_TRUE(held->commit().ok());
  const auto got = waiter.get();
  EXPECT_GE(got, releasing);  // it waited for the lock, and got it
}

}  // namespace
}  // namespace ck::sqlite
