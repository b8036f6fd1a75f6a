// Builds a ZIP archive in memory whose every entry is AES-256 encrypted (WinZip AE-2,
// readable by 7-Zip and WinZip). The caller writes the finished bytes where it wants
// (atomically). Not thread-safe; one writer per archive.
#pragma once

#include <cstdint>
#include <list>
#include <string>
#include <string_view>

#include "archive/zip_handle.h"
#include "common/result.h"

namespace ck::archive {

class ZipWriter {
 public:
  // `password` encrypts every entry; `mtime` (Unix seconds) stamps every entry.
  static Result<ZipWriter> create(std::string password, int64_t mtime);

  ZipWriter(ZipWriter&&) = default;
  ZipWriter& operator=(ZipWriter&&) = default;

  // Adds a regular file (mode 0600) named `name` (validated, flat) holding `data`.
  Status add(std::string_view name, std::string data);

  // Closes the archive and returns its bytes. The writer is spent afterwards.
  Result<std::string> finish();

 private:
  ZipWriter(ZipSourcePtr buffer, ZipPtr zip, std::string password, int64_t mtime)
      : buffer_(std::move(buffer)),
        password_(std::move(password)),
        mtime_(mtime),
        zip_(std::move(zip)) {}

  // Declaration order matters: zip_ goes first on destruction, then what it reads.
  ZipSourcePtr buffer_;          // the in-memory archive (one reference; the zip_t holds another)
  std::list<std::string> data_;  // entry contents; libzip reads them at finish()
  std::string password_;
  int64_t mtime_;
  ZipPtr zip_;
};

}  // namespace ck::archive
