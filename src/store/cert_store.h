// The certificate store: certificates with status, encrypted private keys,
// rotation statements and an append-only audit log.
//
// Every operation runs inside one transaction (`read` or `write`): a callback that
// returns an error, throws, or is interrupted leaves the store as it was. A second
// concurrent writer gets ErrorKind::kBusy ("store is busy"), never corruption.
// Implementations: SQLite (embedded default) and PostgreSQL; open_cert_store() picks
// one from the URL. A CertStore may be used from several threads; a CertTxn only
// from the thread running the callback.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "crypto/key.h"

namespace ck::store {

enum class CertStatus { kCurrent, kRetired, kExpired, kRevoked };
const char* status_name(CertStatus s);
Result<CertStatus> parse_status(const std::string& s);

struct CertRecord {
  std::string fingerprint;  // SHA-256 of the SPKI, lowercase hex
  std::string algorithm;    // "ecdsa-p256" | "ed25519" | "rsa-3072"
  std::string subject;
  int64_t not_before = 0;
  int64_t not_after = 0;
  // Stored status; a retired certificate past not_after reads back as kExpired.
  CertStatus status = CertStatus::kRetired;
  bool exportable = false;
  bool has_private_key = false;
  int64_t generation = 0;  // n when it became current (1, 2, ...); 0 if never current
  int64_t created_at = 0;
  std::string cert_pem;
};

// One replacement: `{"by_old": JWS, "by_new": JWS}` (DESIGN.md §4).
struct RotationRecord {
  int64_t generation = 0;  // "n" of the payload; the new certificate's generation
  std::string from_fingerprint;
  std::string to_fingerprint;
  std::string by_old;  // JWS compact, kid = from
  std::string by_new;  // JWS compact, kid = to
  int64_t created_at = 0;
};

struct AuditEntry {
  int64_t at = 0;
  std::string actor;   // OS user
  std::string action;  // "generate", "import", "revoke", "restore", ...
  std::string detail;  // human text, never key material
  std::string fingerprints;  // space-separated
};

// Which audit entries to read: those at or after `since` (unix seconds), of which the
// most recent `limit` (0: all). Entries come back oldest first, in the order appended.
struct AuditQuery {
  int64_t since = 0;
  int64_t limit = 0;
};

class CertTxn {
 public:
  virtual ~CertTxn() = default;

  virtual Result<std::optional<CertRecord>> current() = 0;
  // All certificates, oldest generation first (never-current ones last).
  virtual Result<std::vector<CertRecord>> list() = 0;
  virtual Result<std::optional<CertRecord>> find(const std::string& fingerprint) = 0;
  // The decrypted private key, or nullopt when the store holds none for it.
  virtual Result<std::optional<crypto::PrivateKey>> private_key(const std::string& fingerprint) = 0;
  // Rotation statements, by generation ascending.
  virtual Result<std::vector<RotationRecord>> rotations() = 0;
  virtual Result<int64_t> max_generation() = 0;
  // The whole audit log, oldest first.
  Result<std::vector<AuditEntry>> audit_log() { return audit_log(AuditQuery{}); }
  // Part of it, filtered and limited by the database (no full load for a large log).
  virtual Result<std::vector<AuditEntry>> audit_log(const AuditQuery& query) = 0;

  // `key` may be null (certificate kept without its key).
  virtual Status insert(const CertRecord& record, const crypto::PrivateKey* key) = 0;
  virtual Status set_status(const std::string& fingerprint, CertStatus status) = 0;
  virtual Status set_generation(const std::string& fingerprint, int64_t generation) = 0;
  // Drops the private key (and the exportable flag); the certificate stays (revoke).
  virtual Status erase_private_key(const std::string& fingerprint) = 0;
  virtual Status insert_rotation(const RotationRecord& rotation) = 0;
  // Removes every certificate and rotation statement (restore); the audit log stays.
  virtual Status delete_all_certificates() = 0;
  virtual Status append_audit(const AuditEntry& entry) = 0;
};

class CertStore {
 public:
  virtual ~CertStore() = default;

  using TxnFn = std::function<Status(CertTxn&)>;
  // Runs `fn` in a read-only snapshot.
  virtual Status read(const TxnFn& fn) = 0;
  // Runs `fn` in one write transaction; commits only when it returns ok.
  virtual Status write(const TxnFn& fn) = 0;

  // A number that changes after every committed write, also by other processes.
  // Cheap enough to poll several times a second.
  virtual Result<int64_t> change_counter() = 0;

  // Human-readable location ("sqlite:/srv/ck.db").
  virtual std::string location() const = 0;
  // Folder where `certmgr -c` writes its backups.
  virtual std::string backup_dir() const = 0;
  // Folder for files that belong beside the store (e.g. the SQLite registry).
  virtual std::string data_dir() const = 0;
};

struct StoreOptions {
  // Create the database and the key-encryption key when missing.
  bool create = true;
  // Fail with "permission denied" unless the store can be written.
  bool require_write = false;
  // Wait this long for another writer before answering kBusy.
  int busy_timeout_ms = 5000;
  // Overrides CERTKEEPER_STORE_KEY_FILE / the default "<db>.kek".
  std::string key_file;
  const Clock* clock = nullptr;  // default: system clock
};

// "sqlite:PATH" (or a bare path) or "postgresql://..." / "postgres://...".
Result<std::unique_ptr<CertStore>> open_cert_store(const std::string& url,
                                                   const StoreOptions& options = {});

// Before a command writes anything (a backup folder, a temporary file): whether this
// user may write the store at `url`, with the error open_cert_store(require_write)
// would give. Opens and creates nothing; PostgreSQL is always ok here.
Status check_store_writable(const std::string& url);

// The default store URL: $CERTKEEPER_STORE, else sqlite:./var/certkeeper.db in a build
// tree and sqlite:/var/lib/certkeeper/certkeeper.db when installed.
std::string default_store_url();

}  // namespace ck::store
