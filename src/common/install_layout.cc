#include "common/install_layout.h"

#include <unistd.h>

#include <climits>

namespace ck {
namespace {

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

}  // namespace

InstallLayout install_layout_for(const std::string& exe_path) {
  InstallLayout layout;
  layout.state_dir = "./var";
  const size_t slash = exe_path.rfind('/');
  if (slash == std::string::npos) return layout;
  const std::string dir = exe_path.substr(0, slash);
  std::string config_dir;
  if (ends_with(dir, "/usr/local/bin")) {
    config_dir = dir.substr(0, dir.size() - 4) + "/etc";  // <root>/usr/local/etc
  } else if (ends_with(dir, "/usr/bin")) {
    config_dir = dir.substr(0, dir.size() - 8) + "/etc";  // <root>/etc
  } else {
    return layout;
  }
  layout.installed = true;
  layout.config_file = config_dir + "/certkeeper/certkeeper.toml";
  layout.state_dir = "/var/lib/certkeeper";
  return layout;
}

const InstallLayout& install_layout() {
  static const InstallLayout layout = [] {
    char buf[PATH_MAX];
    const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    return install_layout_for(n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string());
  }();
  return layout;
}

}  // namespace ck
