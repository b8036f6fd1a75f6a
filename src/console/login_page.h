// The console's login page: the only page served without a session. Plain HTML from
// the server (no script, no style: it must work before any asset may be fetched).
#pragma once

#include <string>

namespace ck::console {

enum class LoginPage {
  kAsk,      // how to get a login link
  kRefused,  // a link already used or expired
};

std::string login_page_html(LoginPage which);

}  // namespace ck::console
