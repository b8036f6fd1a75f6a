// Test only: builds ZIP archives with libzip directly, including the malformed ones
// the production writer refuses to make (unsafe names, symlinks, unencrypted entries).
#pragma once

#include <zip.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ck::archive::testing {

struct RawEntry {
  std::string name;
  std::string data;
  uint16_t encryption = ZIP_EM_AES_256;  // ZIP_EM_NONE, ZIP_EM_TRAD_PKWARE, ZIP_EM_AES_256
  std::optional<uint32_t> unix_mode;     // e.g. S_IFLNK | 0777
  bool directory = false;
};

// Aborts the test (ADD_FAILURE + empty string) when libzip refuses.
std::string raw_zip(const std::vector<RawEntry>& entries, const std::string& password);

// Replaces every occurrence of `from` with `to` (same length) in `bytes`.
std::string patch_all(std::string bytes, const std::string& from, const std::string& to);

}  // namespace ck::archive::testing
