// The durable outbox (DESIGN.md §5, §7): server-initiated messages waiting for
// delivery, in the store's own database (SQLite file or PostgreSQL), so a server
// restart loses nothing and every server sharing the database delivers them.
//
// - add() gives each message the next value of one counter kept in the database
//   (`seq` = max(counter + 1, wall clock in microseconds)). Adds are serialized
//   (SQLite: BEGIN IMMEDIATE; PostgreSQL: the counter row's lock, held to commit), so
//   messages become visible in seq order and a reader that has seen seq N has seen
//   every message below N. Following the clock keeps seq above every sequence number
//   the earlier clock-based per-server counter handed out (it never ran more than a
//   few messages ahead of the clock), so agents installed before the outbox accept.
// - `seq` is the JWS "seq" of the message for every agent it reaches, whichever server
//   signs it, so seq is strictly increasing per agent by construction and never
//   derived from what a client reports.
// - A message stays until it expires (prune() deletes it later); what an agent has
//   already accepted is known from the last_seq it reports, not stored here.
//
// Thread-safety: implementations are thread-safe (one connection behind a mutex).
#pragma once

#include <boost/json.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace ck::outbox {

// The audience of a broadcast (never a valid agent id).
inline constexpr std::string_view kBroadcast = "all";
// What one read returns at most (the rest comes with the next read).
inline constexpr size_t kMaxBatch = 10000;
// Unexpired messages one audience (an agent, or "all") may have at once: what one
// agent can be owed stays bounded (at most twice this), well inside a channel's frame
// budget and a check-in answer.
inline constexpr int64_t kMaxPendingPerAudience = 256;

struct Message {
  int64_t seq = 0;           // assigned by add()
  std::string jti;           // 32 lowercase hex digits, unique
  std::string command;       // "ping" | "set-policy" | "run-scan"
  boost::json::object args;  // command arguments
  std::string audience;      // an agent id, or kBroadcast
  int64_t iat = 0;           // unix seconds
  int64_t exp = 0;           // unix seconds; not delivered from then on
  std::string issued_by;     // who asked (OS user or "admin-api"), for the log

  bool is_broadcast() const { return audience == kBroadcast; }
  bool for_agent(std::string_view agent_id) const { return is_broadcast() || audience == agent_id; }
};

class Outbox {
 public:
  virtual ~Outbox() = default;

  // Appends `m` (its seq is ignored) and returns it with its seq. The message is
  // durable when this returns. Errors: kConflict (jti already used), kBusy (the store
  // is busy, or kMaxPendingPerAudience unexpired messages for that audience already),
  // kIo, kUnavailable.
  virtual Result<Message> add(Message m) = 0;

  // Messages with seq > `after` and exp > `now`, by seq ascending, at most `limit`.
  virtual Result<std::vector<Message>> since(int64_t after, int64_t now, size_t limit = kMaxBatch) = 0;

  // The highest seq assigned so far (the counter's value): cheap and pollable; it
  // changes exactly when a message was added.
  virtual Result<int64_t> last_seq() = 0;

  // Deletes messages that expired at or before `before`. Returns how many.
  virtual Result<int64_t> prune(int64_t before) = 0;

  // "sqlite:/srv/ck.db" or the redacted PostgreSQL URL.
  virtual std::string location() const = 0;
};

// The store's URL picks the backend ("sqlite:PATH" -> the store's database file,
// which must exist; "postgresql://..." -> the same database). Creates the outbox
// table when missing (a migration to schema version 2), which needs write access.
Result<std::unique_ptr<Outbox>> open_outbox(const std::string& store_url);

// In memory, for unit tests of the server core. The counter starts at `first_seq`.
std::unique_ptr<Outbox> make_memory_outbox(int64_t first_seq = 1);

// A message issued now: a random 128-bit jti, iat = now, exp = now + lifetime.
Message new_message(std::string command, boost::json::object args, std::string audience, int64_t now,
                    int64_t lifetime_seconds);

// Where PostgreSQL servers are woken: NOTIFY/LISTEN channel name.
inline constexpr std::string_view kNotifyChannel = "certkeeper_outbox";

// The wall clock in microseconds: the first seq of a new outbox.
int64_t initial_seq();

}  // namespace ck::outbox
