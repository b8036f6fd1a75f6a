// RAII owners for libzip handles, and libzip errors as ck::Error.
// The only place that names libzip's free/close functions; everything else holds
// these, never a raw owning pointer. Handles are not thread-safe: one thread each.
#pragma once

#include <zip.h>

#include <memory>
#include <string>

#include "common/result.h"

namespace ck::archive {

struct ZipDiscard {
  // Closing without writing: used for read-only archives and on every error path.
  void operator()(zip_t* za) const { zip_discard(za); }
};
struct ZipSourceFree {
  void operator()(zip_source_t* src) const { zip_source_free(src); }
};
struct ZipFileClose {
  void operator()(zip_file_t* f) const { zip_fclose(f); }
};

using ZipPtr = std::unique_ptr<zip_t, ZipDiscard>;
using ZipSourcePtr = std::unique_ptr<zip_source_t, ZipSourceFree>;
using ZipFilePtr = std::unique_ptr<zip_file_t, ZipFileClose>;

// A one-line description of a libzip error code, e.g. "CRC error".
std::string zip_error_text(int zip_error_code);

// Maps a libzip error (the ZIP_ER_* code) to an Error prefixed with `what`.
// Wrong or missing passwords become kCrypto "wrong password"; damaged data kCorrupt.
Error zip_error(const std::string& what, const zip_error_t* error);
Error zip_error(const std::string& what, int zip_error_code);

// An empty in-memory source usable for writing, or wrapping `data` (not copied:
// `data` must outlive every use of the source) for reading.
Result<ZipSourcePtr> memory_source(const void* data, size_t size);

}  // namespace ck::archive
