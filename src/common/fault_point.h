// Named crash points for the crash-safety tests (issue 12).
//
// fault_point("generate.committed") marks a step of an operation. In a build with
// CK_FAULT_INJECTION (the development presets; off by default, so never in a package),
// and not in a setuid process, two environment variables act on it:
//   CK_FAULT_TRACE=FILE  appends each point reached to FILE, one name per line, so a
//                        test can enumerate an operation's steps;
//   CK_FAULT_AT=NAME[#K] kills the process with SIGKILL the K-th time (default 1st)
//                        NAME is reached: a real, unclean death at that exact step.
// Without CK_FAULT_INJECTION the function does nothing and the variables are ignored.
#pragma once

#include <string_view>

namespace ck {

void fault_point(std::string_view name);

}  // namespace ck
