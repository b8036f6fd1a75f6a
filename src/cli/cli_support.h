// What every certmgr command needs: open the store, report errors on one line,
// resolve and check passwords, and print certificates as text or JSON.
#pragma once

#include <boost/json.hpp>

#include <map>
#include <memory>
#include <string>

#include "cli/command.h"
#include "cli/password.h"
#include "common/result.h"
#include "store/cert_operations.h"
#include "store/cert_store.h"

namespace ck::cli {

// The store URL: --store / CERTKEEPER_STORE / the config, else the default.
std::string store_url(const GlobalOptions& global);

// Opens the store named by --store / CERTKEEPER_STORE. `for_write` demands write
// permission ("permission denied: <path> (run as the certkeeper administrator)")
// and creates a missing store.
Result<std::unique_ptr<store::CertStore>> open_store(const GlobalOptions& global, bool for_write);

// The files named on the command line: local paths, shares and mapped drives, with the
// drive map and SMB settings of the flags and config file. A bad --map-drive or
// --smb-port is a UsageError.
Result<paths::PathAccess*> path_access(GlobalOptions& global);
// Resolves a path argument (an unmapped drive letter is an error, never a local name).
Result<paths::Location> resolve_path(GlobalOptions& global, const std::string& given);
// Where backups go: --backup-dir (or the config's backup_dir), else the store's folder.
Result<paths::Location> backup_folder(GlobalOptions& global, const store::CertStore& store);

// Prints "certmgr: error: <message>" (one line) to stderr and returns kExitFailed.
int fail(const Error& error);

// resolve_password + check_password_strength.
Result<std::string> strong_password(const PasswordOptions& options);
// resolve_password only (for opening existing archives/PFX files).
Result<std::string> any_password(const PasswordOptions& options);

// The audit/operation context for this invocation.
store::Context operation_context();

// The DESIGN.md §4 CERT object.
boost::json::object cert_to_json(const store::CertRecord& record, int64_t endpoints);

// Writes the JSON value followed by a newline to stdout.
void print_json(const boost::json::value& value);

}  // namespace ck::cli
