// The one definition of how a check-in writes its endpoint row, shared by the SQLite
// and PostgreSQL registries: the ON CONFLICT clause of their upserts. A row bound to a
// key is written only by that key's holder; a row without a key is bound to the key the
// check-in presents, which also brings its enrollment (never over a rejection).
#pragma once

namespace ck::registry {

#define CK_REGISTRY_ON_CONFLICT_UPDATE                                                               \
  " ON CONFLICT (agent_id) DO UPDATE SET hostname = excluded.hostname, "                            \
  "ip_address = excluded.ip_address, domain = excluded.domain, os = excluded.os, "                  \
  "agent_version = excluded.agent_version, pinned_fingerprint = excluded.pinned_fingerprint, "      \
  "last_seq = excluded.last_seq, last_seen = excluded.last_seen, "                                  \
  "enrollment = CASE WHEN endpoints.key_fingerprint = '' AND excluded.key_fingerprint <> '' "       \
  "AND endpoints.enrollment <> 'rejected' THEN excluded.enrollment ELSE endpoints.enrollment END, " \
  "key_fingerprint = CASE WHEN endpoints.key_fingerprint = '' THEN excluded.key_fingerprint "      \
  "ELSE endpoints.key_fingerprint END "                                                             \
  "WHERE endpoints.key_fingerprint = '' OR endpoints.key_fingerprint = excluded.key_fingerprint"

inline constexpr const char* kOnConflictUpdate = CK_REGISTRY_ON_CONFLICT_UPDATE;

}  // namespace ck::registry
