#include "common/paths/path_access.h"

#include <filesystem>

#include "common/file_util.h"

namespace ck::paths {
namespace {

class LocalOutputFile final : public OutputFile {
 public:
  explicit LocalOutputFile(AtomicFileWriter writer) : writer_(std::move(writer)) {}
  Status write(std::string_view data) override { return writer_.write(data); }
  Status commit() override { return writer_.commit(); }

 private:
  AtomicFileWriter writer_;
};

}  // namespace

PathAccess::PathAccess(PathOptions options) : options_(std::move(options)) {}
PathAccess::~PathAccess() = default;

Result<SmbClient*> PathAccess::smb() {
  if (smb_) return smb_.get();
  SmbOptions options;
  options.default_port = options_.smb_port;
  if (!options_.smb_credentials_file.empty()) {
    CK_ASSIGN_OR_RETURN(options.credentials, read_smb_credentials(options_.smb_credentials_file));
  }
  CK_ASSIGN_OR_RETURN(smb_, SmbClient::create(std::move(options)));
  return smb_.get();
}

Result<std::string> PathAccess::read(const Location& where, size_t max_bytes) {
  if (!where.on_share()) return read_file(where.local, max_bytes);
  CK_ASSIGN_OR_RETURN(SmbClient * client, smb());
  return client->read_file(where, max_bytes);
}

Status PathAccess::write(const Location& where, std::string_view data, mode_t mode) {
  CK_ASSIGN_OR_RETURN(auto file, create(where, mode));
  CK_RETURN_IF_ERROR(file->write(data));
  return file->commit();
}

Result<std::unique_ptr<OutputFile>> PathAccess::create(const Location& where, mode_t mode) {
  if (where.on_share()) {
    CK_ASSIGN_OR_RETURN(SmbClient * client, smb());
    return client->create_file(where);
  }
  CK_ASSIGN_OR_RETURN(AtomicFileWriter writer, AtomicFileWriter::create(where.local, mode));
  return std::unique_ptr<OutputFile>(new LocalOutputFile(std::move(writer)));
}

Result<bool> PathAccess::is_directory(const Location& where) {
  if (!where.on_share()) {
    std::error_code ec;
    return std::filesystem::is_directory(where.local, ec);
  }
  CK_ASSIGN_OR_RETURN(SmbClient * client, smb());
  return client->is_directory(where);
}

Status PathAccess::ensure_directory(const Location& where, mode_t mode) {
  if (!where.on_share()) return ck::ensure_directory(where.local, mode);
  CK_ASSIGN_OR_RETURN(SmbClient * client, smb());
  return client->ensure_directory(where);
}

}  // namespace ck::paths
