// certmgr -ine: a PKCS#12 file from anywhere. First line of the input is the password.
#include "crypto/pkcs12.h"
#include "fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool init = [] {
    ck::crypto::load_legacy_provider();
    return true;
  }();
  (void)init;
  auto fields = ck::fuzz::split(ck::fuzz::as_text(data, size), '\n', 2);
  if (fields.size() < 2) return 0;
  (void)ck::crypto::read_pkcs12(fields[1], fields[0]);
  return 0;
}
