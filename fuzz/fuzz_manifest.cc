// manifest.json of a backup (read before any PFX is decrypted).
#include "archive/manifest.h"
#include "fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)ck::archive::parse_manifest(ck::fuzz::as_text(data, size));
  (void)ck::archive::parse_rfc3339(ck::fuzz::as_text(data, size));
  return 0;
}
