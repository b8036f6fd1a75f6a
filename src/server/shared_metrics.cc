#include "server/shared_metrics.h"

#include <sched.h>
#include <sys/mman.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <new>
#include <type_traits>

namespace ck::server {

// Across processes an atomic must not hide a lock in the process's own memory.
static_assert(std::atomic<int64_t>::is_always_lock_free);
static_assert(std::atomic<uint64_t>::is_always_lock_free);
static_assert(std::is_trivially_copyable_v<WorkerFigures>);
static_assert(sizeof(WorkerFigures) % sizeof(uint64_t) == 0);
// WorkerFigures is std::bit_cast to words: padding would be copied as indeterminate
// bytes. (has_unique_object_representations is false for any struct with a double.)
using WriterStats = registry::BatchingWriter::Stats;
static_assert(sizeof(WriterStats) ==
              sizeof(WriterStats::committed) + sizeof(WriterStats::failed) + sizeof(WriterStats::rejected) +
                  sizeof(WriterStats::retried) + sizeof(WriterStats::busy_retries) + sizeof(WriterStats::batches) +
                  sizeof(WriterStats::last_batch_size) + sizeof(WriterStats::max_batch_size) +
                  sizeof(WriterStats::batch_size_sum) + sizeof(WriterStats::batch_size_buckets) +
                  sizeof(WriterStats::commit_seconds_sum) + sizeof(WriterStats::commit_seconds_buckets) +
                  sizeof(WriterStats::queued),
              "BatchingWriter::Stats has padding or a field this sum misses");
static_assert(sizeof(WorkerFigures) == sizeof(WorkerFigures::channels_connected) +
                                           sizeof(WorkerFigures::cert_reloads) + sizeof(WorkerFigures::writer),
              "WorkerFigures has padding or a field this sum misses");

// One worker's slot. The published figures are copied word by word under a sequence
// counter (odd while being written), so a reader sees one publication, not a mix.
struct MetricsSlot {
  static constexpr size_t kWords = sizeof(WorkerFigures) / sizeof(uint64_t);
  Metrics counters;
  std::atomic<uint64_t> seq{0};
  std::array<std::atomic<uint64_t>, kWords> figures{};

  void write(const WorkerFigures& f) {
    const auto words = std::bit_cast<std::array<uint64_t, kWords>>(f);
    // A writer that died mid-write left seq odd: start from the next even number.
    uint64_t s = seq.load();
    if (s % 2) ++s;
    seq.store(s + 1);
    for (size_t i = 0; i < kWords; ++i) figures[i].store(words[i]);
    seq.store(s + 2);
  }

  WorkerFigures read() const {
    std::array<uint64_t, kWords> words;
    // A writer holds seq odd for a few hundred nanoseconds, unless it is preempted
    // mid-write (2 cores, busy): then this reader yields the CPU and tries again for
    // as long as the writer makes progress (seq moves). A writer that died mid-write
    // leaves seq odd and still: after 50 ms of that, every word is one it wrote in full.
    constexpr int kSpins = 64;
    constexpr auto kPatience = std::chrono::milliseconds(50);
    std::chrono::steady_clock::time_point give_up{};
    uint64_t stuck_at = 0;
    for (int attempt = 0;; ++attempt) {
      const uint64_t before = seq.load();
      for (size_t i = 0; i < kWords; ++i) words[i] = figures[i].load();
      if (before % 2 == 0 && seq.load() == before) break;
      if (attempt < kSpins) continue;
      const auto now = std::chrono::steady_clock::now();
      if (attempt == kSpins || before != stuck_at) {  // first wait, or the writer moved on
        stuck_at = before;
        give_up = now + kPatience;
      }
      if (before % 2 == 1 && now >= give_up) break;
      ::sched_yield();
    }
    return std::bit_cast<WorkerFigures>(words);
  }
};

Result<std::unique_ptr<SharedMetrics>> SharedMetrics::create(int slots, bool shared) {
  if (slots < 1) return make_error(ErrorKind::kInvalidArgument, "metrics: at least one slot");
  const size_t bytes = sizeof(MetricsSlot) * static_cast<size_t>(slots);
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    return make_error(ErrorKind::kUnavailable, std::string("metrics: cannot map shared memory: ") + std::strerror(errno));
  }
  auto* block = static_cast<MetricsSlot*>(p);
  for (int i = 0; i < slots; ++i) new (&block[i]) MetricsSlot();
  return std::unique_ptr<SharedMetrics>(new SharedMetrics(block, slots, bytes));
}

SharedMetrics::~SharedMetrics() {
  for (int i = 0; i < slots_; ++i) block_[i].~MetricsSlot();
  ::munmap(block_, bytes_);
}

Metrics& SharedMetrics::counters(int index) { return block_[index].counters; }
const Metrics& SharedMetrics::counters(int index) const { return block_[index].counters; }

WorkerFigures SharedMetrics::published(int index) const { return block_[index].read(); }

void SharedMetrics::clear_gauges(int index) {
  MetricsSlot& slot = block_[index];
  slot.counters.agent_connections_open.store(0);
  WorkerFigures f = slot.read();
  f.channels_connected = 0;
  f.writer.queued = 0;
  slot.write(f);
}

void SharedMetrics::add_peers(const Writer& self, MetricsSnapshot& s) const {
  s.base = self.base();
  for (int i = 0; i < slots_; ++i) {
    if (i == self.index()) continue;
    s.peer_counters.push_back(&block_[i].counters);
    add_figures(s.peers, block_[i].read());
  }
}

SharedMetrics::Writer SharedMetrics::take(int index) {
  clear_gauges(index);
  return Writer(&block_[index], index, block_[index].read());
}

void SharedMetrics::Writer::publish(const WorkerFigures& own) { slot_->write(figures_since_start(base_, own)); }

SharedMetrics::Publisher::Publisher(Writer writer, std::function<WorkerFigures()> figures,
                                    std::chrono::milliseconds period)
    : writer_(std::move(writer)), figures_(std::move(figures)), period_(period) {
  thread_ = std::thread([this] { run(); });
}

SharedMetrics::Publisher::~Publisher() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  publish_now();
}

void SharedMetrics::Publisher::publish_now() {
  std::lock_guard lock(publish_mu_);
  writer_.publish(figures_());
}

void SharedMetrics::Publisher::run() {
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, period_, [this] { return stop_; })) {
    lock.unlock();
    publish_now();
    lock.lock();
  }
}

}  // namespace ck::server
