// JWS compact serialization and rotation statements, as an agent receives them from
// a server it does not trust yet. Input: "by_old\nby_new" (a single JWS is also tried
// alone). The pinned key is fixed per process; a forged signature must never verify.
#include <cstdlib>

#include "crypto/jws.h"
#include "crypto/key.h"
#include "crypto/rotation_statement.h"
#include "fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const ck::crypto::PublicKey* pinned = [] {
    auto key = ck::crypto::PrivateKey::generate(ck::crypto::Algorithm::kEcdsaP256);
    if (!key.ok()) std::abort();
    return new ck::crypto::PublicKey(key->public_key());
  }();
  auto fields = ck::fuzz::split(ck::fuzz::as_text(data, size), '\n', 2);
  (void)ck::crypto::jws_parse(fields[0]);
  if (ck::crypto::jws_verify(fields[0], *pinned).ok()) std::abort();  // forged: must fail
  if (fields.size() == 2) {
    if (ck::crypto::verify_rotation(fields[0], fields[1], *pinned, 0).ok()) std::abort();
  }
  return 0;
}
