// The agent's OfcNTCer.dat (PEM or DER), which may have been copied in by hand.
#include <cstdlib>

#include "agent/cert_cache.h"
#include "crypto/x509.h"
#include "fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes = ck::fuzz::as_text(data, size);
  auto cert = ck::crypto::Certificate::parse(bytes);
  if (cert.ok()) {
    // A parsed certificate has a fingerprint and encodes again (what the agent pins).
    if (cert->fingerprint().size() != 64) std::abort();
    (void)cert->pem();
    (void)cert->public_key();
  }
  ck::agent::CertCache cache;
  (void)cache.parse(bytes);
  return 0;
}
