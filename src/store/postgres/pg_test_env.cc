#include "store/postgres/pg_test_env.h"

#include <unistd.h>

#include <cstdlib>
#include <random>

#include "store/postgres/pg_conn.h"

namespace ck::pg::testing {

std::string server_url() {
  const char* v = std::getenv("CK_TEST_POSTGRES_URL");
  return v ? v : "";
}

bool required() {
  const char* ci = std::getenv("CI");
  return ci && std::string(ci) == "true";
}

Result<std::unique_ptr<TestSchema>> TestSchema::create(const std::string& server_url) {
  std::random_device rd;
  std::string name =
      "ck_test_" + std::to_string(::getpid()) + "_" + std::to_string(rd() % 1000000000);
  CK_ASSIGN_OR_RETURN(PgConn conn, PgConn::connect(server_url));
  CK_RETURN_IF_ERROR(conn.exec("CREATE SCHEMA " + name));
  return std::unique_ptr<TestSchema>(
      new TestSchema(server_url, name, url_with_search_path(server_url, name)));
}

TestSchema::~TestSchema() {
  auto conn = PgConn::connect(server_url_);
  if (conn.ok()) (void)conn->exec("DROP SCHEMA IF EXISTS " + name_ + " CASCADE");
}

}  // namespace ck::pg::testing
