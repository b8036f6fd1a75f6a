// Descriptor limits: a server holding one connection per agent needs far more than the
// usual soft limit of 1,024. Raises the soft RLIMIT_NOFILE to the hard limit.
#pragma once

#include <cstdint>

namespace ck {

// Raises the soft limit on open files to the hard limit (when lower) and returns the
// soft limit now in force.
uint64_t raise_open_file_limit();

}  // namespace ck
