#include "crypto/jws.h"

#include "crypto/encoding.h"
#include "crypto/signature.h"

namespace ck::crypto {
namespace json = boost::json;

Result<std::string> jws_sign(const PrivateKey& key, const json::object& payload) {
  json::object header;
  header["alg"] = jws_algorithm(key.algorithm());
  header["kid"] = key.fingerprint();
  std::string input = base64url_encode(json::serialize(header)) + "." +
                      base64url_encode(json::serialize(payload));
  CK_ASSIGN_OR_RETURN(std::string sig, sign(key, input));
  return input + "." + base64url_encode(sig);
}

namespace {

// The offsets of the two dots of a compact JWS.
Result<std::pair<size_t, size_t>> split_compact(std::string_view compact) {
  if (compact.size() > kMaxJwsBytes) return make_error(ErrorKind::kInvalidArgument, "JWS too large");
  size_t d1 = compact.find('.');
  size_t d2 = d1 == std::string_view::npos ? d1 : compact.find('.', d1 + 1);
  if (d2 == std::string_view::npos || compact.find('.', d2 + 1) != std::string_view::npos)
    return make_error(ErrorKind::kInvalidArgument, "malformed JWS: expected three parts");
  return std::pair{d1, d2};
}

Result<json::object> decode_header(std::string_view encoded) {
  CK_ASSIGN_OR_RETURN(std::string header_json, base64url_decode(encoded));
  boost::system::error_code ec;
  json::value header = json::parse(header_json, ec);
  if (ec || !header.is_object()) return make_error(ErrorKind::kInvalidArgument, "malformed JWS header");
  return std::move(header.as_object());
}

std::string kid_in(const json::object& header) {
  auto* kid = header.if_contains("kid");
  return kid && kid->is_string() ? std::string(kid->as_string()) : std::string();
}

}  // namespace

Result<JwsParts> jws_parse(std::string_view compact) {
  CK_ASSIGN_OR_RETURN(auto dots, split_compact(compact));
  const auto [d1, d2] = dots;
  JwsParts parts;
  CK_ASSIGN_OR_RETURN(parts.header, decode_header(compact.substr(0, d1)));
  CK_ASSIGN_OR_RETURN(parts.payload, base64url_decode(compact.substr(d1 + 1, d2 - d1 - 1)));
  CK_ASSIGN_OR_RETURN(parts.signature, base64url_decode(compact.substr(d2 + 1)));
  parts.kid = kid_in(parts.header);
  parts.signing_input = std::string(compact.substr(0, d2));
  return parts;
}

Result<std::string> jws_kid(std::string_view compact) {
  CK_ASSIGN_OR_RETURN(auto dots, split_compact(compact));
  CK_ASSIGN_OR_RETURN(json::object header, decode_header(compact.substr(0, dots.first)));
  return kid_in(header);
}

Result<json::object> jws_verify(std::string_view compact, const PublicKey& key) {
  CK_ASSIGN_OR_RETURN(JwsParts parts, jws_parse(compact));
  const json::value* alg = parts.header.if_contains("alg");
  if (!alg || !alg->is_string() || alg->as_string() != jws_algorithm(key.algorithm()))
    return make_error(ErrorKind::kCrypto, "JWS algorithm does not match the key");
  if (!parts.kid.empty() && !constant_time_equal(parts.kid, key.fingerprint()))
    return make_error(ErrorKind::kCrypto, "JWS kid does not name the verifying key");
  if (parts.header.contains("crit"))
    return make_error(ErrorKind::kCrypto, "JWS has unsupported critical header parameters");
  if (!verify(key, parts.signing_input, parts.signature))
    return make_error(ErrorKind::kCrypto, "JWS signature is invalid");
  boost::system::error_code ec;
  json::value payload = json::parse(parts.payload, ec);
  if (ec || !payload.is_object()) return make_error(ErrorKind::kInvalidArgument, "JWS payload is not a JSON object");
  return std::move(payload.as_object());
}

}  // namespace ck::crypto
