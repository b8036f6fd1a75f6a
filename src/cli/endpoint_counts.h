// How many endpoints pin each certificate, from the endpoint registry.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "cli/command.h"
#include "common/result.h"

namespace ck::cli {

// Fingerprint -> endpoints pinning it. Empty when no registry exists yet.
Result<std::map<std::string, int64_t>> endpoint_counts(const GlobalOptions& global);

}  // namespace ck::cli
