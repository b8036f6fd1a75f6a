#include "common/process_hardening.h"

#include <sys/prctl.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace ck {

Status disable_core_dumps() {
  std::string failed;
  struct rlimit none{0, 0};
  if (::setrlimit(RLIMIT_CORE, &none) != 0) failed = std::string("setrlimit(RLIMIT_CORE): ") + std::strerror(errno);
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    if (!failed.empty()) failed += "; ";
    failed += std::string("prctl(PR_SET_DUMPABLE): ") + std::strerror(errno);
  }
  if (!failed.empty()) return make_error(ErrorKind::kInternal, "cannot disable core dumps: " + failed);
  return ok_status();
}

}  // namespace ck
