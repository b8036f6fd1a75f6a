#include "agent/file_state_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "common/file_util.h"

namespace ck::agent {

namespace {
constexpr const char* kStateFile = "agent_state.json";
constexpr size_t kMaxStateBytes = 4u << 20;

bool same_stat(const struct stat& a, const struct stat& b) {
  return a.st_ino == b.st_ino && a.st_dev == b.st_dev && a.st_size == b.st_size &&
         a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec &&
         a.st_ctim.tv_sec == b.st_ctim.tv_sec && a.st_ctim.tv_nsec == b.st_ctim.tv_nsec;
}
}  // namespace

Result<std::unique_ptr<FileStateStore>> FileStateStore::open(const std::string& install_dir) {
  if (install_dir.empty()) return make_error(ErrorKind::kInvalidArgument, "empty install dir");
  CK_RETURN_IF_ERROR(ensure_directory(install_dir, 0755));
  return std::unique_ptr<FileStateStore>(new FileStateStore(install_dir));
}

Result<std::optional<AgentState>> FileStateStore::load_state() {
  auto text = read_file(path(kStateFile), kMaxStateBytes);
  if (!text.ok()) {
    if (text.error().kind == ErrorKind::kNotFound) return std::optional<AgentState>();
    return text.error();
  }
  CK_ASSIGN_OR_RETURN(AgentState s, parse_state(*text));
  return std::optional<AgentState>(std::move(s));
}

Status FileStateStore::save_state(const AgentState& state) {
  return write_file_atomic(path(kStateFile), serialize_state(state), 0600);
}

Result<std::optional<std::string>> FileStateStore::read_agent_key_if_changed() {
  const std::string p = path(kAgentKeyFileName);
  struct stat st{};
  if (::stat(p.c_str(), &st) != 0) return errno_error("cannot stat", p, errno);
  if (key_seen_ && same_stat(st, key_stat_)) return std::optional<std::string>();
  CK_ASSIGN_OR_RETURN(std::string bytes, read_file(p, kMaxAgentKeyFileBytes));
  key_seen_ = true;
  key_stat_ = st;
  return std::optional<std::string>(std::move(bytes));
}

Status FileStateStore::write_agent_key(const std::string& bytes) {
  const std::string p = path(kAgentKeyFileName);
  CK_RETURN_IF_ERROR(write_file_atomic(p, bytes, 0644));
  // Our own write is not a hand copy: remember its stat so the next poll skips it.
  struct stat st{};
  if (::stat(p.c_str(), &st) == 0) {
    key_seen_ = true;
    key_stat_ = st;
  }
  return ok_status();
}

Status FileStateStore::write_policy(const std::string& json_text) {
  return write_file_atomic(path("policy.json"), json_text, 0644);
}

Status FileStateStore::append_line(const char* name, const std::string& line) {
  const std::string p = path(name);
  int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return errno_error("cannot open", p, errno);
  std::string data = line + "\n";
  ssize_t n = ::write(fd, data.data(), data.size());  // one write: O_APPEND keeps lines whole
  int err = errno;
  bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (n != static_cast<ssize_t>(data.size())) return errno_error("cannot write", p, n < 0 ? err : EIO);
  if (!synced) return errno_error("cannot fsync", p, errno);
  return ok_status();
}

Status FileStateStore::append_scan_log(const std::string& line) { return append_line("scan.log", line); }
Status FileStateStore::append_reply(const std::string& line) { return append_line("replies.log", line); }

}  // namespace ck::agent
