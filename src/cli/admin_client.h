// A small synchronous HTTP client for the server's admin socket (DESIGN.md §5: a Unix
// socket; the server trusts the kernel's word on who connects). Used by certmgr
// commands that ask the running server (`send --server-admin`).
#pragma once

#include <string>

#include "common/result.h"

namespace ck::cli {

struct AdminResponse {
  int status = 0;
  std::string body;
};

// The admin socket of a server run with the default --state-dir: "unix:./var/server/admin.sock".
inline constexpr const char* kDefaultAdminAddress = "unix:./var/server/admin.sock";

// POSTs a JSON body to `path` on the admin socket `address` ("unix:PATH") and returns
// the answer. Errors: kInvalidArgument for an address that is not unix:PATH,
// kPermissionDenied when the socket may not be opened, kUnavailable when nothing
// answers within `timeout_ms`.
Result<AdminResponse> admin_post(const std::string& address, const std::string& path, const std::string& json_body,
                                 int timeout_ms = 10000);

// Why the server refused: the "error" string of a JSON body, else the body as it came.
std::string admin_refusal_reason(const AdminResponse& response);

}  // namespace ck::cli
