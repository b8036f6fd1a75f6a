#include "server/change_waker.h"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "outbox/outbox.h"
#include "store/postgres/pg_conn.h"
#include "store/store_url.h"

namespace ck::server {

struct ChangeWaker::Impl {
  int event_fd = -1;
  std::unique_ptr<pg::PgConn> listener;  // null: SQLite, or LISTEN unavailable
  std::string pg_url;
  std::chrono::steady_clock::time_point next_attempt{};
  std::atomic<int64_t> notifications{0};

  ~Impl() {
    if (event_fd >= 0) ::close(event_fd);
  }

  void listen() {
    // A database that is down is not asked again for 5 s: delivery keeps polling.
    next_attempt = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    auto conn = pg::PgConn::connect(pg_url);
    if (!conn.ok()) {
      spdlog::warn("LISTEN unavailable, polling instead: {}", conn.error().message);
      return;
    }
    auto c = std::make_unique<pg::PgConn>(std::move(conn).value());
    for (const std::string& channel : {std::string(outbox::kNotifyChannel), std::string(kStoreNotifyChannel)}) {
      if (auto r = c->exec("LISTEN " + channel); !r.ok()) {
        spdlog::warn("LISTEN {} failed, polling instead: {}", channel, r.error().message);
        return;
      }
    }
    listener = std::move(c);
  }

  // Reads what the server sent; drops the connection (and polls) when it broke.
  void drain_notifications() {
    if (!listener) return;
    if (PQconsumeInput(listener->get()) == 0) {
      spdlog::warn("LISTEN connection lost; polling until it is back");
      listener.reset();
      return;
    }
    while (PGnotify* n = PQnotifies(listener->get())) {
      notifications.fetch_add(1);
      PQfreemem(n);
    }
  }
};

Result<std::unique_ptr<ChangeWaker>> ChangeWaker::open(const std::string& store_url) {
  auto impl = std::make_unique<Impl>();
  impl->event_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (impl->event_fd < 0) return make_error(ErrorKind::kIo, std::string("eventfd: ") + std::strerror(errno));
  CK_ASSIGN_OR_RETURN(store::StoreUrl url, store::parse_store_url(store_url));
  if (url.postgres) {
    impl->pg_url = url.pg_url;
    impl->listen();
  }
  return std::unique_ptr<ChangeWaker>(new ChangeWaker(std::move(impl)));
}

ChangeWaker::ChangeWaker(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ChangeWaker::~ChangeWaker() = default;

void ChangeWaker::wait(std::chrono::milliseconds timeout) {
  if (!impl_->listener && !impl_->pg_url.empty() && std::chrono::steady_clock::now() >= impl_->next_attempt) {
    impl_->listen();  // reconnect after a loss
  }
  pollfd fds[2] = {{impl_->event_fd, POLLIN, 0}, {-1, POLLIN, 0}};
  if (impl_->listener) fds[1].fd = PQsocket(impl_->listener->get());
  int n = ::poll(fds, fds[1].fd >= 0 ? 2 : 1, static_cast<int>(timeout.count()));
  if (n <= 0) return;
  if (fds[0].revents & POLLIN) {
    uint64_t v;
    (void)!::read(impl_->event_fd, &v, sizeof v);
  }
  if (fds[1].fd >= 0 && fds[1].revents) impl_->drain_notifications();
}

void ChangeWaker::notify() {
  uint64_t one = 1;
  (void)!::write(impl_->event_fd, &one, sizeof one);
}

int64_t ChangeWaker::notifications() const { return impl_->notifications.load(); }

}  // namespace ck::server
