#include "common/result.h"

namespace ck {

const char* error_kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidArgument: return "invalid argument";
    case ErrorKind::kNotFound: return "not found";
    case ErrorKind::kPermissionDenied: return "permission denied";
    case ErrorKind::kBusy: return "busy";
    case ErrorKind::kConflict: return "conflict";
    case ErrorKind::kCrypto: return "crypto";
    case ErrorKind::kIo: return "i/o";
    case ErrorKind::kCorrupt: return "corrupt";
    case ErrorKind::kWeakPassword: return "weak password";
    case ErrorKind::kUnavailable: return "unavailable";
    case ErrorKind::kInternal: return "internal";
  }
  return "unknown";
}

}  // namespace ck
