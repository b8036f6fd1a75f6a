// CheckinGate: bounds how many check-ins a fleet has in flight at once, so 100,000
// simulated agents neither exhaust file descriptors nor flood the server with TLS
// handshakes. Waiters run in FIFO order on their own executor. Thread-safe.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/post.hpp>

#include <deque>
#include <functional>
#include <mutex>
#include <utility>

namespace ck::transport {

class CheckinGate {
 public:
  explicit CheckinGate(int slots) : free_(slots) {}

  // Runs `fn` on `ex` once a slot is free; the holder must call release() once.
  void acquire(boost::asio::any_io_executor ex, std::function<void()> fn) {
    {
      std::lock_guard lock(mu_);
      if (free_ == 0) {
        waiters_.emplace_back(std::move(ex), std::move(fn));
        return;
      }
      --free_;
    }
    boost::asio::post(ex, std::move(fn));
  }

  void release() {
    std::pair<boost::asio::any_io_executor, std::function<void()>> next;
    {
      std::lock_guard lock(mu_);
      if (waiters_.empty()) {
        ++free_;
        return;
      }
      next = std::move(waiters_.front());
      waiters_.pop_front();
    }
    boost::asio::post(next.first, std::move(next.second));
  }

 private:
  std::mutex mu_;
  int free_;
  std::deque<std::pair<boost::asio::any_io_executor, std::function<void()>>> waiters_;
};

}  // namespace ck::transport
