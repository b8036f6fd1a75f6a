// Logging set-up: spdlog to stderr, structured "key=value" messages. Plain text on a
// terminal; under systemd (stderr is the journal, $JOURNAL_STREAM) text with the syslog
// priority prefix journald reads ("<4>"); JSON lines otherwise, or as asked.
// Never log private keys, passwords or whole PFX/PEM key material.
// Messages may carry text from the wire: the formatter itself keeps every record on one line
// (control bytes and invalid UTF-8 escaped), valid JSON with --log-json, and at most
// kMaxLogMessageBytes of message, so no caller can inject records or fields.
#pragma once

#include <spdlog/spdlog.h>

#include <string>
#include <string_view>
#include <vector>

namespace ck {

inline constexpr size_t kMaxLogMessageBytes = 4096;

// What --log-level accepts.
inline const std::vector<std::string> kLogLevels = {"trace", "debug", "info", "warn", "error", "critical", "off"};
// What --log-format accepts: auto picks text, journal or json by where stderr goes.
inline const std::vector<std::string> kLogFormats = {"auto", "text", "journal", "json"};

enum class LogFormat { kText, kJournal, kJson };

// `format` from --log-format ("auto": text on a terminal, journal when stderr is the
// journal, else json).
LogFormat resolve_log_format(const std::string& format);

// level: one of kLogLevels.
void init_logging(const std::string& level, LogFormat format);

// `text` as the body of a JSON string: " \ and control characters escaped, invalid UTF-8
// replaced by U+FFFD.
std::string json_escape(std::string_view text);

// `text` for a one-line text log: control characters and invalid UTF-8 as \n, \t, \xNN.
std::string line_escape(std::string_view text);

// A value from the wire for a log message: at most max_bytes (then "..."), double-quoted,
// with " \ and control characters escaped (e.g. jti="abc\"def").
std::string log_quote(std::string_view value, size_t max_bytes = 128);

}  // namespace ck
