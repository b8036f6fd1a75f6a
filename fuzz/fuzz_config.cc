// certmgr's TOML config file (toml++ with exceptions off: errors are values).
#include <sys/mman.h>
#include <unistd.h>

#include <string>

#include "cli/certmgr_config.h"
#include "fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The loader takes a path: hand it an in-memory file.
  static const int fd = ::memfd_create("certkeeper-fuzz.toml", 0);
  if (fd < 0 || ::ftruncate(fd, 0) != 0 || ::pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) return 0;
  ck::cli::GlobalOptions global;
  (void)ck::cli::load_config_file("/proc/self/fd/" + std::to_string(fd), global);
  return 0;
}
