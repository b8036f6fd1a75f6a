#include "crypto/openssl_error.h"

#include <openssl/err.h>

namespace ck::crypto {

Error openssl_error(const std::string& what, ErrorKind kind) {
  std::string reasons;
  unsigned long code;
  while ((code = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    const char* reason = ERR_reason_error_string(code);
    if (!reasons.empty()) reasons += "; ";
    reasons += reason ? reason : buf;
  }
  return Error{kind, reasons.empty() ? what : what + " (" + reasons + ")"};
}

void clear_openssl_errors() { ERR_clear_error(); }

}  // namespace ck::crypto
