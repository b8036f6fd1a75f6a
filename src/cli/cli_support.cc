#include "cli/cli_support.h"

#include <cstdlib>
#include <iostream>

#include "common/actor.h"
#include "common/clock.h"

namespace ck::cli {

std::string store_url(const GlobalOptions& global) {
  return global.store_url.empty() ? store::default_store_url() : global.store_url;
}

Result<std::unique_ptr<store::CertStore>> open_store(const GlobalOptions& global, bool for_write) {
  const std::string url = store_url(global);
  store::StoreOptions options;
  options.create = for_write;
  options.require_write = for_write;
  // How long to wait for another writer before "store is busy" (default 5 s).
  if (const char* ms = std::getenv("CERTKEEPER_BUSY_TIMEOUT_MS")) options.busy_timeout_ms = std::atoi(ms);
  auto opened = store::open_cert_store(url, options);
  if (!opened.ok() && opened.error().kind == ErrorKind::kNotFound && !for_write) {
    return make_error(ErrorKind::kNotFound,
                      opened.error().message + " (create one with: certmgr -c PASSWORD)");
  }
  return opened;
}

Result<paths::PathAccess*> path_access(GlobalOptions& global) {
  if (global.files) return global.files.get();
  paths::PathOptions options;
  options.drives = global.config_drives;
  for (const std::string& spec : global.map_drive) {
    Status added = paths::add_drive_mapping(spec, options.drives);
    if (!added.ok()) throw UsageError(added.error().message);
  }
  if (global.smb_port < 1 || global.smb_port > 65535) throw UsageError("--smb-port must be between 1 and 65535");
  options.smb_port = static_cast<uint16_t>(global.smb_port);
  options.smb_credentials_file = global.smb_credentials;
  global.files = std::make_unique<paths::PathAccess>(std::move(options));
  return global.files.get();
}

Result<paths::Location> resolve_path(GlobalOptions& global, const std::string& given) {
  CK_ASSIGN_OR_RETURN(paths::PathAccess * files, path_access(global));
  return files->resolve(given);
}

Result<paths::Location> backup_folder(GlobalOptions& global, const store::CertStore& store) {
  return resolve_path(global, global.backup_dir.empty() ? store.backup_dir() : global.backup_dir);
}

int fail(const Error& error) {
  std::string message = error.message;
  for (char& c : message) if (c == '\n') c = ' ';
  std::cerr << "certmgr: error: " << message << std::endl;
  return kExitFailed;
}

Result<std::string> any_password(const PasswordOptions& options) { return resolve_password(options); }

Result<std::string> strong_password(const PasswordOptions& options) {
  CK_ASSIGN_OR_RETURN(std::string password, resolve_password(options));
  CK_RETURN_IF_ERROR(check_password_strength(password));
  return password;
}

store::Context operation_context() { return store::Context{current_actor(), &system_clock()}; }

boost::json::object cert_to_json(const store::CertRecord& r, int64_t endpoints) {
  return boost::json::object{{"fingerprint", r.fingerprint},
                             {"algorithm", r.algorithm},
                             {"subject", r.subject},
                             {"not_before", format_rfc3339(r.not_before)},
                             {"not_after", format_rfc3339(r.not_after)},
                             {"status", store::status_name(r.status)},
                             {"exportable", r.exportable},
                             {"endpoints", endpoints}};
}

void print_json(const boost::json::value& value) {
  std::cout << boost::json::serialize(value) << std::endl;
}

}  // namespace ck::cli
