#include "net/lean_tls_stream.h"

#include <cstring>
#include <stdexcept>

namespace ck::net::detail {
namespace {

using State = LeanTlsStream::State;

State* state_of(BIO* bio) { return static_cast<State*>(BIO_get_data(bio)); }

int bio_write(BIO* bio, const char* data, int len) {
  BIO_clear_retry_flags(bio);
  state_of(bio)->out.append(data, static_cast<size_t>(len));
  return len;
}

int bio_read(BIO* bio, char* data, int len) {
  BIO_clear_retry_flags(bio);
  State* s = state_of(bio);
  const size_t available = s->in.size() - s->in_pos;
  if (available == 0 || len <= 0) {
    BIO_set_retry_read(bio);
    return -1;
  }
  const size_t n = std::min(available, static_cast<size_t>(len));
  std::memcpy(data, s->in.data() + s->in_pos, n);
  s->in_pos += n;
  if (s->in_pos == s->in.size()) {  // drained: give the memory back
    std::string().swap(s->in);
    s->in_pos = 0;
  }
  return static_cast<int>(n);
}

long bio_ctrl(BIO*, int cmd, long, void*) {
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;
    default:
      return 0;
  }
}

int bio_create(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

BIO_METHOD* lean_bio_method() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "certkeeper lean TLS");
    if (!m || BIO_meth_set_write(m, bio_write) != 1 || BIO_meth_set_read(m, bio_read) != 1 ||
        BIO_meth_set_ctrl(m, bio_ctrl) != 1 || BIO_meth_set_create(m, bio_create) != 1)
      throw std::runtime_error("cannot create the TLS BIO method");
    return m;
  }();
  return method;
}

}  // namespace

LeanTlsStream::State::State(boost::asio::ip::tcp::socket&& socket, SSL_CTX* ctx)
    : tcp(std::move(socket)), ssl(SSL_new(ctx), &SSL_free) {
  if (!ssl) throw std::runtime_error("SSL_new failed");
  BIO* bio = BIO_new(lean_bio_method());
  if (!bio) throw std::runtime_error("BIO_new failed");
  BIO_set_data(bio, this);
  SSL_set_bio(ssl.get(), bio, bio);  // one BIO both ways; the SSL owns it
  SSL_set_accept_state(ssl.get());
  SSL_set_mode(ssl.get(), SSL_MODE_RELEASE_BUFFERS);
}

LeanTlsStream::LeanTlsStream(boost::asio::ip::tcp::socket&& socket, SSL_CTX* ctx)
    : state_(std::make_shared<State>(std::move(socket), ctx)) {}

boost::system::error_code LeanTlsStream::ssl_failure(State* s, int result, bool* want_read) {
  *want_read = false;
  switch (SSL_get_error(s->ssl.get(), result)) {
    case SSL_ERROR_WANT_READ:
      *want_read = true;
      return {};
    case SSL_ERROR_ZERO_RETURN:  // the peer's close_notify
      return boost::asio::error::eof;
    case SSL_ERROR_SSL: {
      const unsigned long e = ERR_get_error();
      if (e == 0) return boost::asio::ssl::error::stream_truncated;
      return boost::system::error_code(static_cast<int>(e), boost::asio::error::get_ssl_category());
    }
    default:
      return boost::asio::ssl::error::stream_truncated;
  }
}

void teardown(boost::beast::role_type, LeanTlsStream& stream, boost::system::error_code& ec) {
  ERR_clear_error();
  (void)SSL_shutdown(stream.native_handle());
  auto& s = stream.next_layer().socket();
  // What SSL_shutdown produced went to the BIO's output; send it as it is.
  boost::asio::write(s, boost::asio::buffer(stream.pending_output()), ec);
  boost::system::error_code ignored;
  s.shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
}

}  // namespace ck::net::detail
