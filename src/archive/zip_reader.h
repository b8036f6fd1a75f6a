// Reads every entry of a password-protected ZIP archive held in memory, defensively:
// the archive may come from anyone. Checks, in order:
//   structure (libzip ZIP_CHECKCONS: not a ZIP, truncated, inconsistent headers);
//   at least one and at most kMaxEntries entries;
//   every name (validate_entry_name), no duplicates, no symlinks (Unix external
//   attributes), every entry encrypted, declared sizes within kMaxEntryBytes/kMaxTotalBytes;
//   then decrypts each entry reading at most the bound, so a lying declared size cannot
//   make it read more: WinZip AES through winzip_aes.h (HMAC checked, then bounded
//   inflate and the CRC when present), ZipCrypto through libzip (CRC checked).
// Errors name the entry: kCrypto "wrong password", kCorrupt (damaged), kInvalidArgument
// (unsafe or oversized). Pure function; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace ck::archive {

struct ZipEntry {
  std::string name;
  std::string data;
  uint16_t encryption_method = 0;  // ZIP_EM_*
};

Result<std::vector<ZipEntry>> read_zip_entries(std::string_view archive,
                                               const std::string& password);

}  // namespace ck::archive
