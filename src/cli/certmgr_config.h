// certmgr's config file (TOML, read with toml++), named by --config FILE or
// CERTKEEPER_CONFIG. Flags override it; CERTKEEPER_* variables override it too.
//   store = "sqlite:/var/lib/certkeeper/certkeeper.db"
//   backup_dir = '\\fileserver\certs\backups'
//   log_level = "warn"
//   [smb]
//   credentials = "/etc/certkeeper/smb-credentials"
//   port = 445
//   [drives]
//   D = "/mnt/share"
//   Z = '\\fileserver\certs'
// An unknown key or a wrong type is an error naming the key, the file and the line.
#pragma once

#include <string>
#include <vector>

#include "cli/command.h"
#include "common/result.h"

namespace ck::cli {

// The config file named in argv (--config F / --config=F), else by CERTKEEPER_CONFIG;
// "" when none.
std::string find_config_file(const std::vector<std::string>& args);

// Fills `global` with the file's settings (before the flags are parsed over them).
Status load_config_file(const std::string& path, GlobalOptions& global);

}  // namespace ck::cli
