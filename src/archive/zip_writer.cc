#include "archive/zip_writer.h"

#include <sys/stat.h>

#include "archive/entry_name.h"

namespace ck::archive {

Result<ZipWriter> ZipWriter::create(std::string password, int64_t mtime) {
  if (password.empty()) return make_error(ErrorKind::kInvalidArgument, "a backup needs a password");
  if (!zip_encryption_method_supported(ZIP_EM_AES_256, 1))
    return make_error(ErrorKind::kUnavailable,
                      "this libzip cannot write AES-256 encrypted entries");
  CK_ASSIGN_OR_RETURN(ZipSourcePtr buffer, memory_source(nullptr, 0));
  zip_error_t err;
  zip_error_init(&err);
  ZipPtr zip(zip_open_from_source(buffer.get(), ZIP_TRUNCATE, &err));
  if (!zip) {
    Error e = zip_error("cannot create the ZIP archive", &err);
    zip_error_fini(&err);
    return e;
  }
  zip_error_fini(&err);
  // The archive took our reference; keep one of our own so the bytes survive zip_close.
  zip_source_keep(buffer.get());
  return ZipWriter(std::move(buffer), std::move(zip), std::move(password), mtime);
}

Status ZipWriter::add(std::string_view name, std::string data) {
  if (!zip_) return make_error(ErrorKind::kInternal, "ZIP writer already finished");
  CK_RETURN_IF_ERROR(validate_entry_name(name));
  const std::string entry(name);
  const std::string& stored = data_.emplace_back(std::move(data));
  ZipSourcePtr src(zip_source_buffer(zip_.get(), stored.data(), stored.size(), 0));
  if (!src) return zip_error("cannot add " + entry, zip_get_error(zip_.get()));
  zip_int64_t index = zip_file_add(zip_.get(), entry.c_str(), src.get(), ZIP_FL_ENC_UTF_8);
  if (index < 0) return zip_error("cannot add " + entry, zip_get_error(zip_.get()));
  src.release();  // owned by the archive now
  const auto i = static_cast<zip_uint64_t>(index);
  if (zip_file_set_encryption(zip_.get(), i, ZIP_EM_AES_256, password_.c_str()) != 0)
    return zip_error("cannot encrypt " + entry, zip_get_error(zip_.get()));
  if (zip_file_set_mtime(zip_.get(), i, static_cast<time_t>(mtime_), 0) != 0)
    return zip_error("cannot stamp " + entry, zip_get_error(zip_.get()));
  if (zip_file_set_external_attributes(zip_.get(), i, 0, ZIP_OPSYS_UNIX,
                                       static_cast<zip_uint32_t>(S_IFREG | 0600) << 16) != 0)
    return zip_error("cannot set attributes of " + entry, zip_get_error(zip_.get()));
  return ok_status();
}

Result<std::string> ZipWriter::finish() {
  if (!zip_) return make_error(ErrorKind::kInternal, "ZIP writer already finished");
  if (zip_close(zip_.get()) != 0)
    return zip_error("cannot write the ZIP archive", zip_get_error(zip_.get()));
  zip_.release();  // zip_close freed it
  zip_source_t* src = buffer_.get();
  if (zip_source_is_deleted(src))
    return make_error(ErrorKind::kInternal, "the ZIP archive is empty");
  if (zip_source_open(src) != 0)
    return zip_error("cannot read the ZIP archive", zip_source_error(src));
  std::string out;
  char chunk[65536];
  for (;;) {
    zip_int64_t n = zip_source_read(src, chunk, sizeof chunk);
    if (n < 0) {
      Error e = zip_error("cannot read the ZIP archive", zip_source_error(src));
      zip_source_close(src);
      return e;
    }
    if (n == 0) break;
    out.append(chunk, static_cast<size_t>(n));
  }
  zip_source_close(src);
  data_.clear();
  return out;
}

}  // namespace ck::archive
