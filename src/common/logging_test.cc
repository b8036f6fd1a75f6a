// Whatever a message carries (text from the wire), every log record stays one line, and with
// --log-json one valid JSON object whose "msg" is the message.
#include "common/logging.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>
#include <vector>

namespace ck {
namespace {
namespace json = boost::json;

const std::string kHostile = std::string("agent=\"x\",\"level\":\"forged\" back\\slash\nnext line\r\t") +
                             std::string("nul:") + std::string(1, '\0') + "esc:\x1b[31m del:\x7f" +
                             " bad-utf8:\xff\xfe\xc3 overlong:\xc0\xaf surrogate:\xed\xa0\x80 c1:\xc2\x9b" +
                             " ok:\xc3\xa9\xe2\x82\xac\xf0\x9f\x94\x91 end";

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string log_and_capture(bool json_logs, const std::string& message) {
  init_logging("info", json_logs ? LogFormat::kJson : LogFormat::kText);
  ::testing::internal::CaptureStderr();
  spdlog::info("reply from {} result={}", message, message);
  spdlog::warn("{}", message);
  spdlog::info(std::string(3 * kMaxLogMessageBytes, 'A') + "\xc3\xa9");
  spdlog::default_logger()->flush();
  return ::testing::internal::GetCapturedStderr();
}

TEST(Logging, JsonLinesAreValidJsonForAnyMessage) {
  const std::string out = log_and_capture(true, kHostile);
  auto lines = lines_of(out);
  ASSERT_EQ(lines.size(), 3u) << out;
  for (const std::string& line : lines) {
    boost::system::error_code ec;
    json::value v = json::parse(line, ec);
    ASSERT_FALSE(ec) << ec.message() << ": " << line;
    ASSERT_TRUE(v.is_object()) << line;
    const auto& o = v.as_object();
    EXPECT_EQ(o.size(), 3u) << "an injected field: " << line;
    EXPECT_TRUE(o.at("ts").is_string());
    EXPECT_NE(o.at("level").as_string(), "forged");
  }
  // Printable text, quotes, backslashes and valid UTF-8 come back unchanged; the rest is escaped.
  const std::string msg(json::parse(lines[1]).at("msg").as_string());
  EXPECT_NE(msg.find("agent=\"x\",\"level\":\"forged\" back\\slash\nnext line\r\t"), std::string::npos) << msg;
  EXPECT_NE(msg.find("ok:\xc3\xa9\xe2\x82\xac\xf0\x9f\x94\x91 end"), std::string::npos) << msg;
  EXPECT_NE(msg.find("bad-utf8:\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd overlong:"), std::string::npos) << msg;
  EXPECT_NE(msg.find(std::string("nul:") + std::string(1, '\0') + "esc:\x1b[31m"), std::string::npos);
  // Bounded: a huge message is cut (and says so).
  EXPECT_LT(lines[2].size(), kMaxLogMessageBytes + 200);
  EXPECT_NE(lines[2].find("more bytes"), std::string::npos);
}

TEST(Logging, TextLinesStayOneLinePerRecord) {
  const std::string out = log_and_capture(false, kHostile);
  auto lines = lines_of(out);
  ASSERT_EQ(lines.size(), 3u) << out;
  for (const std::string& line : lines) {
    for (unsigned char c : line) {
      EXPECT_TRUE(c >= 0x20 && c != 0x7f) << "control byte " << int(c) << " in: " << line;
    }
  }
  EXPECT_NE(lines[1].find("back\\slash\\nnext line\\r\\t"), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("c1:\\xc2\\x9b"), std::string::npos) << lines[1];
  EXPECT_LT(lines[2].size(), kMaxLogMessageBytes + 200);
}

// Under systemd the journal reads the "<N>" syslog priority and stamps the time itself.
TEST(Logging, JournalLinesCarryTheSyslogPriority) {
  init_logging("info", LogFormat::kJournal);
  ::testing::internal::CaptureStderr();
  spdlog::info("started {}", "x\ny");
  spdlog::warn("slow");
  spdlog::error("failed");
  spdlog::default_logger()->flush();
  auto lines = lines_of(::testing::internal::GetCapturedStderr());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "<6>info started x\\ny");
  EXPECT_EQ(lines[1], "<4>warning slow");
  EXPECT_EQ(lines[2], "<3>error failed");
}

// auto: text on a terminal, the journal when stderr is the stream $JOURNAL_STREAM names,
// JSON lines otherwise (a pipe or a file, as here under ctest).
TEST(Logging, AutoFormatFollowsWhereStderrGoes) {
  EXPECT_EQ(resolve_log_format("text"), LogFormat::kText);
  EXPECT_EQ(resolve_log_format("json"), LogFormat::kJson);
  EXPECT_EQ(resolve_log_format("journal"), LogFormat::kJournal);
  if (::isatty(STDERR_FILENO)) {
    EXPECT_EQ(resolve_log_format("auto"), LogFormat::kText);
    return;
  }
  ::unsetenv("JOURNAL_STREAM");
  EXPECT_EQ(resolve_log_format("auto"), LogFormat::kJson);
  struct stat st;
  ASSERT_EQ(::fstat(STDERR_FILENO, &st), 0);
  const std::string stream = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  ::setenv("JOURNAL_STREAM", stream.c_str(), 1);
  EXPECT_EQ(resolve_log_format("auto"), LogFormat::kJournal);
  ::setenv("JOURNAL_STREAM", (std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino + 1)).c_str(), 1);
  EXPECT_EQ(resolve_log_format("auto"), LogFormat::kJson) << "another stream: not the journal";
  ::unsetenv("JOURNAL_STREAM");
}

TEST(Logging, QuoteBoundsAndEscapesAValue) {
  EXPECT_EQ(log_quote("abc"), "\"abc\"");
  EXPECT_EQ(log_quote("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
  EXPECT_EQ(log_quote(std::string(300, 'j'), 8), "\"jjjjjjjj...\"");
  // Never cuts inside a UTF-8 character.
  EXPECT_EQ(log_quote("ab\xc3\xa9", 3), "\"ab...\"");
  EXPECT_EQ(json_escape("\xff"), "\\ufffd");
  EXPECT_EQ(line_escape("a\x01" "b"), "a\\x01b");
}

}  // namespace
}  // namespace ck
