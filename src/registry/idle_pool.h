// A pool of idle connections (or anything costly to open) for callers on several
// threads: take() hands out an idle one or opens a new one, give_back() returns it.
// One that failed is simply not given back. No cap: at most one per concurrent caller
// (the server's I/O threads). Thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "common/result.h"

namespace ck::registry {

template <typename T>
class IdlePool {
 public:
  using Open = std::function<Result<std::unique_ptr<T>>()>;
  explicit IdlePool(Open open) : open_(std::move(open)) {}

  Result<std::unique_ptr<T>> take() {
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        std::unique_ptr<T> item = std::move(idle_.back());
        idle_.pop_back();
        return item;
      }
    }
    return open_();
  }

  void give_back(std::unique_ptr<T> item) {
    std::lock_guard lock(mu_);
    idle_.push_back(std::move(item));
  }

 private:
  Open open_;
  std::mutex mu_;
  std::vector<std::unique_ptr<T>> idle_;  // guarded by mu_
};

}  // namespace ck::registry
