// Whole-file I/O with atomic replacement: temporary file in the target folder,
// fsync, rename, fsync of the folder. Safe on network mounts that honour rename.
#pragma once

#include <string>
#include <sys/types.h>

#include "common/result.h"

namespace ck {

Result<std::string> read_file(const std::string& path, size_t max_bytes = 64u << 20);

// Writes `data` to `path` atomically with permission bits `mode`.
Status write_file_atomic(const std::string& path, const std::string& data, mode_t mode = 0644);

// Creates `dir` (and parents) with `mode` if missing.
Status ensure_directory(const std::string& dir, mode_t mode = 0755);

// Folder part of a path ("." when none).
std::string parent_directory(const std::string& path);

// Maps errno to an Error, naming the path.
Error errno_error(const std::string& what, const std::string& path, int err);

}  // namespace ck
