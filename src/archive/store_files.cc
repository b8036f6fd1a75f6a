#include "archive/store_files.h"

#include <filesystem>

namespace ck::archive {
namespace {

namespace fs = std::filesystem;

bool same_file(const std::string& a, const std::string& b) {
  std::error_code ec;
  if (fs::exists(a, ec) && fs::exists(b, ec)) {
    bool same = fs::equivalent(a, b, ec);
    if (!ec) return same;
  }
  fs::path ca = fs::weakly_canonical(a, ec);
  if (ec) ca = fs::absolute(a, ec).lexically_normal();
  fs::path cb = fs::weakly_canonical(b, ec);
  if (ec) cb = fs::absolute(b, ec).lexically_normal();
  return ca == cb;
}

}  // namespace

Status refuse_store_file(const std::string& path, const std::string& store_location,
                         const char* verb) {
  std::string db = store_location;
  if (db.rfind("postgres://", 0) == 0 || db.rfind("postgresql://", 0) == 0) return ok_status();
  if (db.rfind("sqlite:", 0) == 0) db = db.substr(7);
  if (db.empty()) return ok_status();
  for (const char* suffix : {"", "-wal", "-shm", "-journal", ".kek"}) {
    if (same_file(path, db + suffix)) {
      return make_error(ErrorKind::kConflict, std::string("refusing to ") + verb + " " + path +
                                                  ": it is the certificate store's own file (" +
                                                  db + suffix + ")");
    }
  }
  return ok_status();
}

Status refuse_store_file(const paths::Location& where, const std::string& store_location, const char* verb) {
  return where.on_share() ? ok_status() : refuse_store_file(where.local, store_location, verb);
}

}  // namespace ck::archive
