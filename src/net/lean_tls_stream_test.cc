// LeanTlsStream: a write seals its whole buffer sequence (up to kMaxPlaintextPerWrite)
// into one TLS record and async_write sends the rest; reads of any size, across records
// and with wait_before_idle_reads(), deliver every byte. Both ends are LeanTlsStreams
// (client and server side) on 127.0.0.1, under TLS 1.2 and 1.3. A plain TCP relay
// between them parses the record headers: record counts are what crossed the wire.
#include "net/lean_tls_stream.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "net/tls_identity.h"
#include "support/process.h"

namespace ck::net::detail {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

constexpr size_t kMaxPlaintext = 16 * 1024;  // TLS's largest record: the contract, not a copy of it
static_assert(LeanTlsStream::kMaxPlaintextPerWrite == kMaxPlaintext);
constexpr size_t kMaxRecordOverhead = 256;  // RFC 8446 §5.2: ciphertext ≤ 2^14 + 256
constexpr auto kDeadline = std::chrono::seconds(5);

struct Record {
  unsigned type;  // 23: application data (TLS 1.3: every encrypted record)
  size_t length;  // of the ciphertext after the 5-byte header
};

// Bytes whose position shows: a gather that skips, repeats or reorders does not compare equal.
std::string pattern(size_t n, unsigned seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + seed * 7 + i / 251) & 0xff);
  return s;
}

std::function<size_t()> fixed(size_t n) {
  return [n] { return n; };
}

// Copies `from` to `to` until either fails, noting each TLS record header on the way;
// a header is noted before its bytes go on, so what a reader got has been counted.
awaitable<void> relay(tcp::socket& from, tcp::socket& to, std::vector<Record>& records) {
  std::vector<unsigned char> buf(64 * 1024);
  unsigned char header[5];
  size_t have = 0, body_left = 0;
  for (;;) {
    boost::system::error_code ec;
    const size_t n = co_await from.async_read_some(asio::buffer(buf), asio::redirect_error(use_awaitable, ec));
    if (ec) break;
    for (size_t i = 0; i < n;) {
      if (body_left > 0) {
        const size_t k = std::min(body_left, n - i);
        body_left -= k;
        i += k;
        continue;
      }
      header[have++] = buf[i++];
      if (have == sizeof header) {
        body_left = size_t{header[3]} << 8 | header[4];
        records.push_back({header[0], body_left});
        have = 0;
      }
    }
    co_await asio::async_write(to, asio::buffer(buf.data(), n), asio::redirect_error(use_awaitable, ec));
    if (ec) break;
  }
  boost::system::error_code ignored;
  to.shutdown(tcp::socket::shutdown_send, ignored);
}

// Reads exactly `n` bytes, each read offering a buffer of at most next_size() bytes.
awaitable<std::string> read_exactly(LeanTlsStream& s, size_t n, std::function<size_t()> next_size) {
  std::string got;
  while (got.size() < n) {
    std::string buf(std::min(next_size(), n - got.size()), '\0');
    const size_t k = co_await s.async_read_some(asio::buffer(buf), use_awaitable);
    if (k == 0) throw std::runtime_error("a read returned no bytes and no error");
    got.append(buf, 0, k);
  }
  co_return got;
}

// TCP_NODELAY as on the agent port: Nagle with delayed ACKs would stall writes 40 ms.
std::pair<tcp::socket, tcp::socket> connected_pair(asio::io_context& io) {
  tcp::acceptor acceptor(io, {asio::ip::address_v4::loopback(), 0});
  tcp::socket a(io);
  a.connect(acceptor.local_endpoint());  // completes from the listen backlog
  tcp::socket b = acceptor.accept();
  a.set_option(tcp::no_delay(true));
  b.set_option(tcp::no_delay(true));
  return {std::move(a), std::move(b)};
}

const TlsIdentity& identity() {
  static const TlsIdentity id = [] {
    const std::string dir = ck::testing::temp_dir("lean-tls");
    auto made = load_or_create_tls_identity("", "", dir);
    std::filesystem::remove_all(dir);
    if (!made.ok()) {
      std::fprintf(stderr, "no TLS identity: %s\n", made.error().message.c_str());
      std::abort();
    }
    return std::move(*made);
  }();
  return id;
}

// Client LeanTlsStream <-> relay <-> server LeanTlsStream, handshaken in the TLS version
// of the parameter. up_ / down_: records client -> server / server -> client.
class LeanTlsStreamTest : public ::testing::TestWithParam<int> {
 protected:
  struct Direction {
    LeanTlsStream* from;
    LeanTlsStream* to;
    std::vector<Record>* wire;
    const char* name;
  };

  void SetUp() override {
    for (auto* ctx : {&client_ctx_, &server_ctx_}) {
      SSL_CTX_set_min_proto_version(ctx->native_handle(), GetParam());
      SSL_CTX_set_max_proto_version(ctx->native_handle(), GetParam());
    }
    ASSERT_EQ(SSL_CTX_use_certificate(server_ctx_.native_handle(), identity().cert.get()), 1);
    ASSERT_EQ(SSL_CTX_use_PrivateKey(server_ctx_.native_handle(), identity().key.get()), 1);
    auto [client_socket, relay_left] = connected_pair(io_);
    auto [relay_right, server_socket] = connected_pair(io_);
    relay_left_ = std::move(relay_left);
    relay_right_ = std::move(relay_right);
    asio::co_spawn(io_, relay(*relay_left_, *relay_right_, up_), asio::detached);
    asio::co_spawn(io_, relay(*relay_right_, *relay_left_, down_), asio::detached);
    client_.emplace(std::move(client_socket), client_ctx_);
    server_.emplace(std::move(server_socket), server_ctx_);

    // Handshake, then one byte each way: TLS 1.3 session tickets have crossed too.
    run([&]() -> awaitable<void> {
      co_await (client_->async_handshake(asio::ssl::stream_base::client, use_awaitable) &&
                server_->async_handshake(asio::ssl::stream_base::server, use_awaitable));
      co_await asio::async_write(*client_, asio::buffer("?", 1), use_awaitable);
      co_await read_exactly(*server_, 1, fixed(1));
      co_await asio::async_write(*server_, asio::buffer("!", 1), use_awaitable);
      co_await read_exactly(*client_, 1, fixed(1));
    });
    ASSERT_FALSE(HasFailure());  // run() reports with ADD_FAILURE: stop here, not in every body
    ASSERT_EQ(SSL_version(client_->native_handle()), GetParam());
    up_.clear();
    down_.clear();
  }

  void TearDown() override {
    close_all();
    io_.run_for(std::chrono::seconds(2));  // the relays and anything pending end
  }

  void close_all() {
    boost::system::error_code ignored;
    if (client_) client_->next_layer().socket().close(ignored);
    if (server_) server_->next_layer().socket().close(ignored);
    if (relay_left_) relay_left_->close(ignored);
    if (relay_right_) relay_right_->close(ignored);
  }

  // Runs `body` on io_ (with the relays) until it ends, failing after kDeadline. It never
  // outlives this call: on timeout every socket closes, so every operation ends.
  void run(std::function<awaitable<void>()> body) {
    if (timed_out_) return;  // the sockets are closed: that failure is reported
    io_.restart();           // in case it ran out of work before
    auto done = std::make_shared<std::optional<std::exception_ptr>>();
    asio::co_spawn(io_, body(), [done](std::exception_ptr e) { *done = e; });
    const auto deadline = std::chrono::steady_clock::now() + kDeadline;
    while (!*done && io_.run_one_until(deadline) > 0) {
    }
    if (!*done) {
      ADD_FAILURE() << "not finished within " << kDeadline.count() << " s";
      timed_out_ = true;
      close_all();
      while (!*done && io_.run_one_for(std::chrono::seconds(2)) > 0) {
      }
      if (!*done) std::abort();  // its frame still refers to the caller's variables
      return;
    }
    try {
      if (**done) std::rethrow_exception(**done);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "exception: " << e.what();
    }
  }

  std::vector<Direction> directions() {
    return {{&*client_, &*server_, &up_, "client to server"}, {&*server_, &*client_, &down_, "server to client"}};
  }

  // `data` written with async_write while the other end reads it in next_size() pieces
  // (the read starts first: with wait_before_idle_reads() it waits idle).
  void transfer(const Direction& d, const std::string& data, std::function<size_t()> next_size) {
    run([&]() -> awaitable<void> {
      auto [got, written] = co_await (read_exactly(*d.to, data.size(), next_size) &&
                                      asio::async_write(*d.from, asio::buffer(data), use_awaitable));
      EXPECT_EQ(written, data.size());
      EXPECT_TRUE(got == data) << d.name << ": " << data.size() << " bytes differ";
    });
  }

  void check_reads_of_any_size();

  asio::io_context io_;
  asio::ssl::context client_ctx_{asio::ssl::context::tls_client};
  asio::ssl::context server_ctx_{asio::ssl::context::tls_server};
  std::vector<Record> up_, down_;
  std::optional<tcp::socket> relay_left_, relay_right_;
  std::optional<LeanTlsStream> client_, server_;
  bool timed_out_ = false;
};

TEST_P(LeanTlsStreamTest, WriteSomeSealsAWholeSequenceInOneRecord) {
  // An HTTP answer as Beast hands it over: start line, fields, body (and an empty piece).
  const std::string a = pattern(100, 1), b = pattern(300, 2), c = pattern(200, 3);
  const std::array<asio::const_buffer, 4> sequence{asio::buffer(a), asio::const_buffer(), asio::buffer(b),
                                                   asio::buffer(c)};
  for (const Direction& d : directions()) {
    run([&]() -> awaitable<void> {
      const size_t n = co_await d.from->async_write_some(sequence, use_awaitable);
      EXPECT_EQ(n, 600u) << d.name;
      const std::string got = co_await read_exactly(*d.to, n, fixed(4096));
      EXPECT_TRUE(got == a + b + c) << d.name;
    });
    ASSERT_EQ(d.wire->size(), 1u) << d.name << ": one record for the whole sequence";
    EXPECT_EQ(d.wire->front().type, unsigned{SSL3_RT_APPLICATION_DATA}) << d.name;
    EXPECT_GT(d.wire->front().length, 600u) << d.name;
    EXPECT_LE(d.wire->front().length, 600u + kMaxRecordOverhead) << d.name;
  }
}

TEST_P(LeanTlsStreamTest, WriteSomeTakesOneRecordsWorthAndAsyncWriteSendsTheRest) {
  const std::string a = pattern(10000, 1), b = pattern(20000, 2), c = pattern(10960, 3);
  const std::string all = a + b + c;  // 40 KiB
  const std::array<asio::const_buffer, 3> sequence{asio::buffer(a), asio::buffer(b), asio::buffer(c)};
  for (const Direction& d : directions()) {
    run([&]() -> awaitable<void> {
      const size_t n = co_await d.from->async_write_some(sequence, use_awaitable);
      EXPECT_EQ(n, kMaxPlaintext) << d.name;
      // All of the first buffer and the start of the second, in order.
      const std::string got = co_await read_exactly(*d.to, n, fixed(65536));
      EXPECT_TRUE(got == all.substr(0, kMaxPlaintext)) << d.name;
    });
    ASSERT_EQ(d.wire->size(), 1u) << d.name;
    d.wire->clear();

    run([&]() -> awaitable<void> {
      auto [got, written] = co_await (read_exactly(*d.to, all.size(), fixed(65536)) &&
                                      asio::async_write(*d.from, sequence, use_awaitable));
      EXPECT_EQ(written, all.size()) << d.name;
      EXPECT_TRUE(got == all) << d.name;
    });
    // 16384 (a + start of b), 16384 (rest of b + start of c), 8192: one record per call.
    ASSERT_EQ(d.wire->size(), 3u) << d.name;
    for (const Record& r : *d.wire) {
      EXPECT_EQ(r.type, unsigned{SSL3_RT_APPLICATION_DATA}) << d.name;
      EXPECT_LE(r.length, kMaxPlaintext + kMaxRecordOverhead) << d.name;
    }
    EXPECT_GT((*d.wire)[0].length, kMaxPlaintext) << d.name;
    EXPECT_GT((*d.wire)[1].length, kMaxPlaintext) << d.name;
  }
}

TEST_P(LeanTlsStreamTest, RandomSequencesRoundTripInOneRecordPerSixteenKiB) {
  std::mt19937 rng(static_cast<unsigned>(GetParam()));  // fixed seed: a failure reproduces
  auto uniform = [&](size_t lo, size_t hi) { return std::uniform_int_distribution<size_t>(lo, hi)(rng); };
  auto dirs = directions();
  size_t expected_records[2] = {0, 0};
  for (int round = 0; round < 40; ++round) {
    const Direction& d = dirs[round % 2];
    std::vector<std::string> pieces(uniform(1, 5));
    std::vector<asio::const_buffer> sequence;
    std::string all;
    for (auto& p : pieces) {
      p = pattern(uniform(0, 1) ? uniform(0, 60) : uniform(0, 15000), static_cast<unsigned>(round));
      sequence.push_back(asio::buffer(p));
      all += p;
    }
    // async_write offers up to 64 KiB per call: every call but the last takes a full 16 KiB.
    expected_records[round % 2] += (all.size() + kMaxPlaintext - 1) / kMaxPlaintext;
    run([&]() -> awaitable<void> {
      auto [got, written] = co_await (read_exactly(*d.to, all.size(), [&] { return uniform(1, 5000); }) &&
                                      asio::async_write(*d.from, sequence, use_awaitable));
      EXPECT_EQ(written, all.size());
      EXPECT_TRUE(got == all) << d.name << ", round " << round << ": " << all.size() << " bytes differ";
    });
  }
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(dirs[i].wire->size(), expected_records[i]) << dirs[i].name;
    for (const Record& r : *dirs[i].wire) EXPECT_LE(r.length, kMaxPlaintext + kMaxRecordOverhead);
  }
}

// Reads smaller than, around and larger than the kReadChunk socket reads, over three
// full records, then over many small records (several in one socket chunk).
void LeanTlsStreamTest::check_reads_of_any_size() {
  const std::string big = pattern(40000, 9);
  std::vector<std::string> small(100);  // one record each
  std::string all_small;
  for (size_t i = 0; i < small.size(); ++i) all_small += small[i] = pattern(400, static_cast<unsigned>(i));
  const size_t chunk = LeanTlsStream::kReadChunk;
  for (size_t piece : {size_t{1}, size_t{100}, chunk - 1, chunk, chunk + 1, kMaxPlaintext, size_t{65536}}) {
    for (const Direction& d : directions()) {
      SCOPED_TRACE(std::string(d.name) + ", reads of " + std::to_string(piece));
      transfer(d, big, fixed(piece));
      run([&]() -> awaitable<void> {
        for (const auto& record : small) co_await d.from->async_write_some(asio::buffer(record), use_awaitable);
        const std::string got = co_await read_exactly(*d.to, all_small.size(), fixed(piece));
        EXPECT_TRUE(got == all_small);
      });
    }
  }
}

TEST_P(LeanTlsStreamTest, ReadsOfAnySizeDeliverEveryRecord) { check_reads_of_any_size(); }

TEST_P(LeanTlsStreamTest, WaitBeforeIdleReadsDeliversEveryRecordAndTheEnd) {
  client_->wait_before_idle_reads();
  server_->wait_before_idle_reads();
  check_reads_of_any_size();
  // An idle waiting read still sees the peer's close_notify.
  run([&]() -> awaitable<void> {
    boost::system::error_code ec;
    std::string buf(100, '\0');
    co_await (server_->async_read_some(asio::buffer(buf), asio::redirect_error(use_awaitable, ec)) &&
              client_->async_shutdown(use_awaitable));
    EXPECT_EQ(ec, asio::error::eof);
  });
}

INSTANTIATE_TEST_SUITE_P(Versions, LeanTlsStreamTest, ::testing::Values(TLS1_2_VERSION, TLS1_3_VERSION),
                         [](const auto& info) { return info.param == TLS1_3_VERSION ? "Tls13" : "Tls12"; });

}  // namespace
}  // namespace ck::net::detail
