// Files on SMB 2/3 shares through libsmbclient (Samba's client library): whole-file
// reads, atomic writes (temporary name on the share, then rename), folder checks.
// Errors are one line and say which of these it was: server unreachable, share not
// found, wrong credentials (or an anonymous logon refused), access denied, not found.
// One SmbClient per thread (a libsmbclient context is not thread-safe).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "common/paths/location.h"
#include "common/paths/output_file.h"
#include "common/paths/smb_credentials.h"
#include "common/result.h"

namespace ck::paths {

struct SmbOptions {
  std::optional<SmbCredentials> credentials;  // none: anonymous logon
  uint16_t default_port = 445;                 // for paths that name no port
  int timeout_ms = 15000;
};

class SmbClient {
 public:
  static Result<std::unique_ptr<SmbClient>> create(SmbOptions options);
  ~SmbClient();
  SmbClient(const SmbClient&) = delete;
  SmbClient& operator=(const SmbClient&) = delete;

  Result<std::string> read_file(const Location& where, size_t max_bytes);
  // false when nothing is there; an error when the share cannot be asked.
  Result<bool> is_directory(const Location& where);
  // Creates the folder and its parents inside the share when missing.
  Status ensure_directory(const Location& where);
  Result<std::unique_ptr<OutputFile>> create_file(const Location& where);

  struct Impl;

 private:
  explicit SmbClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ck::paths
