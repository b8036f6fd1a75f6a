#include "common/paths/smb_credentials.h"

#include <openssl/crypto.h>

#include "common/file_util.h"

namespace ck::paths {
namespace {

constexpr size_t kMaxCredentialsBytes = 64 * 1024;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

}  // namespace

SmbCredentials::~SmbCredentials() {
  if (!password.empty()) OPENSSL_cleanse(password.data(), password.size());
}

Result<SmbCredentials> parse_smb_credentials(std::string_view text, const std::string& path) {
  SmbCredentials out;
  bool have_user = false, have_password = false;
  size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    size_t nl = text.find('\n');
    std::string_view raw = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#') continue;
    size_t eq = line.find('=');
    const std::string where = path + ":" + std::to_string(line_no);
    if (eq == std::string_view::npos)
      return make_error(ErrorKind::kInvalidArgument, "SMB credentials " + where + ": expected key=value");
    const std::string key = lower(trim(line.substr(0, eq)));
    // The value is everything after '=' (a password may hold spaces), minus CR.
    std::string_view value = raw.substr(raw.find('=') + 1);
    if (!value.empty() && value.back() == '\r') value.remove_suffix(1);
    if (key == "username" || key == "user") {
      std::string_view v = trim(value);
      if (size_t sep = v.find_first_of("\\/"); sep != std::string_view::npos) {
        out.domain = std::string(v.substr(0, sep));
        v = v.substr(sep + 1);
      }
      out.username = std::string(v);
      have_user = true;
    } else if (key == "password" || key == "pass") {
      out.password = std::string(value);
      have_password = true;
    } else if (key == "domain" || key == "dom" || key == "workgroup") {
      out.domain = std::string(trim(value));
    } else {
      return make_error(ErrorKind::kInvalidArgument,
                        "SMB credentials " + where + ": unknown key '" + key + "' (username, password, domain)");
    }
  }
  if (!have_user || out.username.empty())
    return make_error(ErrorKind::kInvalidArgument, "SMB credentials " + path + ": no username= line");
  if (!have_password)
    return make_error(ErrorKind::kInvalidArgument, "SMB credentials " + path + ": no password= line");
  return out;
}

Result<SmbCredentials> read_smb_credentials(const std::string& path) {
  CK_ASSIGN_OR_RETURN(std::string text, read_private_file(path, kMaxCredentialsBytes, "SMB credentials file"));
  auto parsed = parse_smb_credentials(text, path);
  OPENSSL_cleanse(text.data(), text.size());
  return parsed;
}

}  // namespace ck::paths
