// Bounds on what a backup archive may hold (ZIP bomb guard). A real store has a
// handful of certificates; each PFX is a few kilobytes.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ck::archive {

inline constexpr uint64_t kMaxEntryBytes = 1u << 20;   // 1 MiB per entry, uncompressed
inline constexpr uint64_t kMaxTotalBytes = 64u << 20;  // 64 MiB for all entries
inline constexpr uint64_t kMaxEntries = 1000;
// Stored data may exceed its content by a little (encryption header, MAC, deflate framing).
inline constexpr uint64_t kMaxEntryOverhead = 64u << 10;
inline constexpr size_t kMaxArchiveBytes = 64u << 20;  // the ZIP file itself

}  // namespace ck::archive
