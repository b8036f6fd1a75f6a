// The established command lines (-c P, -r P Z, -re P Z, -e F, -ine P F, -l C) rewritten
// to subcommands. Input: arguments separated by NUL bytes.
#include <cstdlib>
#include <map>

#include "cli/classic_forms.h"
#include "fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto args = ck::fuzz::split(ck::fuzz::as_text(data, size), '\0', 64);
  auto out = ck::cli::translate_classic_forms(args);
  // The rewrite replaces at most one flag (by up to two words) and may add "--"; it
  // never drops a password or a path.
  if (out.size() < args.size() || out.size() > args.size() + 2) std::abort();
  std::map<std::string, int> count;
  for (const auto& a : out) ++count[a];
  int replaced = 0;
  for (const auto& a : args) {
    if (--count[a] < 0) ++replaced;
  }
  if (replaced > 1) std::abort();
  return 0;
}
