#include "cli/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace ck::cli {

Progress::Progress(const GlobalOptions& global, std::string what, std::string unit, int64_t total,
                   bool also_quiet_if_tty_stdout)
    : enabled_(!global.quiet && ::isatty(STDERR_FILENO) == 1 &&
               !(also_quiet_if_tty_stdout && ::isatty(STDOUT_FILENO) == 1)),
      what_(std::move(what)),
      unit_(std::move(unit)),
      total_(total) {}

Progress::~Progress() { finish(); }

void Progress::update(int64_t done) {
  if (!enabled_) return;
  done_ = done;
  const auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  draw();
}

void Progress::draw() {
  std::string line = what_ + ": " + std::to_string(done_);
  if (total_ > 0) {
    const int64_t total = std::max(total_, done_);  // a total counted earlier may be stale
    line += "/" + std::to_string(total) + " " + unit_ + " (" + std::to_string(done_ * 100 / total) + "%)";
  } else {
    line += " " + unit_;
  }
  const size_t shown = line.size();
  if (shown < width_) line.append(width_ - shown, ' ');  // blank what a longer line left
  width_ = shown;
  std::fprintf(stderr, "\r%s", line.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::finish() {
  if (!enabled_) return;
  enabled_ = false;
  if (!drawn_) return;
  // The final count, then blanks in its place: the terminal is left as it was.
  draw();
  std::fprintf(stderr, "\r%s\r", std::string(width_, ' ').c_str());
  std::fflush(stderr);
}

}  // namespace ck::cli
