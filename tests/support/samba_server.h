// Test support: a real Samba smbd on 127.0.0.1 at a free high port, with a throwaway
// configuration, passdb and user, for the network-path tests (DESIGN.md §10).
// Shares: "certs" (read-write) and "readonly". smbd switches users, so it runs as root;
// the SMB user is the account running the test.
#pragma once

#include <memory>
#include <string>

#include "support/process.h"

namespace ck::testing {

class SambaServer {
 public:
  static constexpr const char* kPassword = "Smb-Test-Pa55word-42";

  // Starts smbd under `dir`; on failure returns nullptr and sets `why`.
  static std::unique_ptr<SambaServer> start(const std::string& dir, std::string* why);
  ~SambaServer();  // stops smbd and its connection processes

  int port() const { return port_; }
  const std::string& user() const { return user_; }
  // The local folder behind a share ("certs" or "readonly").
  std::string share_dir(const std::string& share) const { return dir_ + "/" + share; }
  // A 0600 credentials file (mount.cifs format) with the right password.
  std::string credentials_file() const { return dir_ + "/credentials"; }

 private:
  SambaServer() = default;
  std::string dir_, user_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> smbd_;
};

}  // namespace ck::testing
