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
  // sudo -u certkeeper certmgr … (the documented way): keep who ran it. Under root the
  // variable is sudo's; otherwise the caller could have set it, so it reads as a claim.
  if (sudo && *sudo && user == "root") user = std::string(sudo) + " (via sudo)";
  else if (sudo && *sudo && user != sudo) user += " (sudo by " + std::string(sudo) + ")";
  return user;
}

}  // namespace ck
