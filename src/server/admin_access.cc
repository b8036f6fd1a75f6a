#include "server/admin_access.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <vector>

namespace ck::server {
namespace {

// Whether user `uid` belongs to `gid`, as primary or supplementary group.
bool member_of(uid_t uid, gid_t primary, gid_t gid) {
  if (primary == gid) return true;
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) != 0 || !found) return false;
  int n = 64;
  std::vector<gid_t> groups(static_cast<size_t>(n));
  if (getgrouplist(pw.pw_name, pw.pw_gid, groups.data(), &n) < 0) {
    groups.resize(static_cast<size_t>(n));
    if (getgrouplist(pw.pw_name, pw.pw_gid, groups.data(), &n) < 0) return false;
  }
  for (int i = 0; i < n; ++i) {
    if (groups[static_cast<size_t>(i)] == gid) return true;
  }
  return false;
}

}  // namespace

AdminAccess AdminAccess::for_group(const std::string& admin_group) {
  AdminAccess a;
  a.server_uid_ = ::geteuid();
  a.admin_group_ = admin_group;
  if (!admin_group.empty()) {
    std::vector<char> buf(16384);
    group gr{};
    group* found = nullptr;
    if (getgrnam_r(admin_group.c_str(), &gr, buf.data(), buf.size(), &found) == 0 && found) a.admin_gid_ = gr.gr_gid;
  }
  return a;
}

std::optional<std::string> AdminAccess::refusal(const PeerCredentials& peer) const {
  if (peer.uid == static_cast<uid_t>(-1)) return "the peer's credentials are unknown";
  if (peer.uid == 0 || peer.uid == server_uid_) return std::nullopt;
  // The primary group the process runs with counts too (setgid tools, sg).
  if (admin_gid_ && member_of(peer.uid, peer.gid, *admin_gid_)) return std::nullopt;
  return "uid " + std::to_string(peer.uid) + " is not root, not the server's user" +
         (admin_gid_ ? ", and not in the admin group " + admin_group_ : " (no admin group configured)");
}

}  // namespace ck::server
