#include "registry/batching_writer.h"

#include <algorithm>
#include <chrono>
#include <iterator>
#include <unordered_map>
#include <unordered_set>

namespace ck::registry {

BatchingWriter::BatchingWriter(EndpointRegistry& registry, Options options)
    : registry_(registry), options_(options) {
  thread_ = std::thread([this] { run(); });
}

BatchingWriter::~BatchingWriter() { shutdown(); }

void BatchingWriter::submit(Endpoint endpoint, Done done) {
  Error rejection;
  {
    std::lock_guard lock(mu_);
    if (!stopping_ && queue_.size() < options_.max_queue) {
      queue_.push_back(Item{std::move(endpoint), std::move(done), std::chrono::steady_clock::now()});
      cv_.notify_one();
      return;
    }
    ++stats_.rejected;
    rejection = stopping_ ? Error{ErrorKind::kUnavailable, "the server is shutting down"}
                          : Error{ErrorKind::kBusy,
                                  "too many check-ins waiting for the registry; try again"};
  }
  done(Status(std::move(rejection)));
}

void BatchingWriter::shutdown() {
  std::lock_guard once(shutdown_mu_);
  {
    std::lock_guard lock(mu_);
    if (!stopping_) stop_started_ = std::chrono::steady_clock::now();
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

BatchingWriter::Stats BatchingWriter::stats() const {
  std::lock_guard lock(mu_);
  Stats s = stats_;
  s.queued = queue_.size();
  return s;
}

void BatchingWriter::record(size_t size, bool ok, double seconds, bool count_rows) {
  std::lock_guard lock(mu_);
  if (count_rows) (ok ? stats_.committed : stats_.failed) += size;
  ++stats_.batches;
  stats_.last_batch_size = size;
  stats_.max_batch_size = std::max<uint64_t>(stats_.max_batch_size, size);
  stats_.batch_size_sum += size;
  for (size_t i = 0; i < kBatchSizeBounds.size(); ++i) {
    if (size <= kBatchSizeBounds[i]) ++stats_.batch_size_buckets[i];
  }
  ++stats_.batch_size_buckets.back();
  stats_.commit_seconds_sum += seconds;
  for (size_t i = 0; i < kCommitSecondsBounds.size(); ++i) {
    if (seconds <= kCommitSecondsBounds[i]) ++stats_.commit_seconds_buckets[i];
  }
  ++stats_.commit_seconds_buckets.back();
}

void BatchingWriter::run() {
  std::vector<Item> batch;
  std::vector<Endpoint> endpoints;
  for (;;) {
    batch.clear();
    endpoints.clear();
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued was written
      size_t n = std::min(queue_.size(), options_.max_batch);
      // Two different keys for one agent id never share a batch: the registry decides
      // between them one transaction at a time (the later one waits for the next batch,
      // and so does everything of that id after it, pin reports too: order per id holds).
      std::unordered_map<std::string, std::string> keys;
      std::unordered_set<std::string> held;
      std::deque<Item> later;
      for (size_t taken = 0; taken < n && !queue_.empty(); ++taken) {
        Item item = std::move(queue_.front());
        queue_.pop_front();
        const std::string& id = item.endpoint.agent_id;
        if (held.count(id)) {
          later.push_back(std::move(item));
          continue;
        }
        if (item.endpoint.pin_report) {
          batch.push_back(std::move(item));
          continue;
        }
        auto [it, fresh] = keys.emplace(id, item.endpoint.key_fingerprint);
        if (!fresh && it->second != item.endpoint.key_fingerprint) {
          held.insert(id);
          later.push_back(std::move(item));
        } else {
          batch.push_back(std::move(item));
        }
      }
      for (auto it = later.rbegin(); it != later.rend(); ++it) queue_.push_front(std::move(*it));
    }
    endpoints.reserve(batch.size());
    for (const Item& item : batch) endpoints.push_back(item.endpoint);

    auto start = std::chrono::steady_clock::now();
    std::vector<std::string> refused;
    Status status = registry_.upsert_batch(endpoints, &refused);
    std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    const bool retry_alone = !status.ok() && batch.size() > 1 && is_data_error(status.error());
    const bool busy = !status.ok() && status.error().kind == ErrorKind::kBusy;
    // A batch retried row by row counts its rows when each retry ends, and a busy one
    // when its members are written or give up, so committed and failed only ever grow
    // (they are exported as Prometheus counters).
    record(batch.size(), status.ok(), took.count(), /*count_rows=*/!retry_alone && !busy);
    if (busy) {
      retry_later(batch, 0, status);
      continue;
    }
    if (retry_alone) {
      // One bad row must not fail its neighbours: write them one by one instead.
      for (size_t i = 0; i < batch.size(); ++i) {
        Item& item = batch[i];
        std::vector<std::string> one_refused;
        Status one = registry_.upsert_batch({item.endpoint}, &one_refused);
        if (!one.ok() && one.error().kind == ErrorKind::kBusy) {
          retry_later(batch, i, one);  // this row and the ones after it, in order
          break;
        }
        record_retry(one.ok());
        item.done(one.ok() && !one_refused.empty() ? bound_elsewhere(item.endpoint) : one);
      }
      continue;
    }
    // Refusals are of check-ins (another key's); a pin report of the same id, from the
    // agent's own channel, was written all the same.
    const std::unordered_set<std::string> not_written(refused.begin(), refused.end());
    for (Item& item : batch) {
      const bool was_refused = !item.endpoint.pin_report && not_written.count(item.endpoint.agent_id);
      item.done(status.ok() && was_refused ? bound_elsewhere(item.endpoint) : status);
    }
  }
}

void BatchingWriter::retry_later(std::vector<Item>& batch, size_t from, const Status& busy) {
  const auto now = std::chrono::steady_clock::now();
  std::vector<Item> expired;
  {
    std::lock_guard lock(mu_);
    // While stopping, a few more seconds at most: the supervisor kills a worker that
    // does not end within its stop timeout, and then everything queued is lost.
    const auto stop_deadline = stop_started_ + kBusyRetryWhileStopping;
    bool requeued = false;
    for (size_t i = batch.size(); i-- > from;) {
      Item& item = batch[i];
      const bool within = now - item.submitted < options_.busy_retry_for && (!stopping_ || now < stop_deadline);
      if (within) {
        queue_.push_front(std::move(item));  // back to the front, in their order
        requeued = true;
      } else {
        expired.push_back(std::move(item));
      }
    }
    if (requeued) ++stats_.busy_retries;
    stats_.failed += expired.size();
  }
  for (Item& item : expired) item.done(busy);
  // The busy timeout already waited; a short pause (also while stopping: some kBusy
  // errors come back at once) lets the lock's holder finish.
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

Status BatchingWriter::bound_elsewhere(const Endpoint& e) {
  return make_error(ErrorKind::kPermissionDenied, "agent id " + e.agent_id + " is bound to another key");
}

bool BatchingWriter::is_data_error(const Error& e) {
  return e.kind == ErrorKind::kConflict || e.kind == ErrorKind::kInvalidArgument;
}

void BatchingWriter::record_retry(bool ok) {
  std::lock_guard lock(mu_);
  // The batch's rows were not counted yet (record with count_rows false).
  ++(ok ? stats_.committed : stats_.failed);
  ++stats_.retried;
}

}  // namespace ck::registry
