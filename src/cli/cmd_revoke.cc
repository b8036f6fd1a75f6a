// certmgr revoke FINGERPRINT
// Marks a leaked key revoked and erases the private key from the store: it never
// becomes current again, never signs anything (also not a rotation link), and no later
// backup or restore holds it. The certificate stays, for status and for the endpoints
// still pinning it. A unique prefix of 8+ hex digits is accepted.
#include <iostream>

#include "cli/cli_support.h"
#include "common/fault_point.h"

namespace ck::cli {
namespace {

constexpr size_t kMinPrefix = 8;

Result<std::string> resolve_fingerprint(store::CertStore& store, const std::string& prefix) {
  std::vector<std::string> matches;
  CK_RETURN_IF_ERROR(store.read([&](store::CertTxn& t) -> Status {
    CK_ASSIGN_OR_RETURN(auto all, t.list());
    for (const auto& r : all) if (r.fingerprint.rfind(prefix, 0) == 0) matches.push_back(r.fingerprint);
    return ok_status();
  }));
  if (matches.empty()) return make_error(ErrorKind::kNotFound, "no certificate " + prefix + " in the store");
  if (matches.size() > 1) return make_error(ErrorKind::kInvalidArgument, "fingerprint prefix " + prefix + " is ambiguous");
  return matches[0];
}

int run_revoke(std::string fingerprint, GlobalOptions& global) {
  for (char& c : fingerprint) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (fingerprint.size() < kMinPrefix || fingerprint.size() > 64 ||
      fingerprint.find_first_not_of("0123456789abcdef") != std::string::npos) {
    throw UsageError("FINGERPRINT must be 8 to 64 hex digits, as certmgr status shows them");
  }
  auto store = open_store(global, /*for_write=*/true);
  if (!store.ok()) return fail(store.error());
  auto full = resolve_fingerprint(**store, fingerprint);
  if (!full.ok()) return fail(full.error());
  auto record = store::revoke_certificate(**store, *full, operation_context());
  if (!record.ok()) return fail(record.error());
  fault_point("revoke.committed");
  if (global.json)
    print_json(boost::json::object{{"revoked", record->fingerprint}, {"key_erased", true}});
  else
    std::cout << "revoked " << record->fingerprint << "; its private key is erased from the store"
              << std::endl;
  return kExitOk;
}

}  // namespace

void add_revoke_command(CLI::App& root, GlobalOptions& global) {
  auto fp = std::make_shared<std::string>();
  CLI::App* cmd = root.add_subcommand(
      "revoke", "mark a leaked key revoked and erase its private key: never used again");
  cmd->add_option("FINGERPRINT", *fp, "fingerprint (or unique prefix of 8+ hex digits)")->required();
  cmd->callback([fp, &global] { global.exit_code = run_revoke(*fp, global); });
}

}  // namespace ck::cli
