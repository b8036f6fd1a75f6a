#include "console/login_page.h"

namespace ck::console {

std::string login_page_html(LoginPage which) {
  const std::string message =
      which == LoginPage::kRefused
          ? "This login link was already used or has expired. Run certmgr console-url for a new one."
          : "To log in, run <code>certmgr console-url</code> on the server (as root, the server's user or a member "
            "of its admin group) and open the link it prints. A link works once, within 5 minutes.";
  return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
         "<title>certkeeper console: log in</title>\n</head>\n<body>\n<main data-testid=\"login-page\">\n"
         "<h1>certkeeper console</h1>\n<p data-testid=\"login-message\">" +
         message + "</p>\n</main>\n</body>\n</html>\n";
}

}  // namespace ck::console
