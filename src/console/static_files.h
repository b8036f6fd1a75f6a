// The built front end (console/dist: index.html, app.js, app.css, ...) served from a
// folder: regular files only, no directory listing, no way out of the folder (no
// "..", ".", empty or percent-encoded segments, no backslashes; symlinks pointing
// outside are refused too). Thread-safe (reads the file per request).
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace ck::console {

struct StaticFile {
  std::string content_type;
  std::string body;
};

// The folder the front end is served from when --console-assets is not given:
// <exe_dir>/../console/dist when it exists (a build tree), else
// /usr/share/certkeeper/console (the package).
std::string default_assets_dir(const std::string& exe_path);

// Content-Type for a file name, by its extension (application/octet-stream when unknown).
std::string content_type_for(std::string_view name);

class StaticFiles {
 public:
  explicit StaticFiles(std::string root) : root_(std::move(root)) {}
  const std::string& root() const { return root_; }
  // Whether the folder holds index.html.
  bool available() const;
  // The file at URL path `path` ("/app.js"; "/" is index.html). Errors: kNotFound
  // (also for anything refused above), kIo.
  Result<StaticFile> get(std::string_view path) const;

 private:
  std::string root_;
};

}  // namespace ck::console
