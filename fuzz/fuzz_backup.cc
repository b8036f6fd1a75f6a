// certmgr -r/-re/verify-backup: a backup ZIP (WinZip AES, ZipCrypto, deflate), its
// manifest, the PFX files inside and the rotation statements, all from the archive.
// The password is fixed: the seeds are encrypted with it.
#include "archive/backup_reader.h"
#include "crypto/pkcs12.h"
#include "fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool init = [] {
    ck::crypto::load_legacy_provider();
    return true;
  }();
  (void)init;
  (void)ck::archive::decode_backup(ck::fuzz::as_text(data, size), "Fuzz-Seed-Password-2026!");
  return 0;
}
