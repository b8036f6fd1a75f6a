// CertCache: interns certificates by their DER bytes so that many in-process agents
// (the fleet simulator) share one parsed copy, and remembers rotation links that
// already verified so 100,000 agents do not re-verify the same two signatures.
// A link is cached only after crypto::verify_rotation accepted it; callers still
// apply the per-agent checks (from == pinned, n > held generation). Thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/result.h"
#include "crypto/rotation_statement.h"
#include "crypto/x509.h"

namespace ck::agent {

class CertCache {
 public:
  // Parses (PEM or DER) or returns the interned copy.
  Result<std::shared_ptr<const crypto::Certificate>> parse(std::string_view bytes);
  std::shared_ptr<const crypto::Certificate> intern(crypto::Certificate cert);

  std::optional<crypto::VerifiedRotation> find_link(const std::string& by_old,
                                                    const std::string& by_new);
  void remember_link(const std::string& by_old, const std::string& by_new,
                     const crypto::VerifiedRotation& link);

 private:
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const crypto::Certificate>> by_bytes_;
  std::unordered_map<std::string, std::shared_ptr<const crypto::Certificate>> by_der_;
  std::unordered_map<std::string, crypto::VerifiedRotation> links_;
};

}  // namespace ck::agent
