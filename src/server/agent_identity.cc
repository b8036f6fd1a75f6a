#include "server/agent_identity.h"

namespace ck::server {

Result<IdentityVerdict> AgentIdentities::check(const std::string& agent_id, const std::string& key) {
  CK_ASSIGN_OR_RETURN(std::optional<registry::Endpoint> row, find_(agent_id));
  if (!row || row->key_fingerprint.empty()) return key.empty() ? IdentityVerdict::kKeyless : IdentityVerdict::kNew;
  if (row->key_fingerprint != key) return IdentityVerdict::kOtherKey;
  if (row->enrollment == registry::kEnrollmentPending) return IdentityVerdict::kPending;
  if (row->enrollment == registry::kEnrollmentRejected) return IdentityVerdict::kRejected;
  return IdentityVerdict::kBound;
}

const char* AgentIdentities::new_binding_enrollment() const {
  return enrollment_ == Enrollment::kManual ? registry::kEnrollmentPending : registry::kEnrollmentAccepted;
}

}  // namespace ck::server
