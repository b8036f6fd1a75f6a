#include "agent/checkin_wire.h"

#include <sys/utsname.h>
#include <unistd.h>

namespace ck::agent {

HostInfo local_host_info() {
  HostInfo h;
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) == 0) h.hostname = buf;
  auto dot = h.hostname.find('.');
  if (dot != std::string::npos) {
    h.domain = h.hostname.substr(dot + 1);
    h.hostname.resize(dot);
  }
  struct utsname u{};
  if (::uname(&u) == 0) h.os = std::string(u.sysname) + " " + u.release;
  return h;
}

}  // namespace ck::agent
