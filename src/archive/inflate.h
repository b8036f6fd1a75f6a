// Bounded decompression of a ZIP entry's data (stored or raw deflate), never
// producing more than `max_bytes` however the data claims otherwise. Pure; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace ck::archive {

// `method`: ZIP_CM_STORE or ZIP_CM_DEFLATE. Errors: kInvalidArgument (unsupported
// method, or more than `max_bytes`: a ZIP bomb), kCorrupt (invalid or incomplete data).
Result<std::string> inflate_entry(std::string_view data, int32_t method, uint64_t max_bytes);

// CRC-32 as stored in ZIP headers.
uint32_t zip_crc32(std::string_view data);

}  // namespace ck::archive
