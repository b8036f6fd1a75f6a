#include "archive/zip_reader.h"

#include <sys/stat.h>

#include <algorithm>
#include <set>

#include "archive/entry_name.h"
#include "archive/inflate.h"
#include "archive/limits.h"
#include "archive/winzip_aes.h"
#include "archive/zip_handle.h"

namespace ck::archive {
namespace {

Result<ZipPtr> open_read_only(std::string_view archive) {
  if (archive.empty())
    return make_error(ErrorKind::kInvalidArgument, "not a ZIP archive (empty file)");
  if (archive.size() > kMaxArchiveBytes)
    return make_error(
        ErrorKind::kInvalidArgument,
        "the archive is larger than " + std::to_string(kMaxArchiveBytes >> 20) + " MiB");
  CK_ASSIGN_OR_RETURN(ZipSourcePtr src, memory_source(archive.data(), archive.size()));
  zip_error_t err;
  zip_error_init(&err);
  ZipPtr zip(zip_open_from_source(src.get(), ZIP_RDONLY | ZIP_CHECKCONS, &err));
  if (!zip) {
    Error e = zip_error("cannot open the archive", &err);
    zip_error_fini(&err);
    return e;
  }
  zip_error_fini(&err);
  src.release();  // the archive owns the source now
  return zip;
}

struct EntryInfo {
  std::string name;
  uint16_t encryption_method;
};

Result<std::vector<EntryInfo>> check_entries(zip_t* zip) {
  zip_int64_t count = zip_get_num_entries(zip, 0);
  if (count < 0) return zip_error("cannot list the archive", zip_get_error(zip));
  if (count == 0) return make_error(ErrorKind::kInvalidArgument, "the archive is empty");
  if (static_cast<uint64_t>(count) > kMaxEntries)
    return make_error(ErrorKind::kInvalidArgument, "the archive has " + std::to_string(count) +
                                                       " entries (at most " +
                                                       std::to_string(kMaxEntries) + " allowed)");
  std::vector<EntryInfo> out;
  std::set<std::string> names;
  uint64_t total = 0;
  for (zip_uint64_t i = 0; i < static_cast<zip_uint64_t>(count); ++i) {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(zip, i, 0, &st) != 0)
      return zip_error("cannot read the archive", zip_get_error(zip));
    if (!(st.valid & ZIP_STAT_NAME) || !st.name)
      return make_error(ErrorKind::kCorrupt, "an entry of the archive has no name");
    const std::string name = st.name;
    CK_RETURN_IF_ERROR(validate_entry_name(name));
    if (!names.insert(name).second)
      return make_error(ErrorKind::kInvalidArgument,
                        "duplicate entry \"" + name + "\" in the archive");
    zip_uint8_t opsys = 0;
    zip_uint32_t attributes = 0;
    if (zip_file_get_external_attributes(zip, i, 0, &opsys, &attributes) != 0)
      return zip_error("cannot read the archive", zip_get_error(zip));
    if (opsys == ZIP_OPSYS_UNIX) {
      const mode_t mode = static_cast<mode_t>(attributes >> 16);
      if (S_ISLNK(mode))
        return make_error(ErrorKind::kInvalidArgument, "entry \"" + name + "\" is a symbolic link");
      if ((mode & S_IFMT) != 0 && !S_ISREG(mode))
        return make_error(ErrorKind::kInvalidArgument,
                          "entry \"" + name + "\" is not a regular file");
    }
    if (!(st.valid & ZIP_STAT_SIZE) || st.size > kMaxEntryBytes)
      return make_error(ErrorKind::kInvalidArgument,
                        "entry \"" + name + "\" declares " + std::to_string(st.size) +
                            " bytes (more than the " + std::to_string(kMaxEntryBytes >> 20) +
                            " MiB allowed; a ZIP bomb?)");
    if ((st.valid & ZIP_STAT_COMP_SIZE) && st.comp_size > kMaxEntryBytes + kMaxEntryOverhead)
      return make_error(ErrorKind::kInvalidArgument, "entry \"" + name + "\" is too large (" +
                                                         std::to_string(st.comp_size) +
                                                         " bytes compressed)");
    total += st.size;
    if (total > kMaxTotalBytes)
      return make_error(ErrorKind::kInvalidArgument, "the archive declares more than " +
                                                         std::to_string(kMaxTotalBytes >> 20) +
                                                         " MiB of content (a ZIP bomb?)");
    const uint16_t method =
        (st.valid & ZIP_STAT_ENCRYPTION_METHOD) ? st.encryption_method : ZIP_EM_NONE;
    if (method == ZIP_EM_NONE)
      return make_error(
          ErrorKind::kInvalidArgument,
          "entry \"" + name + "\" is not encrypted (a backup must be password-protected)");
    // Anything but WinZip AES and ZipCrypto is refused here, before libzip opens it:
    // libzip 1.7.3 leaks its layered sources when zip_fopen fails on an unsupported
    // method (found by fuzz_zip).
    if (method != ZIP_EM_TRAD_PKWARE && method != ZIP_EM_AES_128 && method != ZIP_EM_AES_192 &&
        method != ZIP_EM_AES_256)
      return make_error(ErrorKind::kInvalidArgument,
                        "entry \"" + name + "\" uses encryption method " + std::to_string(method) +
                            " (only WinZip AES and ZipCrypto are read)");
    out.push_back(EntryInfo{name, method});
  }
  return out;
}

int aes_key_bits(uint16_t method) {
  switch (method) {
    case ZIP_EM_AES_128:
      return 128;
    case ZIP_EM_AES_192:
      return 192;
    case ZIP_EM_AES_256:
      return 256;
    default:
      return 0;
  }
}

// Reads up to `limit` bytes from an open entry; more is an error.
Result<std::string> read_bounded(zip_file_t* file, uint64_t limit, const std::string& what) {
  std::string out;
  char chunk[16384];
  for (;;) {
    zip_int64_t n = zip_fread(file, chunk, sizeof chunk);
    if (n < 0) return zip_error(what, zip_file_get_error(file));
    if (n == 0) break;
    out.append(chunk, static_cast<size_t>(n));
    if (out.size() > limit)
      return make_error(
          ErrorKind::kInvalidArgument,
          what + " inflates beyond " + std::to_string(kMaxEntryBytes >> 20) + " MiB (a ZIP bomb?)");
  }
  return out;
}

// WinZip AES: libzip hands us the raw bytes; we check the MAC, decrypt, inflate
// (bounded) and check the CRC when the entry carries one (AE-1).
Result<std::string> read_aes_entry(zip_t* zip, zip_uint64_t index, const zip_stat_t& st,
                                   int key_bits, const std::string& what,
                                   const std::string& password) {
  if (!(st.valid & ZIP_STAT_COMP_SIZE))
    return make_error(ErrorKind::kCorrupt, what + ": no compressed size");
  ZipFilePtr file(zip_fopen_index(zip, index, ZIP_FL_ENCRYPTED));
  if (!file) return zip_error(what, zip_get_error(zip));
  // Read exactly the stored size (already bounded by check_entries): libzip 1.7.3
  // reports a spurious inconsistency when asked for more of a stored entry read raw.
  std::string raw;
  char chunk[16384];
  while (raw.size() < st.comp_size) {
    const zip_uint64_t want = std::min<zip_uint64_t>(sizeof chunk, st.comp_size - raw.size());
    zip_int64_t n = zip_fread(file.get(), chunk, want);
    if (n < 0) return zip_error(what, zip_file_get_error(file.get()));
    if (n == 0)
      return make_error(ErrorKind::kCorrupt, what + ": the ZIP archive is truncated or damaged");
    raw.append(chunk, static_cast<size_t>(n));
  }
  auto compressed = winzip_aes_decrypt(raw, key_bits, password);
  if (!compressed.ok()) {
    if (compressed.error().kind == ErrorKind::kCrypto) return compressed.error();
    return compressed.error().with_context(what);
  }
  auto data = inflate_entry(*compressed, st.comp_method, kMaxEntryBytes);
  if (!data.ok()) return data.error().with_context(what);
  if ((st.valid & ZIP_STAT_CRC) && st.crc != 0 && zip_crc32(*data) != st.crc)
    return make_error(ErrorKind::kCorrupt, what + ": the ZIP archive is damaged (CRC error)");
  return std::move(data).value();
}

// Decrypts and inflates one entry, never holding more than kMaxEntryBytes.
Result<std::string> read_entry(zip_t* zip, zip_uint64_t index, const std::string& name,
                               const std::string& password) {
  const std::string what = "entry \"" + name + "\"";
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat_index(zip, index, 0, &st) != 0) return zip_error(what, zip_get_error(zip));
  if (int bits = aes_key_bits(st.encryption_method))
    return read_aes_entry(zip, index, st, bits, what, password);
  ZipFilePtr file(zip_fopen_index_encrypted(zip, index, 0, password.c_str()));
  if (!file) {
    Error e = zip_error(what, zip_get_error(zip));
    if (e.kind == ErrorKind::kCrypto) return make_error(ErrorKind::kCrypto, "wrong password");
    return e;
  }
  return read_bounded(file.get(), kMaxEntryBytes, what);
}

}  // namespace

Result<std::vector<ZipEntry>> read_zip_entries(std::string_view archive,
                                               const std::string& password) {
  CK_ASSIGN_OR_RETURN(ZipPtr zip, open_read_only(archive));
  CK_ASSIGN_OR_RETURN(auto infos, check_entries(zip.get()));
  std::vector<ZipEntry> out;
  uint64_t total = 0;
  for (size_t i = 0; i < infos.size(); ++i) {
    CK_ASSIGN_OR_RETURN(std::string data, read_entry(zip.get(), i, infos[i].name, password));
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(zip.get(), i, 0, &st) != 0 || data.size() != st.size)
      return make_error(
          ErrorKind::kCorrupt,
          "entry \"" + infos[i].name + "\" does not have its declared size (damaged archive)");
    total += data.size();
    if (total > kMaxTotalBytes)
      return make_error(
          ErrorKind::kInvalidArgument,
          "the archive holds more than " + std::to_string(kMaxTotalBytes >> 20) + " MiB");
    out.push_back(ZipEntry{infos[i].name, std::move(data), infos[i].encryption_method});
  }
  return out;
}

}  // namespace ck::archive
