#include "console/auth.h"

#include <algorithm>

#include "crypto/encoding.h"

namespace ck::console {
namespace {

constexpr size_t kSecretBytes = 32;

std::string new_secret() { return crypto::base64url_encode(crypto::random_bytes(kSecretBytes)); }

}  // namespace

ConsoleAuth::ConsoleAuth(AuthLimits limits, const Clock* clock)
    : limits_(limits), clock_(clock ? clock : &system_clock()) {}

std::string ConsoleAuth::issue_token(std::string user) {
  std::string token = new_secret();
  const int64_t now = clock_->now();
  std::lock_guard lock(mu_);
  std::erase_if(tokens_, [&](const Token& t) { return t.expires_at <= now; });
  if (tokens_.size() >= limits_.max_pending_tokens) tokens_.erase(tokens_.begin());
  tokens_.push_back(Token{crypto::sha256(token), now + limits_.token_ttl_seconds, std::move(user)});
  return token;
}

std::optional<NewSession> ConsoleAuth::redeem(const std::string& token) {
  const std::string hash = crypto::sha256(token);
  const int64_t now = clock_->now();
  std::lock_guard lock(mu_);
  // Every entry is compared, so the time taken says nothing about which one matched.
  std::optional<size_t> match;
  for (size_t i = 0; i < tokens_.size(); ++i) {
    if (crypto::constant_time_equal(tokens_[i].hash, hash)) match = i;
  }
  if (!match) return std::nullopt;
  const bool fresh = tokens_[*match].expires_at > now;
  std::string user = std::move(tokens_[*match].user);
  tokens_.erase(tokens_.begin() + static_cast<std::ptrdiff_t>(*match));  // once, whatever happens next
  if (!fresh) return std::nullopt;
  NewSession created{new_secret(), limits_.session_absolute_seconds};
  std::erase_if(sessions_, [&](const Session& s) { return expires_at(s) <= now; });
  while (sessions_.size() >= limits_.max_sessions) sessions_.erase(sessions_.begin());
  sessions_.push_back(Session{crypto::sha256(created.cookie), new_secret(), now, now, std::move(user)});
  return created;
}

int64_t ConsoleAuth::expires_at(const Session& s) const {
  return std::min(s.created_at + limits_.session_absolute_seconds, s.last_used + limits_.session_idle_seconds);
}

ConsoleAuth::Session* ConsoleAuth::find_locked(const std::string& cookie, int64_t now) {
  std::erase_if(sessions_, [&](const Session& s) { return expires_at(s) <= now; });
  if (cookie.empty()) return nullptr;
  const std::string hash = crypto::sha256(cookie);
  Session* found = nullptr;
  for (auto& s : sessions_) {
    if (crypto::constant_time_equal(s.hash, hash)) found = &s;
  }
  return found;
}

std::optional<SessionView> ConsoleAuth::session(const std::string& cookie) {
  const int64_t now = clock_->now();
  std::lock_guard lock(mu_);
  Session* s = find_locked(cookie, now);
  if (!s) return std::nullopt;
  s->last_used = now;
  return SessionView{s->hash, s->csrf_token, s->user, expires_at(*s)};
}

bool ConsoleAuth::alive(const std::string& id) {
  const int64_t now = clock_->now();
  std::lock_guard lock(mu_);
  bool found = false;
  for (const auto& s : sessions_) {
    if (expires_at(s) > now && crypto::constant_time_equal(s.hash, id)) found = true;
  }
  return found;
}

bool ConsoleAuth::csrf_ok(const std::string& cookie, const std::string& csrf) {
  const int64_t now = clock_->now();
  std::lock_guard lock(mu_);
  Session* s = find_locked(cookie, now);
  return s && !csrf.empty() && crypto::constant_time_equal(s->csrf_token, csrf);
}

}  // namespace ck::console
