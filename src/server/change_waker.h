// ChangeWaker: what the delivery loop sleeps on. It returns early when this process
// calls notify() (a message added through the admin API), when PostgreSQL delivers a
// NOTIFY on the outbox or store channel (another server or certmgr wrote; LISTEN on a
// connection of its own), or else after the poll interval, so a SQLite store (no
// notifications across processes) and a lost PostgreSQL connection still work by
// polling the counters.
// Thread-safety: wait() from one thread; notify() from any thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "common/result.h"

namespace ck::server {

// Channels the store and the outbox NOTIFY on (PostgreSQL).
inline constexpr const char* kStoreNotifyChannel = "certkeeper_store";

class ChangeWaker {
 public:
  // `store_url`: for a PostgreSQL URL, LISTEN on the outbox and store channels
  // (a failure to connect is logged and falls back to polling).
  static Result<std::unique_ptr<ChangeWaker>> open(const std::string& store_url);
  ~ChangeWaker();
  ChangeWaker(const ChangeWaker&) = delete;
  ChangeWaker& operator=(const ChangeWaker&) = delete;

  // Returns after notify(), a NOTIFY, or `timeout`, whichever comes first.
  void wait(std::chrono::milliseconds timeout);
  void notify();
  // Notifications received from PostgreSQL so far (tests, metrics).
  int64_t notifications() const;

  struct Impl;

 private:
  explicit ChangeWaker(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ck::server
