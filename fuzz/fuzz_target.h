// Shared by every fuzz target: the libFuzzer entry point, and helpers to split one
// input into several fields. A target must never crash, leak, hang or trip a sanitizer
// on any input; errors as values are the expected outcome.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace ck::fuzz {

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Fields separated by `sep`; at most `max_fields` (the rest stays in the last field).
inline std::vector<std::string> split(std::string_view in, char sep, size_t max_fields) {
  std::vector<std::string> out;
  while (out.size() + 1 < max_fields) {
    size_t at = in.find(sep);
    if (at == std::string_view::npos) break;
    out.emplace_back(in.substr(0, at));
    in.remove_prefix(at + 1);
  }
  out.emplace_back(in);
  return out;
}

}  // namespace ck::fuzz
