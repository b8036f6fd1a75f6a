// Process hardening for programs that hold private keys in memory (certkeeper-server
// keeps every non-revoked signing key; certmgr decrypts keys): no core dumps, and not
// dumpable (no core file even when a limit is raised later, /proc/PID/mem and ptrace
// closed to other processes of the same user). Call first thing in main(), before any
// key is loaded and before threads start.
#pragma once

#include "common/result.h"

namespace ck {

// setrlimit(RLIMIT_CORE, {0, 0}) and prctl(PR_SET_DUMPABLE, 0). Both are attempted;
// errors (kInternal) name the call that failed.
Status disable_core_dumps();

}  // namespace ck
