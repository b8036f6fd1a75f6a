#include "common/actor.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>

namespace ck {

std::string current_actor() {
  std::string user;
  if (struct passwd* pw = ::getpwuid(::getuid())) user = pw->pw_name;
  else user = "uid:" + std::to_string(::getuid());
  const char* sudo = std::getenv("SUDO_USER");
  if (sudo && *sudo && user == "root") user = std::string(sudo) + " (via sudo)";
  return user;
}

}  // namespace ck
