#include "common/file_util.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <random>
#include <sys/stat.h>
#include <unistd.h>

namespace ck {
namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

std::string random_suffix() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[17];
  snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}

}  // namespace

Error errno_error(const std::string& what, const std::string& path, int err) {
  ErrorKind kind = ErrorKind::kIo;
  if (err == EACCES || err == EPERM || err == EROFS) kind = ErrorKind::kPermissionDenied;
  if (err == ENOENT) kind = ErrorKind::kNotFound;
  return Error{kind, what + " " + path + ": " + std::strerror(err)};
}

std::string parent_directory(const std::string& path) {
  auto parent = std::filesystem::path(path).parent_path().string();
  return parent.empty() ? "." : parent;
}

namespace {

// Reads all of `fd` (named `path` in errors), at most `max_bytes`.
Result<std::string> read_all(int fd, const std::string& path, size_t max_bytes) {
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("cannot read", path, errno);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) {
      return make_error(ErrorKind::kInvalidArgument,
                        path + " is larger than " + std::to_string(max_bytes) + " bytes");
    }
  }
  return out;
}

}  // namespace

Result<std::string> read_file(const std::string& path, size_t max_bytes) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return errno_error("cannot open", path, errno);
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) return errno_error("cannot stat", path, errno);
  if (S_ISDIR(st.st_mode)) return make_error(ErrorKind::kInvalidArgument, path + " is a directory");
  return read_all(fd.get(), path, max_bytes);
}

Result<std::string> read_private_file(const std::string& path, size_t max_bytes, const std::string& what) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0) return errno_error("cannot open " + what, path, errno);
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) return errno_error("cannot stat " + what, path, errno);
  if (S_ISDIR(st.st_mode)) return make_error(ErrorKind::kInvalidArgument, what + " " + path + " is a folder");
  if (st.st_mode & (S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH)) {
    return make_error(ErrorKind::kPermissionDenied,
                      what + " " + path + " is accessible by group or others (chmod 600 " + path + ")");
  }
  return read_all(fd.get(), path, max_bytes);
}

Result<AtomicFileWriter> AtomicFileWriter::create(const std::string& path, mode_t mode) {
  const std::string tmp = parent_directory(path) + "/." + std::filesystem::path(path).filename().string() +
                          ".tmp-" + random_suffix();
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return errno_error("cannot create", tmp, errno);
  if (::fchmod(fd, mode) != 0) {
    Error e = errno_error("cannot chmod", tmp, errno);
    ::close(fd);
    ::unlink(tmp.c_str());
    return e;
  }
  return AtomicFileWriter(path, tmp, fd);
}

AtomicFileWriter::AtomicFileWriter(AtomicFileWriter&& o) noexcept
    : path_(std::move(o.path_)), tmp_(std::move(o.tmp_)), fd_(o.fd_) {
  o.fd_ = -1;
  o.tmp_.clear();
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!tmp_.empty()) ::unlink(tmp_.c_str());
}

Status AtomicFileWriter::write(std::string_view data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd_, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("cannot write", tmp_, errno);
    }
    off += static_cast<size_t>(n);
  }
  return ok_status();
}

Status AtomicFileWriter::commit() {
  if (::fsync(fd_) != 0) return errno_error("cannot fsync", tmp_, errno);
  int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) return errno_error("cannot close", tmp_, errno);
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) return errno_error("cannot rename to", path_, errno);
  tmp_.clear();
  Fd dfd(::open(parent_directory(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.get() >= 0) ::fsync(dfd.get());  // best effort: some network mounts refuse it
  return ok_status();
}

Status write_file_atomic(const std::string& path, const std::string& data, mode_t mode) {
  CK_ASSIGN_OR_RETURN(AtomicFileWriter writer, AtomicFileWriter::create(path, mode));
  CK_RETURN_IF_ERROR(writer.write(data));
  return writer.commit();
}

Status ensure_directory(const std::string& dir, mode_t mode) {
  std::error_code ec;
  if (std::filesystem::is_directory(dir, ec)) return ok_status();
  std::filesystem::create_directories(dir, ec);
  if (ec) return errno_error("cannot create directory", dir, ec.value());
  ::chmod(dir.c_str(), mode);
  return ok_status();
}

}  // namespace ck
