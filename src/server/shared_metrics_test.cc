// SharedMetrics: slots shared with forked processes, the sum worker 0 renders, and
// counters that stay monotonic when a worker is replaced (its successor starts from
// what the slot holds) while the dead worker's gauges drop to 0.
#include "server/shared_metrics.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <regex>
#include <thread>
#include <string>

namespace ck::server {
namespace {

// The value of an unlabelled sample in the exposition (-1 when missing).
double sample(const std::string& text, const std::string& name) {
  std::smatch m;
  if (!std::regex_search(text, m, std::regex("\n" + name + " ([-0-9.e+]+)\n"))) return -1;
  return std::stod(m[1]);
}

WorkerFigures figures(int64_t channels, int64_t reloads, uint64_t committed, uint64_t queued) {
  WorkerFigures f;
  f.channels_connected = channels;
  f.cert_reloads = reloads;
  f.writer.committed = committed;
  f.writer.batches = committed ? 1 : 0;
  f.writer.batch_size_sum = committed;
  f.writer.batch_size_buckets.back() = f.writer.batches;
  f.writer.commit_seconds_buckets.back() = f.writer.batches;
  f.writer.commit_seconds_sum = 0.5 * static_cast<double>(f.writer.batches);
  f.writer.queued = queued;
  return f;
}

TEST(FiguresSinceStart, CountersAddToTheBaseGaugesAreOwn) {
  const WorkerFigures out = figures_since_start(figures(7, 3, 100, 9), figures(2, 1, 5, 4));
  EXPECT_EQ(out.channels_connected, 2);
  EXPECT_EQ(out.cert_reloads, 4);
  EXPECT_EQ(out.writer.committed, 105u);
  EXPECT_EQ(out.writer.batches, 2u);
  EXPECT_EQ(out.writer.batch_size_buckets.back(), 2u);
  EXPECT_DOUBLE_EQ(out.writer.commit_seconds_sum, 1.0);
  EXPECT_EQ(out.writer.queued, 4u);
}

TEST(SharedMetrics, RenderSumsEverySlotWithTheRendererFresh) {
  auto shared = SharedMetrics::create(3, true);
  ASSERT_TRUE(shared.ok()) << shared.error().message;
  SharedMetrics& sm = **shared;
  sm.counters(0).checkins_total = 10;
  sm.counters(1).checkins_total = 20;
  sm.counters(2).checkins_total = 30;
  sm.counters(2).tls_resumptions_total = 5;
  auto w0 = sm.take(0);  // clears slot 0's gauges: connections count from here
  auto w1 = sm.take(1);
  auto w2 = sm.take(2);
  sm.counters(0).agent_connections_open = 1;
  sm.counters(1).agent_connections_open = 2;
  w1.publish(figures(4, 1, 40, 2));
  w2.publish(figures(6, 1, 60, 3));

  // Worker 0's own figures come fresh in its snapshot; the others' from their slots.
  MetricsSnapshot s;
  s.channels_connected = 1;
  s.writer = figures(1, 0, 10, 1).writer;
  sm.add_peers(w0, s);
  ASSERT_EQ(s.peer_counters.size(), 2u);
  const std::string text = render_prometheus(sm.counters(0), s);
  EXPECT_EQ(sample(text, "certkeeper_checkins_total"), 60);
  EXPECT_EQ(sample(text, "certkeeper_agent_connections"), 3);
  EXPECT_EQ(sample(text, "certkeeper_tls_resumptions_total"), 5);
  EXPECT_EQ(sample(text, "certkeeper_channels_connected"), 11);
  EXPECT_EQ(sample(text, "certkeeper_certificate_reloads_total"), 2);
  EXPECT_EQ(sample(text, "certkeeper_registry_queued_writes"), 6);
  EXPECT_EQ(sample(text, "certkeeper_registry_batch_size_count"), 3);
  EXPECT_EQ(sample(text, "certkeeper_registry_batch_size_sum"), 110);
  EXPECT_EQ(sample(text, "certkeeper_registry_commit_seconds_sum"), 1.5);
  EXPECT_NE(text.find("certkeeper_registry_writes_total{result=\"committed\"} 110\n"), std::string::npos) << text;
  EXPECT_EQ(sample(text, "process_start_time_seconds"), sm.counters(0).start_time_seconds);
}

TEST(SharedMetrics, ARestartedWorkerKeepsCountingAndLosesTheDeadOnesGauges) {
  auto shared = SharedMetrics::create(2, true);
  ASSERT_TRUE(shared.ok());
  SharedMetrics& sm = **shared;
  // The first worker in slot 1, a real process: it counts and publishes, then dies.
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto w = sm.take(1);
    sm.counters(1).checkins_total += 25;
    sm.counters(1).agent_connections_open += 8;
    w.publish(figures(8, 2, 25, 4));
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  // Seen here: the block is shared.
  EXPECT_EQ(sm.counters(1).checkins_total.load(), 25);
  EXPECT_EQ(sm.counters(1).agent_connections_open.load(), 8);
  EXPECT_EQ(sm.published(1).writer.committed, 25u);

  // The supervisor clears the gauges; the counters stay.
  sm.clear_gauges(1);
  EXPECT_EQ(sm.counters(1).agent_connections_open.load(), 0);
  EXPECT_EQ(sm.published(1).channels_connected, 0);
  EXPECT_EQ(sm.published(1).writer.queued, 0u);
  EXPECT_EQ(sm.published(1).writer.committed, 25u);
  EXPECT_EQ(sm.published(1).cert_reloads, 2);

  // Its successor's own figures begin at 0 and are published on top of the slot's.
  auto w = sm.take(1);
  w.publish(figures(1, 0, 0, 0));
  EXPECT_EQ(sm.published(1).writer.committed, 25u);
  EXPECT_EQ(sm.published(1).cert_reloads, 2);
  EXPECT_EQ(sm.published(1).channels_connected, 1);
  sm.counters(1).checkins_total += 3;
  w.publish(figures(1, 1, 3, 0));
  EXPECT_EQ(sm.published(1).writer.committed, 28u);
  EXPECT_EQ(sm.published(1).cert_reloads, 3);
  EXPECT_EQ(sm.counters(1).checkins_total.load(), 28);

  // Worker 0 sees the successor's figures on top of its predecessor's.
  MetricsSnapshot s;
  sm.add_peers(sm.take(0), s);
  EXPECT_EQ(s.peers.writer.committed, 28u);
}

// Worker 0 renders its own figures live; when it is replaced, its successor's live
// figures begin at 0 again, and the slot's base (what the predecessor published) keeps
// its part of the sum from going back.
TEST(SharedMetrics, TheRenderersOwnCountersSurviveItsRestart) {
  auto shared = SharedMetrics::create(2, true);
  ASSERT_TRUE(shared.ok());
  SharedMetrics& sm = **shared;
  auto w1 = sm.take(1);
  w1.publish(figures(2, 1, 30, 1));
  sm.counters(1).checkins_total += 30;

  // The first worker 0, a real process: it renders its live figures, publishes, dies.
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(pipe_fds[0]);
    auto w0 = sm.take(0);
    sm.counters(0).checkins_total += 50;
    sm.counters(0).agent_connections_open += 3;
    MetricsSnapshot s;
    s.channels_connected = 3;
    s.cert_reloads = 2;
    s.writer = figures(3, 2, 50, 5).writer;
    w0.publish({s.channels_connected, s.cert_reloads, s.writer});
    sm.add_peers(w0, s);
    const std::string text = render_prometheus(sm.counters(0), s);
    const bool written = ::write(pipe_fds[1], text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ::_exit(written ? 0 : 1);
  }
  ::close(pipe_fds[1]);
  std::string before;
  char buf[4096];
  for (ssize_t n; (n = ::read(pipe_fds[0], buf, sizeof buf)) > 0;) before.append(buf, static_cast<size_t>(n));
  ::close(pipe_fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_NE(before.find("certkeeper_registry_writes_total{result=\"committed\"} 80\n"), std::string::npos) << before;
  EXPECT_EQ(sample(before, "certkeeper_certificate_reloads_total"), 3);
  EXPECT_EQ(sample(before, "certkeeper_checkins_total"), 80);
  sm.clear_gauges(0);  // the supervisor, when it ended

  // Its successor: a fresh writer (committed 7, one batch) and one certificate reload.
  auto w0 = sm.take(0);
  EXPECT_EQ(w0.base().writer.committed, 50u);
  EXPECT_EQ(w0.base().channels_connected, 0);
  sm.counters(0).checkins_total += 7;
  MetricsSnapshot s;
  s.channels_connected = 1;
  s.cert_reloads = 1;
  s.writer = figures(1, 1, 7, 2).writer;
  s.writer.last_batch_size = 7;
  sm.add_peers(w0, s);
  const std::string after = render_prometheus(sm.counters(0), s);
  EXPECT_NE(after.find("certkeeper_registry_writes_total{result=\"committed\"} 87\n"), std::string::npos) << after;
  EXPECT_EQ(sample(after, "certkeeper_certificate_reloads_total"), 4);
  EXPECT_EQ(sample(after, "certkeeper_checkins_total"), 87);
  EXPECT_EQ(sample(after, "certkeeper_registry_batch_size_count"), 3);
  EXPECT_EQ(sample(after, "certkeeper_registry_batch_size_sum"), 87);
  EXPECT_EQ(sample(after, "certkeeper_registry_commit_seconds_count"), 3);
  EXPECT_EQ(sample(after, "certkeeper_registry_commit_seconds_sum"), 1.5);
  // Gauges are the successor's own plus the others', not the predecessor's.
  EXPECT_EQ(sample(after, "certkeeper_channels_connected"), 3);
  EXPECT_EQ(sample(after, "certkeeper_registry_queued_writes"), 3);
  EXPECT_EQ(sample(after, "certkeeper_agent_connections"), 0);
  EXPECT_EQ(sample(after, "process_start_time_seconds"), sample(before, "process_start_time_seconds"));
  // What it renders is what it would publish: a third worker 0 would start from there.
  w0.publish({s.channels_connected, s.cert_reloads, s.writer});
  EXPECT_EQ(sm.published(0).writer.committed, 57u);
  EXPECT_EQ(sm.published(0).cert_reloads, 3);
}

// A reader never sees half of one publication and half of another, however the writer
// is scheduled (2 cores, both busy).
TEST(SharedMetrics, ReadsAreNeverTorn) {
  auto shared = SharedMetrics::create(1, false);
  ASSERT_TRUE(shared.ok());
  SharedMetrics& sm = **shared;
  auto w = sm.take(0);
  std::atomic<bool> stop{false};
  // Publishing far more often than the real once a second, with a pause so that a
  // reader can find a moment between two publications on a loaded machine.
  std::thread writer([&] {
    for (int64_t n = 1; !stop; ++n) {
      w.publish(figures(n, n, static_cast<uint64_t>(n), static_cast<uint64_t>(n)));
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  });
  int64_t last = 0;
  int torn = 0, backwards = 0;
  for (int i = 0; i < 100000; ++i) {
    const WorkerFigures f = sm.published(0);
    if (f.cert_reloads != f.channels_connected || f.writer.committed != static_cast<uint64_t>(f.channels_connected) ||
        f.writer.queued != f.writer.committed)
      ++torn;
    if (f.channels_connected < last) ++backwards;
    last = f.channels_connected;
  }
  stop = true;
  writer.join();  // before any assertion: a failed ASSERT must not leave the thread running
  EXPECT_EQ(torn, 0);
  EXPECT_EQ(backwards, 0);
  EXPECT_GT(last, 0);
}

// A publisher into slot 0 whose figures are `channels` open channels.
SharedMetrics::Publisher channels_publisher(SharedMetrics& shared, std::atomic<int64_t>& channels,
                                            std::chrono::milliseconds period) {
  return SharedMetrics::Publisher(shared.take(0), [&channels] {
    WorkerFigures f;
    f.channels_connected = channels.load();
    return f;
  }, period);
}

TEST(SharedMetrics, PublisherPublishesPeriodicallyAndOnceMoreAtTheEnd) {
  auto shared = SharedMetrics::create(1, false);
  ASSERT_TRUE(shared.ok());
  std::atomic<int64_t> channels{5};
  {
    auto p = channels_publisher(**shared, channels, std::chrono::milliseconds(10));
    for (int i = 0; i < 500 && (*shared)->published(0).channels_connected != 5; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    EXPECT_EQ((*shared)->published(0).channels_connected, 5);
    channels = 0;
  }
  EXPECT_EQ((*shared)->published(0).channels_connected, 0);
}

TEST(SharedMetrics, PublishNowDoesNotWaitForThePeriod) {
  auto shared = SharedMetrics::create(1, false);
  ASSERT_TRUE(shared.ok());
  std::atomic<int64_t> channels{0};
  {
    auto p = channels_publisher(**shared, channels, std::chrono::hours(1));
    channels = 9;
    p.publish_now();
    EXPECT_EQ((*shared)->published(0).channels_connected, 9);
    EXPECT_EQ(p.writer().index(), 0);
    channels = 4;
  }
  EXPECT_EQ((*shared)->published(0).channels_connected, 4);
}

}  // namespace
}  // namespace ck::server
