// A progress line for long work ("list-mismatched: 120000/1000000 rows (12%)") on
// stderr, redrawn in place with \r at most ten times a second and cleared when done.
// Shown only when stderr is a terminal and --quiet is off: nothing at all is written
// when stderr is a pipe or a file, so scripts and logs never see it.
// Not thread-safe: one thread drives one Progress.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "cli/command.h"

namespace ck::cli {

class Progress {
 public:
  // `total` 0: unknown (no percentage). `also_quiet_if_tty_stdout`: stay silent when
  // stdout is a terminal too (the result itself goes there and would mix with the line).
  Progress(const GlobalOptions& global, std::string what, std::string unit, int64_t total,
           bool also_quiet_if_tty_stdout = false);
  ~Progress();  // finish()
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Whether anything will be shown (callers may skip costly work, e.g. a total count).
  bool enabled() const { return enabled_; }
  void set_total(int64_t total) { total_ = total; }
  // `done` units so far; draws when the last draw is 100 ms old (the first at once).
  void update(int64_t done);
  // Draws the final count and clears the line; later calls do nothing.
  void finish();

 private:
  void draw();

  bool enabled_;
  std::string what_, unit_;
  int64_t total_;
  int64_t done_ = 0;
  bool drawn_ = false;
  size_t width_ = 0;  // of the last line drawn, to blank it out
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace ck::cli
