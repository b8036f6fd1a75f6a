#include "common/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace ck {
namespace {

// Length of the valid UTF-8 sequence at s[i] (no overlongs, surrogates or > U+10FFFF), or 0.
size_t utf8_length(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  size_t n;
  unsigned char lo = 0x80, hi = 0xbf;  // bounds of the second byte
  if (c >= 0xc2 && c <= 0xdf) n = 2;
  else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    if (c == 0xe0) lo = 0xa0;
    if (c == 0xed) hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    if (c == 0xf0) lo = 0x90;
    if (c == 0xf4) hi = 0x8f;
  } else {
    return 0;
  }
  if (i + n > s.size() || b(1) < lo || b(1) > hi) return 0;
  for (size_t k = 2; k < n; ++k)
    if (b(k) < 0x80 || b(k) > 0xbf) return 0;
  return n;
}

// Cuts at max_bytes without splitting a UTF-8 sequence; says how much was dropped.
std::string_view bounded(std::string_view text, size_t max_bytes, size_t* dropped) {
  *dropped = 0;
  if (text.size() <= max_bytes) return text;
  size_t cut = max_bytes;
  for (size_t k = 0; k < 3 && cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xc0) == 0x80; ++k) --cut;
  *dropped = text.size() - cut;
  return text.substr(0, cut);
}

template <typename Out>
void escape_into(std::string_view s, bool json, Out& out) {
  static const char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const char* esc = nullptr;
    switch (c) {
      case '"': esc = json ? "\\\"" : nullptr; break;
      case '\\': esc = json ? "\\\\" : nullptr; break;
      case '\n': esc = "\\n"; break;
      case '\r': esc = "\\r"; break;
      case '\t': esc = "\\t"; break;
      default: break;
    }
    if (esc) {
      out.append(esc, esc + std::char_traits<char>::length(esc));
      ++i;
      continue;
    }
    const char u_escape[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
    const char x_escape[] = {'\\', 'x', kHex[c >> 4], kHex[c & 15]};
    size_t n = (c < 0x20 || c == 0x7f) ? 0 : utf8_length(s, i);
    // C1 controls (U+0080-U+009F) act on terminals: escape them in text logs too.
    if (!json && n == 2 && c == 0xc2 && static_cast<unsigned char>(s[i + 1]) <= 0x9f) n = 0;
    if (n == 0) {
      // A control byte: \u00XX (JSON) or \xNN. A byte that is not valid UTF-8: U+FFFD (JSON
      // strings must be valid Unicode) or \xNN.
      static const char kReplacement[] = "\\ufffd";
      if (!json) out.append(x_escape, x_escape + 4);
      else if (c < 0x80) out.append(u_escape, u_escape + 6);
      else out.append(kReplacement, kReplacement + 6);
      ++i;
      continue;
    }
    out.append(s.data() + i, s.data() + i + n);
    i += n;
  }
}

template <typename Out>
void write_bounded(std::string_view payload, bool json, Out& out) {
  size_t dropped = 0;
  escape_into(bounded(payload, kMaxLogMessageBytes, &dropped), json, out);
  if (dropped) {
    const std::string note = "... (" + std::to_string(dropped) + " more bytes)";
    out.append(note.data(), note.data() + note.size());
  }
}

// %* : the message, escaped for a JSON string or for one text line, and bounded.
class EscapedMessage final : public spdlog::custom_flag_formatter {
 public:
  explicit EscapedMessage(bool json) : json_(json) {}
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    write_bounded(std::string_view(msg.payload.data(), msg.payload.size()), json_, dest);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<EscapedMessage>(json_); }

 private:
  bool json_;
};

// %P : the syslog priority prefix journald turns into the record's level ("<3>" = err).
class SyslogPriority final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    static const char* const kPrefix[] = {"<7>", "<7>", "<6>", "<4>", "<3>", "<2>", "<6>"};  // trace..critical, off
    const char* p = kPrefix[static_cast<int>(msg.level)];
    dest.append(p, p + 3);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<SyslogPriority>(); }
};

// systemd sets JOURNAL_STREAM=DEV:INODE for a service whose stderr is the journal.
bool stderr_is_journal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  struct stat st;
  if (!stream || ::fstat(STDERR_FILENO, &st) != 0) return false;
  unsigned long long dev = 0, ino = 0;
  if (std::sscanf(stream, "%llu:%llu", &dev, &ino) != 2) return false;
  return dev == static_cast<unsigned long long>(st.st_dev) && ino == static_cast<unsigned long long>(st.st_ino);
}

}  // namespace

LogFormat resolve_log_format(const std::string& format) {
  if (format == "text") return LogFormat::kText;
  if (format == "journal") return LogFormat::kJournal;
  if (format == "json") return LogFormat::kJson;
  if (::isatty(STDERR_FILENO)) return LogFormat::kText;
  return stderr_is_journal() ? LogFormat::kJournal : LogFormat::kJson;
}

std::string json_escape(std::string_view text) {
  std::string out;
  escape_into(text, true, out);
  return out;
}

std::string line_escape(std::string_view text) {
  std::string out;
  escape_into(text, false, out);
  return out;
}

std::string log_quote(std::string_view value, size_t max_bytes) {
  size_t dropped = 0;
  std::string out = "\"";
  // Inner quotes and backslashes are escaped too, so the value cannot close its quotes.
  escape_into(bounded(value, max_bytes, &dropped), true, out);
  out += dropped ? "...\"" : "\"";
  return out;
}

void init_logging(const std::string& level, LogFormat format) {
  auto logger = spdlog::get("certkeeper");
  if (!logger) logger = spdlog::stderr_color_mt("certkeeper");
  const bool json = format == LogFormat::kJson;
  auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  formatter->add_flag<EscapedMessage>('*', json);
  formatter->add_flag<SyslogPriority>('P');
  // The journal stamps records itself.
  formatter->set_pattern(json ? R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","msg":"%*"})"
                         : format == LogFormat::kJournal ? "%P%l %*"
                                                         : "%Y-%m-%dT%H:%M:%S.%eZ %l %*");
  logger->set_formatter(std::move(formatter));
  logger->set_level(spdlog::level::from_str(level));
  spdlog::set_default_logger(logger);
}

}  // namespace ck
