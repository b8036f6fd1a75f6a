// The real certkeeper-agent binary against a hostile server: a fake HTTPS server on
// 127.0.0.1 answers every check-in with a crafted body. Every attack of issue #5 is
// rejected, the agent keeps running (--once exits cleanly), and its install folder
// stays byte-identical — also across restarts (each --once run is a new process).
#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "agent/agent_test_util.h"
#include "crypto/encoding.h"
#include "support/process.h"

namespace ck::testing {
namespace {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using agent::testing::Command;
using agent::testing::KeyCert;

constexpr const char* kAgentId = "victim";

// One TLS listener thread; answers each POST with `body()`.
class FakeServer {
 public:
  FakeServer(const std::string& cert_file, const std::string& key_file)
      : ctx_(asio::ssl::context::tls_server), acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    ctx_.use_certificate_chain_file(cert_file);
    ctx_.use_private_key_file(key_file, asio::ssl::context::pem);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeServer() {
    stop_ = true;
    // A blocking accept() is not interrupted by close(): wake it with a connection.
    beast::error_code ec;
    asio::io_context io;
    tcp::socket wake(io);
    wake.connect(acceptor_.local_endpoint(), ec);
    thread_.join();
    acceptor_.close(ec);
  }
  int port() const { return acceptor_.local_endpoint().port(); }
  void set_body(std::string body) {
    std::lock_guard lock(mu_);
    body_ = std::move(body);
  }

 private:
  void serve() {
    while (!stop_) {
      beast::error_code ec;
      tcp::socket sock(io_);
      acceptor_.accept(sock, ec);
      if (ec || stop_) return;
      timeval tv{10, 0};
      ::setsockopt(sock.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      beast::ssl_stream<tcp::socket> stream(std::move(sock), ctx_);
      stream.handshake(asio::ssl::stream_base::server, ec);
      if (ec) continue;
      beast::flat_buffer buf;
      http::request<http::string_body> req;
      http::read(stream, buf, req, ec);
      if (ec) continue;
      http::response<http::string_body> res{http::status::ok, 11};
      res.set(http::field::content_type, "application/json");
      {
        std::lock_guard lock(mu_);
        res.body() = body_;
      }
      res.prepare_payload();
      http::write(stream, res, ec);
      stream.shutdown(ec);
    }
  }

  asio::io_context io_;
  asio::ssl::context ctx_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::string body_;
};

class AgentAttackE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_dir();
    install_ = dir_ + "/install";
    std::filesystem::create_directories(install_);
    auto tls = run({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", dir_ + "/tls.key", "-out", dir_ + "/tls.crt", "-days", "2", "-subj",
                    "/CN=fake server", "-addext", "subjectAltName=IP:127.0.0.1"});
    ASSERT_EQ(tls.exit_code, 0) << tls.err;
    server_ = std::make_unique<FakeServer>(dir_ + "/tls.crt", dir_ + "/tls.key");
    now_ = std::time(nullptr);
    a_ = std::make_unique<KeyCert>(agent::testing::make_key_cert(now_ - 100));
    b_ = std::make_unique<KeyCert>(agent::testing::make_key_cert(now_ - 50));
    c_ = std::make_unique<KeyCert>(agent::testing::make_key_cert(now_ - 10));
    evil_ = std::make_unique<KeyCert>(agent::testing::make_key_cert(now_));
    agent::testing::spit(install_ + "/OfcNTCer.dat", a_->cert.pem());
    // History: command seq 5 accepted, rotation A -> B (n = 2) accepted.
    respond({agent::testing::rotate(*a_, *b_, 2, now_)}, {sign(*a_, command(5, "j5"))});
    ASSERT_EQ(once(), 0);
    ASSERT_NE(agent::testing::slurp(install_ + "/agent_state.json").find("\"generation\":2"), std::string::npos);
    before_ = agent::testing::snapshot(install_);
  }

  void TearDown() override {
    // Whatever was attempted, the folder is unchanged and the agent still works.
    EXPECT_EQ(agent::testing::snapshot(install_), before_);
    respond({}, {sign(*b_, command(6, "j6"))});
    EXPECT_EQ(once(), 0);
    EXPECT_NE(agent::testing::slurp(install_ + "/agent_state.json").find("\"last_seq\":6"), std::string::npos);
    server_.reset();
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  json::object command(int64_t seq, const std::string& jti, const std::string& aud = kAgentId) {
    Command c;
    c.command = "run-scan";
    c.aud = aud;
    c.jti = jti;
    c.seq = seq;
    c.iat = now_;
    c.exp = now_ + 600;
    return agent::testing::command_payload(c);
  }
  static std::string sign(const KeyCert& k, const json::object& payload) {
    return agent::testing::sign(k.key, payload);
  }
  void respond(const std::vector<crypto::SignedRotation>& links, const std::vector<std::string>& messages) {
    server_->set_body(agent::testing::checkin_body(c_->cert.fingerprint(), links, messages));
  }
  int once() {
    last_ = run({bin("certkeeper-agent"), "--server", "https://127.0.0.1:" + std::to_string(server_->port()),
                 "--install-dir", install_, "--agent-id", kAgentId, "--once"},
                RunOptions{.timeout = 30s});
    return last_.exit_code;
  }
  // Runs one check-in answered with `messages`/`links`: it succeeds, all is rejected.
  void expect_rejected(const std::vector<crypto::SignedRotation>& links, const std::vector<std::string>& messages) {
    respond(links, messages);
    EXPECT_EQ(once(), 0) << last_.err;
    EXPECT_EQ(agent::testing::snapshot(install_), before_) << last_.err;
    EXPECT_NE(last_.err.find("rejected"), std::string::npos) << last_.err;  // seen, logged
    EXPECT_EQ(last_.err.find("command accepted"), std::string::npos) << last_.err;
    EXPECT_EQ(last_.err.find("rotation accepted"), std::string::npos) << last_.err;
  }

  std::string dir_, install_;
  int64_t now_ = 0;
  std::unique_ptr<FakeServer> server_;
  std::unique_ptr<KeyCert> a_, b_, c_, evil_;
  std::map<std::string, std::string> before_;
  ProcessResult last_;
};

TEST_F(AgentAttackE2eTest, BadSignatureAndUnknownKid) {
  std::string good = sign(*b_, command(6, "x"));
  std::string other = sign(*b_, command(7, "y"));
  std::string spliced = good.substr(0, good.rfind('.')) + other.substr(other.rfind('.'));
  expect_rejected({}, {spliced, sign(*evil_, command(6, "x")), sign(*a_, command(6, "x"))});
}

TEST_F(AgentAttackE2eTest, MessageForAnotherAgentAndExpired) {
  auto expired = command(6, "x");
  expired["iat"] = now_ - 7200;
  expired["exp"] = now_ - 3600;
  expect_rejected({}, {sign(*b_, command(6, "x", "someone-else")), sign(*b_, expired)});
}

TEST_F(AgentAttackE2eTest, ReplaysAcrossRestart) {
  // The very message accepted in an earlier process, and a fresh one reusing seq/jti.
  expect_rejected({}, {sign(*a_, command(5, "j5")), sign(*b_, command(5, "new")), sign(*b_, command(9, "j5"))});
}

TEST_F(AgentAttackE2eTest, RotationFromOtherKeySplicedOrRolledBack) {
  auto good = agent::testing::rotate(*b_, *c_, 3, now_);
  auto other = agent::testing::rotate(*b_, *c_, 4, now_);
  expect_rejected({agent::testing::rotate(*a_, *c_, 3, now_),         // from is not the pinned key
                   agent::testing::rotate(*evil_, *c_, 3, now_),      // from a stranger
                   {good.by_old, other.by_new},                       // signatures disagree
                   agent::testing::rotate(*b_, *c_, 2, now_),         // rollback (n == held)
                   agent::testing::rotate(*b_, *c_, 1, now_)},        // rollback (n < held)
                  {});
}

TEST_F(AgentAttackE2eTest, MalformedJwsJsonAndOversizedAnswers) {
  expect_rejected({}, {"not-a-jws", "a.b.c", "..", std::string(300 * 1024, 'A')});
  for (std::string body : {std::string("{"), std::string("[]"), std::string("{\"current_fingerprint\":7}"),
                           std::string(9u << 20, ' ')}) {
    server_->set_body(body);
    EXPECT_EQ(once(), 1) << "a malformed answer is a failed check-in";
    EXPECT_EQ(agent::testing::snapshot(install_), before_);
  }
}

TEST_F(AgentAttackE2eTest, DifferentServerTlsCertificateIsRefused) {
  // Same address, new TLS identity: the TOFU pin refuses it before sending anything.
  auto tls = run({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                  "-nodes", "-keyout", dir_ + "/tls2.key", "-out", dir_ + "/tls2.crt", "-days", "2", "-subj",
                  "/CN=impostor"});
  ASSERT_EQ(tls.exit_code, 0);
  auto real = std::move(server_);
  server_ = std::make_unique<FakeServer>(dir_ + "/tls2.crt", dir_ + "/tls2.key");
  respond({agent::testing::rotate(*b_, *evil_, 3, now_)}, {});
  EXPECT_EQ(once(), 1);
  EXPECT_NE(last_.err.find("server TLS certificate changed"), std::string::npos) << last_.err;
  EXPECT_EQ(agent::testing::snapshot(install_), before_);
  server_ = std::move(real);
}

}  // namespace
}  // namespace ck::testing
