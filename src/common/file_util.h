// Whole-file I/O with atomic replacement: temporary file in the target folder,
// fsync, rename, fsync of the folder. Safe on network mounts that honour rename.
#pragma once

#include <string>
#include <string_view>
#include <sys/types.h>

#include "common/result.h"

namespace ck {

Result<std::string> read_file(const std::string& path, size_t max_bytes = 64u << 20);

// Reads a file holding a secret (`what` names it in errors: "password file"). Refuses a
// file that group or others can read or write, checked on the open descriptor.
Result<std::string> read_private_file(const std::string& path, size_t max_bytes, const std::string& what);

// Writes `data` to `path` atomically with permission bits `mode`.
Status write_file_atomic(const std::string& path, const std::string& data, mode_t mode = 0644);

// Creates `path` with `data`, complete or not at all; never replaces an existing file
// (kConflict "already exists"), so two processes racing to create it cannot both win.
Status write_new_file(const std::string& path, const std::string& data, mode_t mode = 0600);

// Streams into an unnamed temporary file in `path`'s folder (a hidden named one where
// the filesystem has no O_TMPFILE); commit() fsyncs and renames it into place,
// commit_new() names it only if `path` does not exist. Destroyed without commit, it
// leaves nothing: the target is never half-written. A process killed inside commit(),
// between naming the temporary and renaming it, leaves a hidden ".NAME.tmp-<pid>-…"
// file; the next atomic write into that (local) folder removes it. One thread at a time.
class AtomicFileWriter {
 public:
  static Result<AtomicFileWriter> create(const std::string& path, mode_t mode = 0644);
  AtomicFileWriter(AtomicFileWriter&& other) noexcept;
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
  ~AtomicFileWriter();

  Status write(std::string_view data);
  Status commit();
  Status commit_new();
  const std::string& path() const { return path_; }

 private:
  Status finish_writing(const std::string& name);
  int link_unnamed(const std::string& name);
  void sync_folder();

  AtomicFileWriter(std::string path, std::string tmp, int fd) : path_(std::move(path)), tmp_(std::move(tmp)), fd_(fd) {}
  std::string path_, tmp_;
  int fd_ = -1;
};

// Creates `dir` (and parents) with `mode` if missing.
Status ensure_directory(const std::string& dir, mode_t mode = 0755);

// Folder part of a path ("." when none).
std::string parent_directory(const std::string& path);

// Maps errno to an Error, naming the path.
Error errno_error(const std::string& what, const std::string& path, int err);

}  // namespace ck
