// Who may see the web console (docs/console.md): one-time login tokens, handed out
// over the admin socket (`certmgr console-url`), traded for a session cookie.
//
//   token:   32 random bytes, base64url (43 characters); valid once, for token_ttl
//            (5 minutes); only its SHA-256 is kept, compared with CRYPTO_memcmp.
//   session: a new random 32-byte cookie value per login, and a CSRF token of its own
//            (for POST /api/commands); ends 8 h after login or 30 min after its last
//            request, whichever comes first. At most 64 sessions: a new login drops
//            the oldest. A session remembers who asked for its login link (the
//            admin socket's peer), for the audit log.
//
// Everything is in this process's memory: a restart logs every browser out.
// Thread-safe (one mutex; the sets are small, so lookups compare against every entry
// in constant time rather than index by secret).
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"

namespace ck::console {

struct AuthLimits {
  int64_t token_ttl_seconds = 300;
  int64_t session_absolute_seconds = 8 * 3600;
  int64_t session_idle_seconds = 30 * 60;
  size_t max_sessions = 64;
  size_t max_pending_tokens = 64;  // unused tokens kept at most (oldest dropped)
};

// A live session, as the request handlers see it.
struct SessionView {
  std::string id;  // SHA-256 of the cookie value: names the session without being it
  std::string csrf_token;
  std::string user;        // who asked for the login link ("" when unknown)
  int64_t expires_at = 0;  // unix seconds: the earlier of the absolute and idle ends
};

// The cookie value a login creates.
struct NewSession {
  std::string cookie;
  int64_t max_age_seconds = 0;
};

class ConsoleAuth {
 public:
  explicit ConsoleAuth(AuthLimits limits = {}, const Clock* clock = nullptr);

  // A new one-time login token (base64url of 32 random bytes), asked for by `user`
  // (carried to the session it is traded for).
  std::string issue_token(std::string user = "");
  // Trades a token for a new session; nullopt when the token is unknown, used or
  // expired. A token works once, whatever the outcome of the request.
  std::optional<NewSession> redeem(const std::string& token);
  // The session a cookie value names (refreshing its idle timer), or nullopt.
  std::optional<SessionView> session(const std::string& cookie);
  // Whether the session with this id (SessionView::id) is still valid: not expired,
  // not dropped for a newer one. Does not refresh its idle timer.
  bool alive(const std::string& id);
  // Whether `csrf` is the CSRF token of the session `cookie` names (constant time).
  bool csrf_ok(const std::string& cookie, const std::string& csrf);

  const AuthLimits& limits() const { return limits_; }

 private:
  struct Token {
    std::string hash;  // SHA-256 of the token
    int64_t expires_at;
    std::string user;
  };
  struct Session {
    std::string hash;  // SHA-256 of the cookie value
    std::string csrf_token;
    int64_t created_at;
    int64_t last_used;
    std::string user;
  };
  // The session with this cookie hash, after dropping expired ones; mu_ held.
  Session* find_locked(const std::string& cookie, int64_t now);
  int64_t expires_at(const Session& s) const;

  const AuthLimits limits_;
  const Clock* clock_;
  std::mutex mu_;
  std::vector<Token> tokens_;      // guarded by mu_
  std::vector<Session> sessions_;  // guarded by mu_, oldest first
};

}  // namespace ck::console
