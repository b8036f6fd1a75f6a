// Who may use the admin API (DESIGN.md §5, §9): the peer of the admin Unix socket, as
// the kernel reports it (SO_PEERCRED), must be root, the server's own user, or a member
// of the admin group. Everyone else is refused, and the refusal is logged as an audit
// line. Pure apart from the group database lookups; thread-safe.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "common/result.h"

namespace ck::server {

// What the kernel says about the process at the other end of a Unix socket.
struct PeerCredentials {
  pid_t pid = -1;
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
};

class AdminAccess {
 public:
  // `admin_group`: a group name; empty or unknown means "no admin group" (only root and
  // the server's user), which is logged once by the caller.
  static AdminAccess for_group(const std::string& admin_group);

  // Why `peer` may not use the admin API, or nullopt when it may.
  std::optional<std::string> refusal(const PeerCredentials& peer) const;

  std::optional<gid_t> admin_gid() const { return admin_gid_; }

 private:
  uid_t server_uid_ = 0;
  std::optional<gid_t> admin_gid_;
  std::string admin_group_;
};

}  // namespace ck::server
