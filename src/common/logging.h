// Logging set-up: spdlog to stderr, structured "key=value" messages.
// Never log private keys, passwords or whole PFX/PEM key material.
#pragma once

#include <spdlog/spdlog.h>

#include <string>

namespace ck {

// level: trace|debug|info|warn|error|off. JSON lines when json is true.
void init_logging(const std::string& level, bool json = false);

}  // namespace ck
