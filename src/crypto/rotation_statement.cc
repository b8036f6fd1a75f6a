#include "crypto/rotation_statement.h"

#include "crypto/encoding.h"
#include "crypto/jws.h"

namespace ck::crypto {
namespace json = boost::json;

Result<SignedRotation> sign_rotation(const PrivateKey& old_key, const PrivateKey& new_key,
                                     const Certificate& new_cert, int64_t generation, int64_t iat) {
  if (!new_cert.matches(new_key))
    return make_error(ErrorKind::kInvalidArgument, "new key does not match the new certificate");
  json::object payload{{"typ", "rotation"},        {"from", old_key.fingerprint()},
                       {"to", new_key.fingerprint()}, {"cert", new_cert.pem()},
                       {"iat", iat},                 {"n", generation}};
  SignedRotation out;
  CK_ASSIGN_OR_RETURN(out.by_old, jws_sign(old_key, payload));
  CK_ASSIGN_OR_RETURN(out.by_new, jws_sign(new_key, payload));
  return out;
}

Result<VerifiedRotation> verify_rotation(const std::string& by_old, const std::string& by_new,
                                         const PublicKey& pinned, int64_t held_generation) {
  auto reject = [](const std::string& why) {
    return make_error(ErrorKind::kCrypto, "rotation statement rejected: " + why);
  };
  CK_ASSIGN_OR_RETURN(JwsParts old_parts, jws_parse(by_old));
  CK_ASSIGN_OR_RETURN(JwsParts new_parts, jws_parse(by_new));
  if (old_parts.kid != pinned.fingerprint()) return reject("not signed by the pinned key");
  auto old_payload = jws_verify(by_old, pinned);
  if (!old_payload.ok()) return reject("old-key signature: " + old_payload.error().message);
  if (old_parts.payload != new_parts.payload) return reject("the two signatures cover different payloads");

  const json::object& p = *old_payload;
  auto str = [&](const char* k) -> std::string {
    const json::value* v = p.if_contains(k);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  auto num = [&](const char* k) -> std::optional<int64_t> {
    const json::value* v = p.if_contains(k);
    if (v && v->is_int64()) return v->as_int64();
    if (v && v->is_uint64()) return static_cast<int64_t>(v->as_uint64());
    return std::nullopt;
  };
  if (str("typ") != "rotation") return reject("typ is not \"rotation\"");
  if (str("from") != pinned.fingerprint()) return reject("from is not the pinned key");
  auto n = num("n");
  auto iat = num("iat");
  if (!n || !iat) return reject("missing n or iat");
  if (*n <= held_generation) {
    return reject("generation " + std::to_string(*n) + " is not newer than " +
                  std::to_string(held_generation) + " (rollback)");
  }
  auto cert = Certificate::parse(str("cert"));
  if (!cert.ok()) return reject("bad certificate: " + cert.error().message);
  if (cert->fingerprint() != str("to")) return reject("certificate does not carry the 'to' key");
  if (new_parts.kid != cert->fingerprint()) return reject("second signature is not by the new key");
  auto new_payload = jws_verify(by_new, cert->public_key());
  if (!new_payload.ok()) return reject("new-key signature: " + new_payload.error().message);
  return VerifiedRotation{str("from"), str("to"), std::move(cert).value(), *n, *iat};
}

}  // namespace ck::crypto
