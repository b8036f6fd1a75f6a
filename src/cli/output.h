// How certmgr speaks besides its result: warnings and notes on stderr (silenced by
// --quiet), and text read from the store made safe to print, so a stored string can
// neither forge output lines nor send terminal control sequences.
#pragma once

#include <boost/json.hpp>

#include <string>
#include <string_view>

#include "cli/command.h"

namespace ck::cli {

// "certmgr: warning: <message>" on stderr, one line, unless --quiet.
void warn(const GlobalOptions& global, std::string_view message);

// One field of a text line: control characters (tab and newline included), C1 controls
// and invalid UTF-8 written as \t, \n, \xNN; everything else as it is.
std::string text_field(std::string_view text);

// A JSON string holding `text`, with invalid UTF-8 replaced by U+FFFD (JSON strings are
// Unicode; the serializer escapes control characters).
boost::json::string json_text(std::string_view text);

}  // namespace ck::cli
