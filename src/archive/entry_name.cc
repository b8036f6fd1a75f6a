#include "archive/entry_name.h"

#include <string>

namespace ck::archive {
namespace {

Error bad(std::string_view name, const char* why) {
  std::string shown;
  for (char c : name) {
    unsigned char u = static_cast<unsigned char>(c);
    shown += (u < 0x20 || u == 0x7f) ? '?' : c;
  }
  return make_error(ErrorKind::kInvalidArgument, "unsafe entry name \"" + shown + "\": " + why);
}

}  // namespace

Status validate_entry_name(std::string_view name) {
  if (name.empty()) return bad(name, "empty name");
  if (name.size() > 255) return bad(name, "longer than 255 bytes");
  if (name.front() == '/' || name.front() == '\\') return bad(name, "absolute path");
  if (name.size() >= 2 && name[1] == ':') return bad(name, "absolute path");
  for (char c : name) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return bad(name, "control character");
  }
  // Check ".." before folders so the message names the real danger.
  size_t start = 0;
  for (;;) {
    size_t end = name.find_first_of("/\\", start);
    std::string_view part = name.substr(start, end == std::string_view::npos ? end : end - start);
    if (part == "..") return bad(name, "\"..\" component");
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  if (name.back() == '/' || name.back() == '\\') return bad(name, "folder entry");
  if (name.find_first_of("/\\") != std::string_view::npos)
    return bad(name, "entry inside a folder");
  if (name == ".") return bad(name, "\".\" entry");
  return ok_status();
}

}  // namespace ck::archive
