// The server's TLS identity (certificate + key for HTTPS), separate from the
// authentication certificate that signs messages. Either loaded from the configured
// files (PEM), or generated on first start into the state folder (ECDSA P-256,
// self-signed, CN=certkeeper server, SAN localhost/127.0.0.1/::1/hostname; key file
// 0600) and reused afterwards, so agents that pinned it keep trusting it.
// The private key is never logged. Functions are thread-safe.
#pragma once

#include <string>

#include "common/result.h"
#include "crypto/key.h"
#include "crypto/x509.h"

namespace ck::net {

struct TlsIdentity {
  crypto::Certificate cert;
  crypto::PrivateKey key;
  std::string cert_pem;  // leaf (+ chain when loaded from a file)
  std::string source;    // where it came from, for logs
};

// cert_file/key_file: both or neither. When neither, uses (or creates)
// <state_dir>/server-tls.crt and <state_dir>/server-tls.key.
Result<TlsIdentity> load_or_create_tls_identity(const std::string& cert_file, const std::string& key_file,
                                                const std::string& state_dir);


}  // namespace ck::net
