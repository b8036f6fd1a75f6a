// The shared TOML config loader (toml++ with exceptions off: errors are values), over an
// app with every kind of option the programs declare and a free-form table.
#include <sys/mman.h>
#include <unistd.h>

#include <string>

#include "common/config/config_file.h"
#include "fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The loader takes a path: hand it an in-memory file.
  static const int fd = ::memfd_create("certkeeper-fuzz.toml", 0);
  if (fd < 0 || ::ftruncate(fd, 0) != 0 || ::pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) return 0;
  CLI::App app;
  std::string store, text;
  int port = 0;
  double seconds = 0;
  bool flag = false;
  app.add_option("--store", store);
  app.add_option("--smb-port", port)->check(CLI::Range(1, 65535));
  app.add_option("--read-timeout", seconds)->check(CLI::Range(0.1, 3600.0));
  app.add_option("--log-level", text)->check(CLI::IsMember({"info", "warn"}));
  app.add_flag("--once", flag);
  ck::config::Program program;
  program.table = "certmgr";
  program.app = &app;
  program.free_form.push_back({"drives", [](const std::vector<ck::config::Entry>&) { return ck::ok_status(); }});
  (void)ck::config::apply_config_file("/proc/self/fd/" + std::to_string(fd), program);
  return 0;
}
