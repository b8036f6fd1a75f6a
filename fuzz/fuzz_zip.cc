// The ZIP layer alone (structure, names, sizes, WinZip AES, ZipCrypto, inflate), so the
// fuzzer need not get a whole backup right to reach it.
#include "archive/zip_reader.h"
#include "fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)ck::archive::read_zip_entries(ck::fuzz::as_text(data, size), "Fuzz-Seed-Password-2026!");
  return 0;
}
