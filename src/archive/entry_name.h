// Validation of ZIP entry names: a backup is a flat list of files.
// Pure functions; thread-safe.
#pragma once

#include <string_view>

#include "common/result.h"

namespace ck::archive {

// Refuses (kInvalidArgument, naming the entry) absolute paths ("/x", "C:x", "\\x"),
// ".." or "." components, folders (any '/' or '\\'), empty names, control characters
// and names longer than 255 bytes.
Status validate_entry_name(std::string_view name);

}  // namespace ck::archive
