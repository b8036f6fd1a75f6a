// /metrics for the whole of certkeeper-server --workers (DESIGN.md §7): one slot per
// worker in a memory block the supervisor maps before forking (MAP_SHARED), so every
// worker and the supervisor see the same slots, and worker 0 renders their sum.
//
// A slot holds the worker's Metrics (lock-free atomics: each worker increments its own
// slot's counters directly) and the figures that live in the worker's own objects
// (open channels, certificate reloads, the registry writer's statistics), which the
// worker publishes about once a second. Slots outlive worker processes: a restarted
// worker keeps adding to its slot's counters, and its published figures start from
// what its predecessor last published (counters stay monotonic). The worker that
// renders /metrics shows its own figures live, on the same base, and publishes them
// before each render, so its successor never starts below a figure already scraped.
// Gauges of a worker that ended are zeroed (clear_gauges): the kernel closed its
// connections.
//
// Thread- and process-safety: counters are atomics; published figures are written by
// their one worker under a sequence counter and read consistently by anyone (a reader
// waits, yielding the CPU, up to 50 ms for a publication in progress; past that the
// writer is taken for dead mid-write and the words it wrote in full are read).
#pragma once

#include <cstddef>
#include <cstdint>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

#include "common/result.h"
#include "server/metrics.h"

namespace ck::server {

struct MetricsSlot;  // in shared memory

class SharedMetrics {
 public:
  // Maps `slots` slots (zeroed; their Metrics begin now: process_start_time_seconds).
  // `shared`: MAP_SHARED, so processes forked afterwards share it; otherwise private to
  // this process. Errors: kUnavailable (mmap failed).
  static Result<std::unique_ptr<SharedMetrics>> create(int slots, bool shared);
  ~SharedMetrics();
  SharedMetrics(const SharedMetrics&) = delete;
  SharedMetrics& operator=(const SharedMetrics&) = delete;

  int slots() const { return slots_; }
  // The counters of slot `index` (0 <= index < slots()).
  Metrics& counters(int index);
  const Metrics& counters(int index) const;

  // For the supervisor when worker `index` ended: its gauges (open connections,
  // channels, queued writes) become 0. Call while no process writes to the slot.
  void clear_gauges(int index);

  // What slot `index` last published.
  WorkerFigures published(int index) const;

  class Writer;
  // For the worker that renders /metrics, `self` being its own slot: s.base becomes
  // self's base (its own live figures are rendered on top of it), and every other slot
  // is added to `s` (their counters through s.peer_counters, their published figures
  // into s.peers).
  void add_peers(const Writer& self, MetricsSnapshot& s) const;

  // The writing side of one slot, for the process that owns it now.
  class Writer {
   public:
    // Publishes figures_since_start(base, own). Not thread-safe (Publisher serializes).
    void publish(const WorkerFigures& own);
    int index() const { return index_; }
    // What the slot held when this writer was made (its gauges 0).
    const WorkerFigures& base() const { return base_; }

   private:
    friend class SharedMetrics;
    Writer(MetricsSlot* slot, int index, WorkerFigures base) : slot_(slot), index_(index), base_(std::move(base)) {}
    MetricsSlot* slot_;
    int index_;
    WorkerFigures base_;
  };
  // Takes slot `index` for this process: clears its gauges (a predecessor's connections
  // are gone) and remembers its published figures as the base.
  Writer take(int index);

  // Publishes `figures()` through `writer` every `period` on a thread of its own, when
  // asked (publish_now), and once more when destroyed (after the server drained: its
  // final figures).
  class Publisher {
   public:
    Publisher(Writer writer, std::function<WorkerFigures()> figures,
              std::chrono::milliseconds period = std::chrono::seconds(1));
    ~Publisher();

    // Publishes `figures()` now (thread-safe; publications are serialized, each taking
    // its figures under the lock, so the slot's counters only grow).
    void publish_now();
    const Writer& writer() const { return writer_; }

   private:
    void run();
    std::mutex publish_mu_;
    Writer writer_;  // guarded by publish_mu_ for publish()
    std::function<WorkerFigures()> figures_;
    std::chrono::milliseconds period_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool stop_ = false;  // guarded by mu_
    std::thread thread_;
  };

 private:
  SharedMetrics(MetricsSlot* slots, int count, size_t bytes) : slots_(count), block_(slots), bytes_(bytes) {}
  int slots_;
  MetricsSlot* block_;
  size_t bytes_;
};

}  // namespace ck::server
