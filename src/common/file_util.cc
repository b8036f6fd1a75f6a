#include "common/file_util.h"
#include "common/fault_point.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <random>
#include <signal.h>
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

// ".NAME.tmp-<pid>-<random>" beside `path`: hidden from ls, never a name a user asked
// for, and its writer's pid says whether it is stale.
std::string hidden_temp_name(const std::string& path) {
  return parent_directory(path) + "/." + std::filesystem::path(path).filename().string() + ".tmp-" +
         std::to_string(::getpid()) + "-" + random_suffix();
}

// Removes our temporaries (".NAME.tmp-<pid>-<16 hex>") in `path`'s folder whose writer no
// longer runs: killed between naming its temporary and renaming it. Local folders only:
// a pid means nothing on a share that other hosts write to.
void remove_stale_temps(const std::string& path) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(parent_directory(path), ec)) {
    const std::string name = entry.path().filename().string();
    const size_t at = name.rfind(".tmp-");
    if (name.empty() || name[0] != '.' || at == std::string::npos) continue;
    char* end = nullptr;
    const long pid = std::strtol(name.c_str() + at + 5, &end, 10);
    if (pid <= 0 || *end != '-' || std::strlen(end + 1) != 16 ||
        std::strspn(end + 1, "0123456789abcdef") != 16)
      continue;
    if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) ::unlink(entry.path().c_str());
  }
}

// O_TMPFILE files get their name through /proc/self/fd; without /proc (some chroots and
// sandboxes) only named temporaries work.
bool unnamed_files_usable() {
  static const bool usable = ::access("/proc/self/fd", X_OK) == 0;
  return usable;
}

Error exists_error(const std::string& path) {
  return make_error(ErrorKind::kConflict, path + " already exists");
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
  // An unnamed file (O_TMPFILE) gets its name only at commit: a process killed while
  // writing leaves nothing behind. Filesystems without it (network mounts, FUSE) get a
  // hidden named temporary, removed on every path but SIGKILL.
  std::string tmp;
  int fd = unnamed_files_usable() ? ::open(parent_directory(path).c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, mode) : -1;
  if (fd >= 0) {
    remove_stale_temps(path);
  } else {
    tmp = hidden_temp_name(path);
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) return errno_error("cannot create", path, errno);
  }
  if (::fchmod(fd, mode) != 0) {
    Error e = errno_error("cannot chmod", path, errno);
    ::close(fd);
    if (!tmp.empty()) ::unlink(tmp.c_str());
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
      return errno_error("cannot write", path_, errno);
    }
    off += static_cast<size_t>(n);
  }
  return ok_status();
}

// Gives the unnamed file the name `name` (link(2) never replaces an existing file);
// 0 or the errno.
int AtomicFileWriter::link_unnamed(const std::string& name) {
  const std::string self = "/proc/self/fd/" + std::to_string(fd_);
  return ::linkat(AT_FDCWD, self.c_str(), AT_FDCWD, name.c_str(), AT_SYMLINK_FOLLOW) == 0 ? 0 : errno;
}

// Data on disk and the descriptor closed (network filesystems report write errors at
// close); an unnamed file is first given the name `name`.
Status AtomicFileWriter::finish_writing(const std::string& name) {
  fault_point("file.temp_written");
  if (::fsync(fd_) != 0) return errno_error("cannot fsync", path_, errno);
  if (tmp_.empty()) {
    if (int err = link_unnamed(name)) return err == EEXIST ? exists_error(name) : errno_error("cannot create", name, err);
    if (name != path_) tmp_ = name;  // from here the destructor removes it on failure
    fault_point("file.linked");
  }
  int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) return errno_error("cannot close", path_, errno);
  return ok_status();
}

void AtomicFileWriter::sync_folder() {
  tmp_.clear();
  fault_point("file.renamed");
  Fd dfd(::open(parent_directory(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.get() >= 0) ::fsync(dfd.get());  // best effort: some network mounts refuse it
}

Status AtomicFileWriter::commit() {
  CK_RETURN_IF_ERROR(finish_writing(tmp_.empty() ? hidden_temp_name(path_) : tmp_));
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) return errno_error("cannot rename to", path_, errno);
  sync_folder();
  return ok_status();
}

Status AtomicFileWriter::commit_new() {
  if (tmp_.empty()) {
    // Linking the unnamed file to the final name is atomic and never replaces.
    CK_RETURN_IF_ERROR(finish_writing(path_));
    sync_folder();
    return ok_status();
  }
  CK_RETURN_IF_ERROR(finish_writing(tmp_));
  if (::renameat2(AT_FDCWD, tmp_.c_str(), AT_FDCWD, path_.c_str(), RENAME_NOREPLACE) != 0) {
    if (errno == EEXIST) return exists_error(path_);
    if (errno != EINVAL && errno != ENOSYS) return errno_error("cannot rename to", path_, errno);
    // No RENAME_NOREPLACE here (some network filesystems): link(2) never replaces either.
    if (::link(tmp_.c_str(), path_.c_str()) != 0)
      return errno == EEXIST ? exists_error(path_) : errno_error("cannot create", path_, errno);
    ::unlink(tmp_.c_str());
  }
  sync_folder();
  return ok_status();
}

Status write_file_atomic(const std::string& path, const std::string& data, mode_t mode) {
  CK_ASSIGN_OR_RETURN(AtomicFileWriter writer, AtomicFileWriter::create(path, mode));
  CK_RETURN_IF_ERROR(writer.write(data));
  return writer.commit();
}

Status write_new_file(const std::string& path, const std::string& data, mode_t mode) {
  CK_ASSIGN_OR_RETURN(AtomicFileWriter writer, AtomicFileWriter::create(path, mode));
  CK_RETURN_IF_ERROR(writer.write(data));
  return writer.commit_new();
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
