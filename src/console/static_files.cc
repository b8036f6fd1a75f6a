#include "console/static_files.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace ck::console {
namespace fs = std::filesystem;

std::string default_assets_dir(const std::string& exe_path) {
  std::error_code ec;
  const fs::path build_tree = fs::path(exe_path).parent_path() / ".." / "console" / "dist";
  if (fs::is_directory(build_tree, ec)) return fs::weakly_canonical(build_tree, ec).string();
  return "/usr/share/certkeeper/console";
}

std::string content_type_for(std::string_view name) {
  static const std::map<std::string, std::string, std::less<>> kTypes = {
      {".html", "text/html; charset=utf-8"},   {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},           {".map", "application/json"},
      {".svg", "image/svg+xml"},               {".png", "image/png"},
      {".ico", "image/x-icon"},                {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"},
  };
  const size_t dot = name.rfind('.');
  if (dot == std::string_view::npos) return "application/octet-stream";
  auto it = kTypes.find(name.substr(dot));
  return it == kTypes.end() ? "application/octet-stream" : it->second;
}

bool StaticFiles::available() const {
  std::error_code ec;
  return fs::is_regular_file(fs::path(root_) / "index.html", ec);
}

Result<StaticFile> StaticFiles::get(std::string_view path) const {
  auto not_found = [&] { return make_error(ErrorKind::kNotFound, "no such file: " + std::string(path)); };
  if (path.empty() || path.front() != '/') return not_found();
  std::string relative(path.substr(1));
  if (relative.empty()) relative = "index.html";
  // Segment by segment: only plain names.
  size_t start = 0;
  for (;;) {
    const size_t slash = relative.find('/', start);
    const std::string_view seg = std::string_view(relative).substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (seg.empty() || seg == "." || seg == ".." || seg.find_first_of("\\%:") != std::string_view::npos ||
        seg.find('\0') != std::string_view::npos || seg.front() == '.') {
      return not_found();
    }
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  std::error_code ec;
  const fs::path root = fs::weakly_canonical(root_, ec);
  if (ec) return not_found();
  const fs::path file = fs::weakly_canonical(root / relative, ec);
  if (ec || !fs::is_regular_file(file, ec)) return not_found();
  // A symlink inside the folder may not lead out of it.
  const std::string r = root.string() + "/";
  if (file.string().rfind(r, 0) != 0) return not_found();
  std::ifstream in(file, std::ios::binary);
  if (!in) return make_error(ErrorKind::kIo, "cannot read " + file.string());
  std::ostringstream body;
  body << in.rdbuf();
  return StaticFile{content_type_for(file.filename().string()), std::move(body).str()};
}

}  // namespace ck::console
