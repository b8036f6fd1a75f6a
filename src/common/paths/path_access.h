// The one door certmgr uses to read and write the files named on its command line:
// local paths through the local file system, share paths through SmbClient (made on
// first use, when its credentials are read), drive paths through the drive map.
#pragma once

#include <memory>
#include <string>
#include <sys/types.h>

#include "common/paths/location.h"
#include "common/paths/output_file.h"
#include "common/paths/smb_client.h"

namespace ck::paths {

struct PathOptions {
  DriveMap drives;
  std::string smb_credentials_file;  // "" : anonymous SMB logon
  uint16_t smb_port = 445;
};

class PathAccess {
 public:
  explicit PathAccess(PathOptions options);
  ~PathAccess();

  Result<Location> resolve(std::string_view given) const { return resolve_location(given, options_.drives); }

  Result<std::string> read(const Location& where, size_t max_bytes);
  // All-or-nothing write of `data` (local files get permission bits `mode`).
  Status write(const Location& where, std::string_view data, mode_t mode);
  Result<std::unique_ptr<OutputFile>> create(const Location& where, mode_t mode);
  Result<bool> is_directory(const Location& where);
  Status ensure_directory(const Location& where, mode_t mode);

 private:
  Result<SmbClient*> smb();

  PathOptions options_;
  std::unique_ptr<SmbClient> smb_;
};

}  // namespace ck::paths
