// Test support: run a real binary and capture what it does, or keep one running.
// Only for tests; talks to nothing but the child process.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace ck::testing {

struct ProcessResult {
  int exit_code = -1;  // 128+signal when killed by a signal
  bool timed_out = false;  // killed by run() at RunOptions::timeout (exit_code 137 too)
  std::string out;
  std::string err;
};

struct RunOptions {
  std::string stdin_data;
  std::map<std::string, std::string> env;  // added to (and overriding) the inherited environment
  std::vector<std::string> unset_env;
  std::string cwd;
  std::chrono::milliseconds timeout{60000};
};

// Runs argv[0] (a path) to completion. Kills it on timeout (exit_code 137).
ProcessResult run(const std::vector<std::string>& argv, const RunOptions& options = {});

// Path of a built executable: $CK_BIN_DIR/<name>.
std::string bin(const std::string& name);

// A fresh, empty temporary folder named after the running test.
std::string temp_dir(const std::string& tag = "");

// The whole content of a file ("" when it cannot be read).
std::string slurp(const std::string& path);

// Polls `pred` every 50 ms until it holds or `timeout` passes; returns its last answer.
bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout);

// A path for a Unix socket, unique in this process and short enough for sun_path
// (temp_dir() names can exceed its 108 bytes).
std::string short_socket_path();

// A long-running child (e.g. the server). stdout is read line by line.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const RunOptions& options = {});
  ~ChildProcess();  // SIGTERM, then SIGKILL after 5 s
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Reads stdout until a line containing `needle` appears; returns it ("" on timeout/EOF).
  std::string wait_for_line(const std::string& needle, std::chrono::milliseconds timeout);
  // Sends `sig` and waits for the exit code (or -1 on timeout).
  int stop(int sig, std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));
  pid_t pid() const { return pid_; }
  const std::string& output() const { return out_; }
  // Everything it wrote to stderr so far (it goes to a file).
  std::string error_output() const;

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string out_;
  size_t scanned_ = 0;
  std::string err_path_;
  int exit_code_ = -1;
};

}  // namespace ck::testing
