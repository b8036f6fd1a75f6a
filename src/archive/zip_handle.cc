#include "archive/zip_handle.h"

namespace ck::archive {

std::string zip_error_text(int code) {
  zip_error_t e;
  zip_error_init_with_code(&e, code);
  std::string text = zip_error_strerror(&e);
  zip_error_fini(&e);
  return text;
}

Error zip_error(const std::string& what, int code) {
  switch (code) {
    case ZIP_ER_WRONGPASSWD:
    case ZIP_ER_NOPASSWD:
      return make_error(ErrorKind::kCrypto, what + ": wrong password");
    case ZIP_ER_NOZIP:
      return make_error(ErrorKind::kInvalidArgument, what + ": not a ZIP archive");
    case ZIP_ER_INCONS:
    case ZIP_ER_EOF:
      return make_error(ErrorKind::kCorrupt, what + ": the ZIP archive is truncated or damaged");
    case ZIP_ER_CRC:
    case ZIP_ER_ZLIB:
    case ZIP_ER_COMPRESSED_DATA:
      return make_error(ErrorKind::kCorrupt,
                        what + ": the ZIP archive is damaged (" + zip_error_text(code) + ")");
    case ZIP_ER_ENCRNOTSUPP:
    case ZIP_ER_COMPNOTSUPP:
    case ZIP_ER_MULTIDISK:
      return make_error(ErrorKind::kInvalidArgument, what + ": " + zip_error_text(code));
    case ZIP_ER_MEMORY:
      return make_error(ErrorKind::kInternal, what + ": out of memory");
    default:
      return make_error(ErrorKind::kIo, what + ": " + zip_error_text(code));
  }
}

Error zip_error(const std::string& what, const zip_error_t* error) {
  return zip_error(what, zip_error_code_zip(error));
}

Result<ZipSourcePtr> memory_source(const void* data, size_t size) {
  zip_error_t err;
  zip_error_init(&err);
  ZipSourcePtr src(zip_source_buffer_create(data, size, 0, &err));
  if (!src) {
    Error e = zip_error("cannot create a ZIP buffer", &err);
    zip_error_fini(&err);
    return e;
  }
  zip_error_fini(&err);
  return src;
}

}  // namespace ck::archive
