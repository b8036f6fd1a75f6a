#include "cli/certmgr_config.h"

#include <cctype>

#include "common/config/config_file.h"

namespace ck::cli {

Status load_certmgr_config(const std::string& path, CLI::App& app, GlobalOptions& global) {
  config::Program program;
  program.table = "certmgr";
  program.app = &app;
  program.free_form.push_back(config::FreeFormTable{"drives", [&](const std::vector<config::Entry>& entries) -> Status {
    for (const config::Entry& e : entries) {
      const char letter = e.key.size() == 1 ? static_cast<char>(std::toupper(static_cast<unsigned char>(e.key[0]))) : 0;
      if (letter && global.config_drives.count(letter))
        return config::config_error(path, e.line, "drive " + e.key + " is mapped twice");
      Status added = paths::add_drive_mapping(e.key, e.value, global.config_drives);
      if (!added.ok()) return config::config_error(path, e.line, added.error().message);
    }
    return ok_status();
  }});
  return config::apply_config_file(path, program);
}

}  // namespace ck::cli
