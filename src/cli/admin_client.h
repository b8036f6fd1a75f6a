// A small synchronous HTTP client for the server's admin listener (loopback, plain
// HTTP on Boost.Beast). Used by certmgr commands that ask the running server.
#pragma once

#include <string>

#include "common/result.h"

namespace ck::cli {

struct AdminResponse {
  int status = 0;
  std::string body;
};

// POSTs a JSON body to http://HOST:PORT/path and returns the answer. Errors:
// kUnavailable when the server cannot be reached within `timeout_ms`.
Result<AdminResponse> admin_post(const std::string& host_port, const std::string& path,
                                 const std::string& json_body, int timeout_ms = 10000);


}  // namespace ck::cli
