// A file being written all-or-nothing: chunks go to a temporary file beside the target
// (on the same share, for a network path); commit() puts it in place with one rename.
// Destroyed without commit, the temporary file is removed. One thread at a time.
#pragma once

#include <string_view>

#include "common/result.h"

namespace ck::paths {

class OutputFile {
 public:
  virtual ~OutputFile() = default;
  virtual Status write(std::string_view data) = 0;
  virtual Status commit() = 0;
};

}  // namespace ck::paths
