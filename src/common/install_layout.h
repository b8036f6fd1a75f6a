// Where an installed certkeeper keeps its settings and state. A binary run from
// <root>/usr/bin (or <root>/usr/local/bin) is installed: its config file is
// <root>/etc/certkeeper/certkeeper.toml (/usr/local/etc/... for /usr/local) and its
// state defaults live under /var/lib/certkeeper. Anywhere else (a build tree) it is not,
// and the relative ./var defaults apply. <root> is "" for a real installation and a
// scratch folder for a package unpacked with dpkg -x.
#pragma once

#include <string>

namespace ck {

struct InstallLayout {
  bool installed = false;
  std::string config_file;  // the default config file ("" when not installed)
  std::string state_dir;    // /var/lib/certkeeper when installed, else ./var
};

// The layout of the running executable (from /proc/self/exe).
const InstallLayout& install_layout();

// The layout of an executable at `exe_path` (a resolved absolute path).
InstallLayout install_layout_for(const std::string& exe_path);

}  // namespace ck
