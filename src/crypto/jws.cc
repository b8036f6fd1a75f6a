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

Result<JwsParts> jws_parse(std::string_view compact) {
  if (compact.size() > kMaxJwsBytes) return make_error(ErrorKind::kInvalidArgument, "JWS too large");
  size_t d1 = compact.find('.');
  size_t d2 = d1 == std::string_view::npos ? d1 : compact.find('.', d1 + 1);
  if (d2 == std::string_view::npos || compact.find('.', d2 + 1) != std::string_view::npos)
    return make_error(ErrorKind::kInvalidArgument, "malformed JWS: expected three parts");
  JwsParts parts;
  CK_ASSIGN_OR_RETURN(std::string header_json, base64url_decode(compact.substr(0, d1)));
  CK_ASSIGN_OR_RETURN(parts.payload, base64url_decode(compact.substr(d1 + 1, d2 - d1 - 1)));
  CK_ASSIGN_OR_RETURN(parts.signature, base64url_decode(compact.substr(d2 + 1)));
  boost::system::error_code ec;
  json::value header = json::parse(header_json, ec);
  if (ec || !header.is_object()) return make_error(ErrorKind::kInvalidArgument, "malformed JWS header");
  parts.header = std::move(header.as_object());
  if (auto* kid = parts.header.if_contains("kid"); kid && kid->is_string())
    parts.kid = std::string(kid->as_string());
  parts.signing_input = std::string(compact.substr(0, d2));
  return parts;
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
