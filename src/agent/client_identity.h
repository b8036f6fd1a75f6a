// The agent's own identity (DESIGN.md §5, as Salt minion keys): a key pair made at
// first start and kept in <install-dir>/agent.key (0600), presented in every TLS
// handshake (check-in and channel) as a self-signed certificate. The server binds the
// agent id to the key the first time it sees the id and serves that id to nobody else.
// The certificate is made fresh at each start; only the key counts.
// Plain values, immutable once made; share them freely.
#pragma once

#include <memory>
#include <string>

#include "common/result.h"
#include "crypto/key.h"
#include "crypto/x509.h"

namespace ck::agent {

inline constexpr const char* kClientKeyFileName = "agent.key";

struct ClientIdentity {
  crypto::PrivateKey key;
  crypto::Certificate cert;  // self-signed, CN = the agent id
  const std::string& fingerprint() const { return key.fingerprint(); }
};

// Loads the key at `key_path`, or makes one and writes it there (0600) when missing.
// Errors: kPermissionDenied when the file is readable by group or others, kCorrupt
// when it is not a key, kIo.
Result<std::shared_ptr<const ClientIdentity>> load_or_create_client_identity(const std::string& key_path,
                                                                            const std::string& agent_id);
// A key in memory only (the fleet simulator's --memory agents).
Result<std::shared_ptr<const ClientIdentity>> make_client_identity(const std::string& agent_id);

}  // namespace ck::agent
