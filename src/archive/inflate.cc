#include "archive/inflate.h"

#include <zip.h>
#include <zlib.h>

namespace ck::archive {
namespace {

// Owns an inflate stream.
class Inflater {
 public:
  Inflater() { ok_ = inflateInit2(&zs_, -MAX_WBITS) == Z_OK; }  // raw deflate, as in ZIP
  ~Inflater() {
    if (ok_) inflateEnd(&zs_);
  }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;
  bool ok() const { return ok_; }
  z_stream* get() { return &zs_; }

 private:
  z_stream zs_{};
  bool ok_ = false;
};

Error bomb(uint64_t max_bytes) {
  return make_error(
      ErrorKind::kInvalidArgument,
      "an entry inflates beyond " + std::to_string(max_bytes >> 20) + " MiB (a ZIP bomb?)");
}

}  // namespace

Result<std::string> inflate_entry(std::string_view data, int32_t method, uint64_t max_bytes) {
  if (method == ZIP_CM_STORE) {
    if (data.size() > max_bytes) return bomb(max_bytes);
    return std::string(data);
  }
  if (method != ZIP_CM_DEFLATE)
    return make_error(ErrorKind::kInvalidArgument,
                      "unsupported compression method " + std::to_string(method));
  Inflater inflater;
  if (!inflater.ok()) return make_error(ErrorKind::kInternal, "cannot start inflate");
  z_stream* zs = inflater.get();
  zs->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs->avail_in = static_cast<uInt>(data.size());
  std::string out;
  char chunk[16384];
  for (;;) {
    zs->next_out = reinterpret_cast<Bytef*>(chunk);
    zs->avail_out = sizeof chunk;
    int rc = inflate(zs, Z_NO_FLUSH);
    const size_t produced = sizeof chunk - zs->avail_out;
    out.append(chunk, produced);
    if (out.size() > max_bytes) return bomb(max_bytes);
    if (rc == Z_STREAM_END) break;
    if (rc != Z_OK && !(rc == Z_BUF_ERROR && produced > 0))
      return make_error(ErrorKind::kCorrupt,
                        "the ZIP archive is damaged (invalid compressed data)");
    if (zs->avail_in == 0 && produced == 0)
      return make_error(ErrorKind::kCorrupt,
                        "the ZIP archive is damaged (compressed data ends early)");
  }
  return out;
}

uint32_t zip_crc32(std::string_view data) {
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size()));
  return static_cast<uint32_t>(crc);
}

}  // namespace ck::archive
