// Test support (library ck_pg_testing, linked only by tests): one private PostgreSQL
// schema per test on the server named by $CK_TEST_POSTGRES_URL, so suites run in
// parallel under ctest without seeing each other's tables.
//
// Without $CK_TEST_POSTGRES_URL the PostgreSQL cases skip locally but FAIL under CI
// (env CI=true): CI must never pass by silently not testing PostgreSQL.
#pragma once

#include <memory>
#include <string>

#include "common/result.h"

namespace ck::pg::testing {

// $CK_TEST_POSTGRES_URL, or "" when unset.
std::string server_url();
// True when CI=true: a missing server is an error, not a skip.
bool required();

// A schema created on construction and dropped (CASCADE) on destruction.
class TestSchema {
 public:
  static Result<std::unique_ptr<TestSchema>> create(const std::string& server_url);
  ~TestSchema();
  TestSchema(const TestSchema&) = delete;
  TestSchema& operator=(const TestSchema&) = delete;

  const std::string& name() const { return name_; }
  // The server URL with search_path set to this schema: give it to the store/registry.
  const std::string& url() const { return url_; }

 private:
  TestSchema(std::string server_url, std::string name, std::string url)
      : server_url_(std::move(server_url)), name_(std::move(name)), url_(std::move(url)) {}
  std::string server_url_, name_, url_;
};

}  // namespace ck::pg::testing

// In a gtest SetUp(): skip (locally) or fail (CI) when no PostgreSQL server is set.
#define CK_REQUIRE_POSTGRES()                                                                  \
  do {                                                                                         \
    if (::ck::pg::testing::server_url().empty()) {                                             \
      if (::ck::pg::testing::required()) {                                                     \
        FAIL() << "CK_TEST_POSTGRES_URL is not set under CI=true: the PostgreSQL tests "       \
                  "must run (scripts/test starts scripts/postgres-test-server)";               \
      }                                                                                        \
      GTEST_SKIP() << "CK_TEST_POSTGRES_URL not set (run scripts/postgres-test-server start)"; \
    }                                                                                          \
  } while (0)
