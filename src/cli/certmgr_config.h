// certmgr's settings from the shared config file (common/config/config_file.h): the
// global flags as keys (top level or [certmgr]), [smb] / [certmgr.smb] for the
// --smb-* flags, and [drives] / [certmgr.drives] mapping drive letters:
//   store = "sqlite:/var/lib/certkeeper/certkeeper.db"
//   [certmgr]
//   backup_dir = '\\fileserver\certs\backups'
//   [certmgr.drives]
//   Z = '\\fileserver\certs'
#pragma once

#include <string>

#include "cli/command.h"
#include "common/result.h"

namespace ck::cli {

// Applies the file to certmgr's global options (`app` declares them; `global` holds the
// drive table). Call before parsing the command line.
Status load_certmgr_config(const std::string& path, CLI::App& app, GlobalOptions& global);

}  // namespace ck::cli
