// SMB credentials from a file in the mount.cifs credentials format:
//   username=NAME   (or user=; DOMAIN\NAME and DOMAIN/NAME also set the domain)
//   password=SECRET (or pass=)
//   domain=DOMAIN   (or dom=, workgroup=)
// Blank lines and lines starting with '#' are ignored. A file that group or others can
// read or write is refused: it holds a password. The password is wiped on destruction.
#pragma once

#include <string>

#include "common/result.h"

namespace ck::paths {

struct SmbCredentials {
  std::string username;
  std::string password;
  std::string domain;

  SmbCredentials() = default;
  SmbCredentials(const SmbCredentials&) = default;
  SmbCredentials& operator=(const SmbCredentials&) = default;
  ~SmbCredentials();
};

Result<SmbCredentials> parse_smb_credentials(std::string_view text, const std::string& path);
Result<SmbCredentials> read_smb_credentials(const std::string& path);

}  // namespace ck::paths
