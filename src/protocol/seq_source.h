// Message sequence numbers: strictly increasing across all messages this server
// signs, so also per agent, and across restarts. The high-water mark is reserved in
// blocks in a small file in the state folder (atomic replace), so a restart starts
// above anything handed out before; values also never fall below the wall clock in
// microseconds, which keeps several servers (and a lost state folder) roughly in step.
// Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "common/clock.h"
#include "common/result.h"

namespace ck::protocol {

class SeqSource {
 public:
  // `path` is the counter file (created when missing). Errors: kIo, kCorrupt.
  static Result<std::unique_ptr<SeqSource>> open(const std::string& path, const Clock* clock = nullptr);

  // The next sequence number, at least `at_least` (the agent's reported last_seq + 1;
  // values beyond 2^52 are ignored so a peer cannot exhaust the range).
  Result<int64_t> next(int64_t at_least = 0);

 private:
  SeqSource(std::string path, const Clock* clock, int64_t start) : path_(std::move(path)), clock_(clock), last_(start) {}
  Status reserve(int64_t up_to);

  static constexpr int64_t kBlock = int64_t{1} << 26;
  static constexpr int64_t kMaxAtLeast = int64_t{1} << 52;

  std::mutex mu_;
  std::string path_;
  const Clock* clock_;
  int64_t last_;
  int64_t reserved_ = 0;
};

}  // namespace ck::protocol
