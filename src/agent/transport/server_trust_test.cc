// The agent's trust in the server with --server-ca (ServerTrust::from_ca_file), on its
// two paths: the real ChannelClient and the check-in call (async_https), against a TLS
// listener on 127.0.0.1 on the test's io_context. A certificate from the configured CA,
// for the name the agent dialled, opens the channel (its frames arrive) or gets the
// check-in answered; one from another CA (same names), or from the right CA for another
// address or host name, fails the TLS handshake: no upgrade, no byte of the agent's
// hello sent, no frame handed on, one error naming the verifier's reason.
#include "agent/transport/channel.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "agent/transport/https.h"
#include "agent/transport/tls.h"
#include "support/process.h"

namespace ck::transport {
namespace {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using ck::testing::run;

constexpr const char* kHello = R"({"agent_id":"a1","pinned_fingerprint":"00"})";
constexpr const char* kPushed = "pushed.by.server";
constexpr const char* kHostName = "server.certkeeper.test";

// Accepts one connection: TLS, then the request. A WebSocket upgrade is accepted: it
// reads the client's first frame, pushes kPushed, then reads until the connection ends.
// Anything else (a check-in) is answered 204. Records what happened.
class OneChannelServer {
 public:
  OneChannelServer(asio::io_context& io, const std::string& cert_file, const std::string& key_file)
      : ctx_(asio::ssl::context::tls_server), acceptor_(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    ctx_.use_certificate_chain_file(cert_file);
    ctx_.use_private_key_file(key_file, asio::ssl::context::pem);
    acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec) return end();
      ws_.emplace(std::move(socket), ctx_);
      ws_->next_layer().async_handshake(asio::ssl::stream_base::server, [this](beast::error_code ec2) {
        if (ec2) {
          tls_error = ec2;
          return end();
        }
        beast::http::async_read(ws_->next_layer(), buffer_, request_, [this](beast::error_code ec3, size_t) {
          if (ec3) return end();
          if (!websocket::is_upgrade(request_)) return answer_http();
          ws_->async_accept(request_, [this](beast::error_code ec4) { on_upgraded(ec4); });
        });
      });
    });
  }
  unsigned short port() const { return acceptor_.local_endpoint().port(); }
  bool done() const { return done_; }

  beast::error_code tls_error;          // the server side of a failed TLS handshake
  bool http_request = false;            // a request other than an upgrade arrived
  bool upgraded = false;
  std::vector<std::string> received;    // text frames from the client

 private:
  void answer_http() {
    http_request = true;
    static constexpr std::string_view kAnswer = "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
    asio::async_write(ws_->next_layer(), asio::buffer(kAnswer), [this](beast::error_code, size_t) {
      beast::get_lowest_layer(*ws_).close();
      end();
    });
  }
  void on_upgraded(beast::error_code ec) {
    if (ec) return end();
    upgraded = true;
    ws_->async_read(buffer_, [this](beast::error_code ec2, size_t) {
      if (ec2) return end();
      received.push_back(beast::buffers_to_string(buffer_.data()));
      buffer_.consume(buffer_.size());
      ws_->text(true);
      ws_->async_write(asio::buffer(std::string_view(kPushed)), [this](beast::error_code ec3, size_t) {
        if (ec3) return end();
        read_until_closed();
      });
    });
  }
  void read_until_closed() {
    ws_->async_read(buffer_, [this](beast::error_code ec, size_t) {
      if (ec) return end();
      received.push_back(beast::buffers_to_string(buffer_.data()));
      buffer_.consume(buffer_.size());
      read_until_closed();
    });
  }
  void end() { done_ = true; }

  asio::ssl::context ctx_;
  tcp::acceptor acceptor_;
  std::optional<websocket::stream<beast::ssl_stream<tcp::socket>>> ws_;
  beast::flat_buffer buffer_;
  beast::http::request<beast::http::string_body> request_;
  bool done_ = false;
};

// What the agent's side of one channel saw.
struct Seen {
  bool opened = false;
  std::vector<std::string> frames;
  std::optional<Error> closed;
};

class ServerTrustTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ck::testing::temp_dir();
    // The CA the agent is given, and an impostor with the same name.
    ASSERT_NO_FATAL_FAILURE(make_ca("ca"));
    ASSERT_NO_FATAL_FAILURE(make_ca("other-ca"));
    const std::string right_names = "subjectAltName=IP:127.0.0.1,DNS:" + std::string(kHostName);
    ASSERT_NO_FATAL_FAILURE(make_leaf("server", "ca", right_names));
    ASSERT_NO_FATAL_FAILURE(make_leaf("impostor", "other-ca", right_names));
    ASSERT_NO_FATAL_FAILURE(make_leaf("elsewhere", "ca", "subjectAltName=IP:127.0.0.2,DNS:elsewhere.certkeeper.test"));
  }
  void TearDown() override {
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  void openssl(std::vector<std::string> args) {
    args.insert(args.begin(), {"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                               "ec_paramgen_curve:P-256", "-nodes", "-days", "2"});
    auto r = run(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  void make_ca(const std::string& name) {
    openssl({"-keyout", dir_ + "/" + name + ".key", "-out", dir_ + "/" + name + ".crt", "-subj",
             "/CN=certkeeper test CA"});
  }
  void make_leaf(const std::string& name, const std::string& ca, const std::string& names) {
    openssl({"-keyout", dir_ + "/" + name + ".key", "-out", dir_ + "/" + name + ".crt", "-subj",
             "/CN=certkeeper server", "-CA", dir_ + "/" + ca + ".crt", "-CAkey", dir_ + "/" + ca + ".key",
             "-addext", "basicConstraints=critical,CA:FALSE", "-addext", "subjectKeyIdentifier=hash", "-addext",
             "authorityKeyIdentifier=keyid:always", "-addext", names});
  }

  // Runs the io_context until `done` holds, at most `limit` (never hangs).
  bool run_until(const std::function<bool()>& done, std::chrono::seconds limit = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      if (io_.run_one_until(deadline) == 0 && io_.stopped()) break;
    }
    return done();
  }

  // `host` (whatever name the agent dialled) at the listener on 127.0.0.1.
  std::shared_ptr<ServerTarget> listener_target(const std::string& host) {
    auto target = std::make_shared<ServerTarget>();
    target->url = ServerUrl{host, std::to_string(server_->port()), ""};
    target->endpoints = {tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port())};
    return target;
  }

  // One check-in call (async_https, trusting only ca.crt) to the listener presenting
  // `server_cert`, which answers anything but a WebSocket upgrade with 204.
  Result<HttpReply> checkin(const std::string& server_cert, const std::string& host) {
    server_.emplace(io_, dir_ + "/" + server_cert + ".crt", dir_ + "/" + server_cert + ".key");
    auto trust = ServerTrust::from_ca_file(dir_ + "/ca.crt");
    if (!trust.ok()) return trust.error();
    auto ctx = (*trust)->make_context();
    if (!ctx.ok()) return ctx.error();
    HttpsRequest req;
    req.target = "/v1/checkin";
    req.body = [](const std::string&) { return std::string(kHello); };
    req.timeout = 5000ms;
    std::optional<Result<HttpReply>> reply;
    async_https(io_.get_executor(), *ctx, *trust, listener_target(host), std::move(req),
                [&](Result<HttpReply> r) { reply = std::move(r); });
    EXPECT_TRUE(run_until([&] { return reply.has_value() && server_->done(); }));
    if (!reply) return make_error(ErrorKind::kUnavailable, "no answer");
    return std::move(*reply);
  }

  // The real channel client, trusting only ca.crt, dials `host` (any name: the socket
  // goes to the listener on 127.0.0.1) where `server_cert` is presented. On the first
  // frame it closes the channel. Returns when both ends are finished.
  Seen open_channel(const std::string& server_cert, const std::string& host) {
    server_.emplace(io_, dir_ + "/" + server_cert + ".crt", dir_ + "/" + server_cert + ".key");
    Seen seen;
    auto trust = ServerTrust::from_ca_file(dir_ + "/ca.crt");
    auto ctx = trust.ok() ? (*trust)->make_context() : Result<std::shared_ptr<asio::ssl::context>>(trust.error());
    if (!ctx.ok()) {
      ADD_FAILURE() << ctx.error().message;
      return seen;
    }
    auto target = listener_target(host);

    std::shared_ptr<ChannelClient> channel;
    ChannelClient::Callbacks cb;
    cb.on_open = [&] { seen.opened = true; };
    cb.on_frame = [&](std::string frame) {
      seen.frames.push_back(std::move(frame));
      channel->close();
    };
    cb.on_closed = [&](Error why) { seen.closed = std::move(why); };
    channel = ChannelClient::create(io_.get_executor(), *ctx, *trust, target, std::move(cb));
    channel->start(kHello);
    EXPECT_TRUE(run_until([&] { return seen.closed.has_value() && server_->done(); }))
        << "client closed: " << seen.closed.has_value() << ", server done: " << server_->done();
    return seen;
  }

  void expect_opened(const Seen& seen) {
    EXPECT_TRUE(seen.opened);
    EXPECT_EQ(seen.frames, std::vector<std::string>{kPushed});
    EXPECT_FALSE(server_->tls_error) << server_->tls_error.message();
    EXPECT_TRUE(server_->upgraded);
    ASSERT_FALSE(server_->received.empty());
    EXPECT_EQ(server_->received.front(), kHello);
  }

  // `reason`: the verifier's, which the error names (a wrong CA and a wrong name read
  // differently to the operator).
  void expect_refused(const Seen& seen, const std::string& reason) {
    ASSERT_TRUE(seen.closed.has_value());
    EXPECT_EQ(seen.closed->kind, ErrorKind::kCrypto) << seen.closed->message;
    EXPECT_NE(seen.closed->message.find("channel TLS handshake"), std::string::npos) << seen.closed->message;
    EXPECT_NE(seen.closed->message.find("certificate verify failed"), std::string::npos) << seen.closed->message;
    EXPECT_NE(seen.closed->message.find(reason), std::string::npos) << seen.closed->message;
    EXPECT_FALSE(seen.opened);
    EXPECT_TRUE(seen.frames.empty());
    // The agent ended the handshake: the server never completed it, so it could neither
    // read the hello nor push anything.
    EXPECT_TRUE(server_->tls_error);
    EXPECT_FALSE(server_->upgraded);
    EXPECT_TRUE(server_->received.empty());
  }

  asio::io_context io_{1};
  std::string dir_;
  std::optional<OneChannelServer> server_;
};

// Positive controls: the same listener and CA file, with the certificate the CA issued
// for the dialled address or name, connect; the refusals below are about trust alone.
TEST_F(ServerTrustTest, CertificateFromTheConfiguredCaOpensTheChannelByAddress) {
  expect_opened(open_channel("server", "127.0.0.1"));
}

TEST_F(ServerTrustTest, CertificateFromTheConfiguredCaOpensTheChannelByHostName) {
  expect_opened(open_channel("server", kHostName));
}

TEST_F(ServerTrustTest, CertificateFromAnotherCaIsRefused) {
  // Same subject, issuer name and addresses; its authority key id names the other CA's
  // key, so the verifier finds no issuer among the trusted certificates.
  expect_refused(open_channel("impostor", "127.0.0.1"), "unable to get local issuer certificate");
}

TEST_F(ServerTrustTest, CertificateFromAnotherCaIsRefusedByHostName) {
  expect_refused(open_channel("impostor", kHostName), "unable to get local issuer certificate");
}

TEST_F(ServerTrustTest, CertificateFromTheConfiguredCaForAnotherAddressIsRefused) {
  expect_refused(open_channel("elsewhere", "127.0.0.1"), "IP address mismatch");
}

TEST_F(ServerTrustTest, CertificateFromTheConfiguredCaForAnotherHostNameIsRefused) {
  expect_refused(open_channel("elsewhere", kHostName), "hostname mismatch");
}

// The check-in path shares the trust: the same refusals, with the same reasons.
TEST_F(ServerTrustTest, CheckinWithTheConfiguredCaReachesTheServer) {
  auto reply = checkin("server", kHostName);
  ASSERT_TRUE(reply.ok()) << reply.error().message;
  EXPECT_EQ(reply->status, 204);
  EXPECT_TRUE(server_->http_request);
  EXPECT_FALSE(server_->tls_error) << server_->tls_error.message();
}

TEST_F(ServerTrustTest, CheckinRefusesACertificateFromAnotherCa) {
  auto reply = checkin("impostor", kHostName);
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error().kind, ErrorKind::kCrypto) << reply.error().message;
  EXPECT_NE(reply.error().message.find("TLS handshake"), std::string::npos) << reply.error().message;
  EXPECT_NE(reply.error().message.find("unable to get local issuer certificate"), std::string::npos)
      << reply.error().message;
  EXPECT_TRUE(server_->tls_error);
  EXPECT_FALSE(server_->http_request);
}

TEST_F(ServerTrustTest, CheckinRefusesACertificateForAnotherHostName) {
  auto reply = checkin("elsewhere", kHostName);
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error().kind, ErrorKind::kCrypto) << reply.error().message;
  EXPECT_NE(reply.error().message.find("certificate verify failed"), std::string::npos) << reply.error().message;
  EXPECT_NE(reply.error().message.find("hostname mismatch"), std::string::npos) << reply.error().message;
  EXPECT_TRUE(server_->tls_error);
  EXPECT_FALSE(server_->http_request);
}

// The reason is the verifier's only when verification refused the handshake: a verdict
// OpenSSL recorded without acting on it (trust on first use: the server is self-signed),
// or one a resumed session brought along, must not explain a timeout or a closed socket.
TEST(HandshakeFailureTest, NamesTheVerifiersReasonOnlyWhenVerificationRefused) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()), &SSL_CTX_free);
  ASSERT_TRUE(ctx);
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), &SSL_free);
  ASSERT_TRUE(ssl);
  SSL_set_verify_result(ssl.get(), X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
  const beast::error_code refused(static_cast<int>(ERR_PACK(ERR_LIB_SSL, 0, SSL_R_CERTIFICATE_VERIFY_FAILED)),
                                  asio::error::get_ssl_category());
  const beast::error_code truncated = asio::ssl::error::stream_truncated;

  SSL_set_verify(ssl.get(), SSL_VERIFY_NONE, nullptr);  // trust on first use
  EXPECT_EQ(handshake_failure(ssl.get(), truncated), truncated.message());
  EXPECT_EQ(handshake_failure(ssl.get(), refused).find("self-signed"), std::string::npos);

  SSL_set_verify(ssl.get(), SSL_VERIFY_PEER, nullptr);  // --server-ca
  EXPECT_EQ(handshake_failure(ssl.get(), truncated), truncated.message());
  // Another TLS failure (the server refused our certificate) is not the verifier's.
  const beast::error_code alert(static_cast<int>(ERR_PACK(ERR_LIB_SSL, 0, SSL_R_TLSV1_ALERT_UNKNOWN_CA)),
                                asio::error::get_ssl_category());
  EXPECT_EQ(handshake_failure(ssl.get(), alert), alert.message());
  EXPECT_EQ(handshake_failure(ssl.get(), refused), refused.message() + ": self-signed certificate");
}

}  // namespace
}  // namespace ck::transport
