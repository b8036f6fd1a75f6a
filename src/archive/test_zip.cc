#include "archive/test_zip.h"

#include <gtest/gtest.h>

#include "archive/zip_handle.h"

namespace ck::archive::testing {

std::string raw_zip(const std::vector<RawEntry>& entries, const std::string& password) {
  auto buffer = memory_source(nullptr, 0);
  if (!buffer.ok()) {
    ADD_FAILURE() << buffer.error().message;
    return "";
  }
  zip_error_t err;
  zip_error_init(&err);
  ZipPtr zip(zip_open_from_source(buffer->get(), ZIP_TRUNCATE, &err));
  zip_error_fini(&err);
  if (!zip) {
    ADD_FAILURE() << "zip_open_from_source";
    return "";
  }
  zip_source_keep(buffer->get());
  for (const auto& e : entries) {
    zip_int64_t index;
    if (e.directory) {
      index = zip_dir_add(zip.get(), e.name.c_str(), ZIP_FL_ENC_UTF_8);
    } else {
      zip_source_t* src = zip_source_buffer(zip.get(), e.data.data(), e.data.size(), 0);
      index = zip_file_add(zip.get(), e.name.c_str(), src, ZIP_FL_ENC_UTF_8);
      if (index < 0) zip_source_free(src);
    }
    if (index < 0) {
      ADD_FAILURE() << "cannot add " << e.name << ": " << zip_strerror(zip.get());
      return "";
    }
    auto i = static_cast<zip_uint64_t>(index);
    if (!e.directory && e.encryption != ZIP_EM_NONE &&
        zip_file_set_encryption(zip.get(), i, e.encryption, password.c_str()) != 0) {
      ADD_FAILURE() << "cannot encrypt " << e.name << ": " << zip_strerror(zip.get());
      return "";
    }
    if (e.unix_mode)
      zip_file_set_external_attributes(zip.get(), i, 0, ZIP_OPSYS_UNIX, *e.unix_mode << 16);
  }
  if (zip_close(zip.get()) != 0) {
    ADD_FAILURE() << "zip_close: " << zip_strerror(zip.get());
    return "";
  }
  zip.release();
  zip_source_t* src = buffer->get();
  std::string out;
  if (zip_source_is_deleted(src)) return out;
  zip_source_open(src);
  char chunk[65536];
  for (zip_int64_t n; (n = zip_source_read(src, chunk, sizeof chunk)) > 0;)
    out.append(chunk, static_cast<size_t>(n));
  zip_source_close(src);
  return out;
}

std::string patch_all(std::string bytes, const std::string& from, const std::string& to) {
  EXPECT_EQ(from.size(), to.size());
  size_t count = 0;
  for (size_t pos = 0; (pos = bytes.find(from, pos)) != std::string::npos;
       pos += to.size(), ++count)
    bytes.replace(pos, from.size(), to);
  EXPECT_GT(count, 0u) << "nothing to patch";
  return bytes;
}

}  // namespace ck::archive::testing
