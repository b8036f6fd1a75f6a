// Who is acting, for the audit log: the invoking OS user (SUDO_USER when elevated).
#pragma once

#include <string>

namespace ck {

std::string current_actor();

}  // namespace ck
