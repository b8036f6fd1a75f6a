// Test only: PKCS#12 files whose key derivations ask for any cost, made without running
// those derivations (each is built at 1 iteration, then only its parameters are
// rewritten through OpenSSL's ASN.1 items), so a 20,000,000-iteration file takes
// milliseconds to make, while reading it for real would take seconds.
#pragma once

#include <cstdint>
#include <string>

#include "crypto/key.h"
#include "crypto/x509.h"

namespace ck::archive::testing {

enum class CostlyPart {
  kMac,                       // the MAC's iteration count
  kKeyBag,                    // the shrouded key bag's PBKDF2 (MAC valid)
  kEncryptedContent,          // the PBKDF2 of the encrypted content holding the certificate
  kKeyBagInEncryptedContent,  // a shrouded key bag inside an encrypted content
};

// `key` and `cert` in a PFX protected by `password` whose `part` asks for `iterations`
// and every other derivation for 1. Up to 100,000 iterations the file is made for real
// and reads; above, only the parameters say so (a rewritten MAC count leaves the MAC
// value unchecked: it was never computed). Aborts the test (ADD_FAILURE, "") on failure.
std::string costly_pfx(const crypto::PrivateKey& key, const crypto::Certificate& cert,
                       const std::string& password, CostlyPart part, int64_t iterations);

}  // namespace ck::archive::testing
