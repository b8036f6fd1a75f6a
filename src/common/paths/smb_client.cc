#include "common/paths/smb_client.h"

#include <libsmbclient.h>
#include <openssl/rand.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>

namespace ck::paths {

struct SmbClient::Impl {
  SmbOptions options;
  SMBCCTX* ctx = nullptr;

  std::string url(const Location& where) const { return where.smb->url(options.default_port); }
  std::string host(const Location& where) const { return where.smb->host(options.default_port); }
  bool exists(const Location& where) { return stat_errno(url(where)) == 0; }

  // errno of a probe (0 when it succeeds), for telling failures apart.
  int stat_errno(const std::string& url) {
    struct stat st{};
    return smbc_getFunctionStat(ctx)(ctx, url.c_str(), &st) == 0 ? 0 : errno;
  }
  int opendir_errno(const std::string& url) {
    SMBCFILE* dir = smbc_getFunctionOpendir(ctx)(ctx, url.c_str());
    if (!dir) return errno;
    smbc_getFunctionClosedir(ctx)(ctx, dir);
    return 0;
  }

  // One clear line for a failed call (`err` is its errno): which of the failures
  // an administrator can act on it was, found by probing the server and the share.
  Error classify(int err, const Location& where, const std::string& action) {
    const SmbTarget& t = *where.smb;
    switch (err) {
      case ECONNREFUSED: case ETIMEDOUT: case EHOSTUNREACH: case ENETUNREACH:
      case ECONNRESET: case EHOSTDOWN: case ECONNABORTED: case EPIPE:
        return make_error(ErrorKind::kUnavailable, "cannot reach SMB server " + host(where) + " (" +
                                                       std::strerror(err) + ") to " + action + " " + where.given);
      case EINVAL:
        if (stat_errno(t.share_url(options.default_port)) == EINVAL)
          return make_error(ErrorKind::kUnavailable, "cannot reach SMB server " + host(where) +
                                                         " (unknown host name or no SMB session) to " + action +
                                                         " " + where.given);
        break;
      case EACCES: case EPERM: {
        if (!options.credentials)
          return make_error(ErrorKind::kPermissionDenied,
                            "access denied to an anonymous SMB logon: cannot " + action + " " + where.given +
                                " (give --smb-credentials FILE)");
        const int logon = opendir_errno("smb://" + host(where) + "/");  // the server's share list
        if (logon == EACCES || logon == EPERM)
          return make_error(ErrorKind::kPermissionDenied,
                            "SMB logon to " + host(where) + " failed for user " + options.credentials->username +
                                ": wrong user name or password (see --smb-credentials)");
        return make_error(ErrorKind::kPermissionDenied, "access denied: cannot " + action + " " + where.given);
      }
      case ENOENT:
      case ENODEV:
        if (const int share = stat_errno(t.share_url(options.default_port)); share == ENOENT || share == ENODEV)
          return make_error(ErrorKind::kNotFound, "share " + t.unc_share() + " not found on SMB server " + host(where));
        if (action == "read") return make_error(ErrorKind::kNotFound, "file not found: " + where.given);
        return make_error(ErrorKind::kNotFound, "folder not found: " + where.parent().given + " (cannot " + action +
                                                    " " + where.given + ")");
      default:
        break;
    }
    return make_error(ErrorKind::kIo, "cannot " + action + " " + where.given + ": " + std::strerror(err));
  }

  static void auth(SMBCCTX* ctx, const char*, const char*, char* workgroup, int workgroup_len, char* user,
                   int user_len, char* password, int password_len) {
    auto* self = static_cast<Impl*>(smbc_getOptionUserData(ctx));
    if (!self || !self->options.credentials) return;  // anonymous: leave the buffers empty
    const SmbCredentials& c = *self->options.credentials;
    if (!c.domain.empty()) std::snprintf(workgroup, static_cast<size_t>(workgroup_len), "%s", c.domain.c_str());
    std::snprintf(user, static_cast<size_t>(user_len), "%s", c.username.c_str());
    std::snprintf(password, static_cast<size_t>(password_len), "%s", c.password.c_str());
  }
};

namespace {

std::string random_hex() {
  unsigned char bytes[8];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return std::to_string(::getpid());
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

class SmbOutputFile final : public OutputFile {
 public:
  SmbOutputFile(SmbClient::Impl* impl, Location target, Location temp, SMBCFILE* file)
      : impl_(impl), target_(std::move(target)), temp_(std::move(temp)), file_(file) {}
  ~SmbOutputFile() override { discard(); }

  Status write(std::string_view data) override {
    if (!file_) return make_error(ErrorKind::kInternal, "write after commit");
    while (!data.empty()) {
      ssize_t n = smbc_getFunctionWrite(impl_->ctx)(impl_->ctx, file_, data.data(), data.size());
      if (n <= 0) {
        const int err = n < 0 ? errno : EIO;
        return impl_->classify(err, target_, "write");
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return ok_status();
  }

  Status commit() override {
    if (!file_) return make_error(ErrorKind::kInternal, "commit twice");
    SMBCFILE* file = std::exchange(file_, nullptr);
    if (smbc_getFunctionClose(impl_->ctx)(impl_->ctx, file) != 0) {
      const int err = errno;
      remove_temp();
      return impl_->classify(err, target_, "write");
    }
    // libsmbclient's rename does not overwrite: on "exists" it deletes the target and
    // renames again, and a failure in between would lose the old file. So the old file
    // is first moved aside and put back if the new one cannot take its name. Between
    // the two renames the name is briefly absent, never half-written.
    const bool replacing = impl_->exists(target_);
    Location aside = target_.parent().child("." + target_.file_name() + ".old-" + random_hex());
    if (replacing && !rename(target_, aside)) {
      const int err = errno;
      remove_temp();
      return impl_->classify(err, target_, "replace");
    }
    if (!rename(temp_, target_)) {
      const int err = errno;
      if (replacing) (void)rename(aside, target_);  // best effort: the old file stays under .old- otherwise
      remove_temp();
      return impl_->classify(err, target_, "replace");
    }
    if (replacing) smbc_getFunctionUnlink(impl_->ctx)(impl_->ctx, impl_->url(aside).c_str());
    committed_ = true;
    return ok_status();
  }

 private:
  bool rename(const Location& from, const Location& to) {
    return smbc_getFunctionRename(impl_->ctx)(impl_->ctx, impl_->url(from).c_str(), impl_->ctx,
                                              impl_->url(to).c_str()) == 0;
  }
  void discard() {
    if (file_) smbc_getFunctionClose(impl_->ctx)(impl_->ctx, std::exchange(file_, nullptr));
    if (!committed_) remove_temp();
  }
  void remove_temp() {
    if (!temp_removed_) smbc_getFunctionUnlink(impl_->ctx)(impl_->ctx, impl_->url(temp_).c_str());
    temp_removed_ = true;
  }

  SmbClient::Impl* impl_;
  Location target_, temp_;
  SMBCFILE* file_;
  bool committed_ = false, temp_removed_ = false;
};

}  // namespace

Result<std::unique_ptr<SmbClient>> SmbClient::create(SmbOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->ctx = smbc_new_context();
  if (!impl->ctx) return make_error(ErrorKind::kInternal, "cannot create an SMB client context");
  SMBCCTX* ctx = impl->ctx;
  smbc_setDebug(ctx, 0);
  smbc_setOptionDebugToStderr(ctx, 1);  // never onto stdout, which carries our output
  smbc_setOptionUserData(ctx, impl.get());
  smbc_setFunctionAuthDataWithContext(ctx, &Impl::auth);
  // With credentials, a refused logon is an error, not a silent retry as guest.
  smbc_setOptionNoAutoAnonymousLogin(ctx, impl->options.credentials ? 1 : 0);
  // Without credentials, a real anonymous logon: not $USER with an empty password.
  if (!impl->options.credentials) smbc_setUser(ctx, "");
  smbc_setOptionUseKerberos(ctx, 0);
  smbc_setOptionUseCCache(ctx, 0);
  smbc_setOptionProtocols(ctx, "SMB2_02", "SMB3");
  smbc_setPort(ctx, impl->options.default_port);
  smbc_setTimeout(ctx, impl->options.timeout_ms);
  if (!smbc_init_context(ctx)) {
    const int err = errno;
    smbc_free_context(ctx, 1);
    impl->ctx = nullptr;
    return make_error(ErrorKind::kInternal, std::string("cannot start the SMB client: ") + std::strerror(err));
  }
  return std::unique_ptr<SmbClient>(new SmbClient(std::move(impl)));
}

SmbClient::SmbClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

SmbClient::~SmbClient() {
  if (impl_ && impl_->ctx) smbc_free_context(impl_->ctx, 1);
}

Result<std::string> SmbClient::read_file(const Location& where, size_t max_bytes) {
  SMBCCTX* ctx = impl_->ctx;
  SMBCFILE* file = smbc_getFunctionOpen(ctx)(ctx, impl_->url(where).c_str(), O_RDONLY, 0);
  if (!file) return impl_->classify(errno, where, "read");
  struct FileCloser {
    SMBCCTX* ctx;
    SMBCFILE* file;
    ~FileCloser() { smbc_getFunctionClose(ctx)(ctx, file); }
  } closer{ctx, file};
  struct stat st{};
  if (smbc_getFunctionFstat(ctx)(ctx, file, &st) == 0 && S_ISDIR(st.st_mode))
    return make_error(ErrorKind::kInvalidArgument, where.given + " is a folder, not a file");
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = smbc_getFunctionRead(ctx)(ctx, file, buf, sizeof buf);
    if (n < 0) return impl_->classify(errno, where, "read");
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes)
      return make_error(ErrorKind::kInvalidArgument, where.given + " is larger than " + std::to_string(max_bytes) + " bytes");
  }
  return out;
}

Result<bool> SmbClient::is_directory(const Location& where) {
  struct stat st{};
  if (smbc_getFunctionStat(impl_->ctx)(impl_->ctx, impl_->url(where).c_str(), &st) == 0) return S_ISDIR(st.st_mode);
  const int err = errno;
  if (err == ENOENT && impl_->stat_errno(where.smb->share_url(impl_->options.default_port)) == 0) return false;
  return impl_->classify(err, where, "open");
}

Status SmbClient::ensure_directory(const Location& where) {
  Location prefix = where;
  prefix.smb->path.clear();
  const std::string& path = where.smb->path;
  for (size_t start = 0; start < path.size();) {
    size_t slash = path.find('/', start);
    prefix.smb->path = path.substr(0, slash);
    prefix.given = where.given;
    CK_ASSIGN_OR_RETURN(bool is_dir, is_directory(prefix));
    if (!is_dir) {
      if (smbc_getFunctionMkdir(impl_->ctx)(impl_->ctx, impl_->url(prefix).c_str(), 0700) != 0) {
        const int err = errno;
        if (err != EEXIST) return impl_->classify(err, where, "create the folder");
      }
    }
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  CK_ASSIGN_OR_RETURN(bool is_dir, is_directory(where));
  if (!is_dir) return make_error(ErrorKind::kInvalidArgument, where.given + " is a file, not a folder");
  return ok_status();
}

Result<std::unique_ptr<OutputFile>> SmbClient::create_file(const Location& where) {
  if (where.smb->path.empty()) return make_error(ErrorKind::kInvalidArgument, where.given + " names a share, not a file");
  CK_ASSIGN_OR_RETURN(bool is_folder, is_directory(where));
  if (is_folder) return make_error(ErrorKind::kInvalidArgument, where.given + " is a folder, not a file");
  Location temp = where.parent().child("." + where.file_name() + ".tmp-" + random_hex());
  SMBCFILE* file = smbc_getFunctionOpen(impl_->ctx)(impl_->ctx, impl_->url(temp).c_str(),
                                                    O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (!file) return impl_->classify(errno, where, "write");
  return std::unique_ptr<OutputFile>(new SmbOutputFile(impl_.get(), where, std::move(temp), file));
}

}  // namespace ck::paths
