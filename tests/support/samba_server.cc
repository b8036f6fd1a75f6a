#include "support/samba_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace ck::testing {
namespace {

// A port the kernel just handed out on 127.0.0.1 (free now; smbd binds it next).
int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

bool accepts(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

std::string find_tool(const std::string& name) {
  for (const char* d : {"/usr/sbin/", "/usr/bin/", "/sbin/"}) {
    if (::access((std::string(d) + name).c_str(), X_OK) == 0) return std::string(d) + name;
  }
  return "";
}

}  // namespace

std::unique_ptr<SambaServer> SambaServer::start(const std::string& dir, std::string* why) {
  const std::string smbd = find_tool("smbd"), smbpasswd = find_tool("smbpasswd");
  if (smbd.empty() || smbpasswd.empty()) {
    *why = "smbd and smbpasswd are needed (Debian package samba; scripts/setup installs it)";
    return nullptr;
  }
  if (::geteuid() != 0) {
    *why = "smbd switches users, so the Samba tests run as root (CI does)";
    return nullptr;
  }
  std::unique_ptr<SambaServer> s(new SambaServer());
  s->dir_ = dir;
  const passwd* pw = ::getpwuid(::geteuid());
  s->user_ = pw ? pw->pw_name : "root";
  for (const char* sub : {"certs", "readonly", "vetoed", "private", "lock", "state", "cache", "pid", "log"})
    std::filesystem::create_directories(dir + "/" + sub);
  s->port_ = free_port();
  const std::string conf = dir + "/smb.conf";
  {
    std::ofstream c(conf);
    c << "[global]\n"
      << "  server role = standalone server\n"
      << "  smb ports = " << s->port_ << "\n"
      << "  interfaces = 127.0.0.1\n  bind interfaces only = yes\n  disable netbios = yes\n"
      << "  server min protocol = SMB2_02\n  map to guest = never\n  restrict anonymous = 2\n"
      << "  passdb backend = tdbsam:" << dir << "/private/passdb.tdb\n"
      << "  private dir = " << dir << "/private\n  lock directory = " << dir << "/lock\n"
      << "  state directory = " << dir << "/state\n  cache directory = " << dir << "/cache\n"
      << "  pid directory = " << dir << "/pid\n  ncalrpc dir = " << dir << "/state/ncalrpc\n"
      << "  log file = " << dir << "/log/smbd.log\n  max log size = 1000\n"
      << "  load printers = no\n  printing = bsd\n  printcap name = /dev/null\n  disable spoolss = yes\n"
      << "[certs]\n  path = " << dir << "/certs\n  read only = no\n"
      << "[readonly]\n  path = " << dir << "/readonly\n  read only = yes\n"
      // Names ending in .csv cannot be created here: a write's final rename fails.
      << "[vetoed]\n  path = " << dir << "/vetoed\n  read only = no\n  veto files = /*.csv/\n";
  }
  const std::string twice = std::string(kPassword) + "\n" + kPassword + "\n";
  auto added = run({smbpasswd, "-c", conf, "-a", "-s", s->user_}, RunOptions{.stdin_data = twice});
  if (added.exit_code != 0) {
    *why = "smbpasswd failed: " + added.err + added.out;
    return nullptr;
  }
  {
    const std::string creds = s->credentials_file();
    std::ofstream f(creds);
    f << "username=" << s->user_ << "\npassword=" << kPassword << "\n";
    f.close();
    ::chmod(creds.c_str(), 0600);
  }
  s->smbd_ = std::make_unique<ChildProcess>(std::vector<std::string>{smbd, "--foreground", "--debug-stdout",
                                                                     "--debuglevel=1", "--configfile=" + conf});
  if (!wait_until([&] { return accepts(s->port_); }, std::chrono::seconds(30))) {
    *why = "smbd did not listen on 127.0.0.1:" + std::to_string(s->port_) + ": " + s->smbd_->error_output() +
           s->smbd_->output();
    return nullptr;
  }
  return s;
}

SambaServer::~SambaServer() {
  // smbd leads its own process group (it is not given --no-process-group): stop the
  // per-connection children with it.
  if (smbd_ && smbd_->pid() > 0) ::kill(-smbd_->pid(), SIGTERM);
}

}  // namespace ck::testing
