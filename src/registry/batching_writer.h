// Group commit for check-ins: many threads submit endpoints; one background thread
// writes everything queued so far in ONE EndpointRegistry::upsert_batch transaction
// and then calls each submitter's `done` with the transaction's outcome.
//
// - No added latency when idle: the writer starts a commit as soon as something is
//   queued; submissions arriving during a commit form the next batch, so batches grow
//   with load (thousands per commit) and shrink to one when idle.
// - `done(ok)` is called only after the transaction holding that endpoint committed:
//   an answered check-in is never lost. A row the registry did not write because the
//   agent id is bound to another key gets kPermissionDenied. On failure every member of the batch gets the
//   error (nothing of the batch was written) -- except for a data error (kConflict,
//   kInvalidArgument: one bad row), after which the members are written one by one so
//   that only the bad one fails.
// - A transaction that failed because another writer held the registry's lock past
//   the busy timeout (kBusy: several servers or workers on one SQLite file) is tried
//   again: its members go back to the front of the queue until `busy_retry_for` has
//   passed since each was submitted (5 s more at most once shutdown() began). A pin
//   report has no client to retry it, and a check-in answered 503 costs a new request.
// - Back-pressure: when `max_queue` endpoints are already waiting, submit() does not
//   block; it calls done(kBusy) at once (the server answers 503 + Retry-After).
//   After shutdown() began, done(kUnavailable).
// - shutdown() (also run by the destructor) stops accepting, commits everything
//   already queued, calls those `done`s, and joins the thread.
//
// Thread-safety: submit(), stats() and shutdown() may be called from any thread.
// `done` runs on the writer thread (or inline in submit() on rejection); it must be
// quick and must not throw (post the response to the session's executor).
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "registry/endpoint_registry.h"

namespace ck::registry {

class BatchingWriter {
 public:
  using Done = std::function<void(Status)>;

  struct Options {
    size_t max_queue = 100000;  // waiting endpoints beyond which submit answers kBusy
    size_t max_batch = 10000;   // endpoints per transaction at most
    // kBusy transactions are retried this long from submission: with the 5 s busy
    // timeout, a check-in is answered before the agent's own 30 s request timeout.
    std::chrono::milliseconds busy_retry_for{20000};
  };

  // Upper bounds (le) of the batch-size histogram buckets; a last bucket is +Inf.
  static constexpr std::array<uint64_t, 6> kBatchSizeBounds = {1, 10, 100, 1000, 10000, 100000};
  // Upper bounds (le, seconds) of the commit-duration histogram buckets; a last bucket is +Inf.
  static constexpr std::array<double, 13> kCommitSecondsBounds = {
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

  struct Stats {
    // committed and failed only grow: rows of a batch retried one by one are counted
    // when their own retry ends.
    uint64_t committed = 0;  // check-ins in committed batches
    uint64_t failed = 0;     // check-ins in batches whose transaction failed
    uint64_t rejected = 0;   // refused by submit (queue full or shutting down)
    uint64_t retried = 0;    // written alone after their batch hit a data error
    uint64_t busy_retries = 0;  // transactions tried again after kBusy (lock held elsewhere)
    uint64_t batches = 0;    // transactions attempted
    uint64_t last_batch_size = 0;
    uint64_t max_batch_size = 0;
    uint64_t batch_size_sum = 0;  // Prometheus histogram _sum (count = batches)
    // Cumulative: batch_size_buckets[i] = batches of size <= kBatchSizeBounds[i];
    // the last entry is +Inf (== batches).
    std::array<uint64_t, kBatchSizeBounds.size() + 1> batch_size_buckets{};
    double commit_seconds_sum = 0;  // time spent in upsert_batch (histogram _sum; count = batches)
    // Cumulative, like batch_size_buckets: batches whose upsert_batch took <=
    // kCommitSecondsBounds[i].
    std::array<uint64_t, kCommitSecondsBounds.size() + 1> commit_seconds_buckets{};
    uint64_t queued = 0;            // waiting now
  };

  explicit BatchingWriter(EndpointRegistry& registry) : BatchingWriter(registry, Options{}) {}
  BatchingWriter(EndpointRegistry& registry, Options options);
  BatchingWriter(const BatchingWriter&) = delete;
  BatchingWriter& operator=(const BatchingWriter&) = delete;
  ~BatchingWriter();

  void submit(Endpoint endpoint, Done done);
  void shutdown();
  Stats stats() const;

 private:
  struct Item {
    Endpoint endpoint;
    Done done;
    std::chrono::steady_clock::time_point submitted;
  };
  // After a kBusy transaction: batch[from..] still within busy_retry_for (and, once
  // stopping, within kBusyRetryWhileStopping of shutdown()) go back to the front of the
  // queue in order; the others get `busy` as their outcome.
  void retry_later(std::vector<Item>& batch, size_t from, const Status& busy);
  static constexpr std::chrono::seconds kBusyRetryWhileStopping{5};
  std::chrono::steady_clock::time_point stop_started_;  // guarded by mu_
  void run();
  void record(size_t size, bool ok, double seconds, bool count_rows);
  void record_retry(bool ok);
  static bool is_data_error(const Error& e);
  // The kPermissionDenied a check-in gets when its row belongs to another key.
  static Status bound_elsewhere(const Endpoint& e);

  EndpointRegistry& registry_;
  const Options options_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  bool stopping_ = false;
  Stats stats_;

  std::mutex shutdown_mu_;
  std::thread thread_;
};

}  // namespace ck::registry
