#include "common/paths/location.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <vector>

namespace ck::paths {
namespace {

bool is_separator(char c) { return c == '/' || c == '\\'; }

bool is_ipv6(std::string_view s) {
  in6_addr a{};
  return ::inet_pton(AF_INET6, std::string(s).c_str(), &a) == 1;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// libsmbclient percent-decodes the URL it is given (and takes '?' for options), so
// every name goes in encoded: what reaches the share is exactly the name typed.
std::string percent_encode(std::string_view s) {
  static const char* digits = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += digits[c >> 4];
      out += digits[c & 15];
    }
  }
  return out;
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  }
  return true;
}

bool is_drive_path(std::string_view s) {
  return s.size() >= 2 && std::isalpha(static_cast<unsigned char>(s[0])) && s[1] == ':' &&
         (s.size() == 2 || is_separator(s[2]) || s[2] != ':');
}

bool is_unc(std::string_view s) {
  return s.size() >= 3 && is_separator(s[0]) && is_separator(s[1]) && !is_separator(s[2]);
}

Error bad_path(std::string_view given, const std::string& why) {
  return make_error(ErrorKind::kInvalidArgument, "bad path " + std::string(given) + ": " + why);
}

// Splits on '/' and '\', dropping empty and "." components; refuses "..", which would
// climb out of a share or a mapped drive.
// With `url_encoded`, each component is percent-decoded first (an smb:// URL), so the
// checks see the names the share will see.
Result<std::vector<std::string>> components(std::string_view rest, std::string_view given, bool url_encoded = false) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i <= rest.size()) {
    size_t j = i;
    while (j < rest.size() && !is_separator(rest[j])) ++j;
    std::string decoded;
    std::string_view part = rest.substr(i, j - i);
    if (url_encoded) {
      for (size_t k = 0; k < part.size(); ++k) {
        if (part[k] == '%') {
          const bool whole = k + 2 < part.size();
          const int hi = whole ? hex_value(part[k + 1]) : -1;
          const int lo = whole ? hex_value(part[k + 2]) : -1;
          if (hi < 0 || lo < 0) return bad_path(given, "bad %-escape in the URL");
          decoded += static_cast<char>(hi * 16 + lo);
          k += 2;
        } else {
          decoded += part[k];
        }
      }
      if (decoded.find_first_of("/\\") != std::string::npos)
        return bad_path(given, "an escaped separator (%2F, %5C) in the URL");
      part = decoded;
    }
    if (part == "..") return bad_path(given, "'..' is not allowed in a drive or share path");
    for (char c : part) {
      if (static_cast<unsigned char>(c) < 0x20) return bad_path(given, "control character in the path");
    }
    if (!part.empty() && part != ".") out.emplace_back(part);
    i = j + 1;
  }
  return out;
}

std::string join(const std::vector<std::string>& parts, size_t from, char sep) {
  std::string out;
  for (size_t i = from; i < parts.size(); ++i) {
    if (!out.empty()) out += sep;
    out += parts[i];
  }
  return out;
}

Status check_server(std::string_view server, std::string_view given) {
  if (server.empty()) return bad_path(given, "no server name");
  if (server == "." || server == "?") return bad_path(given, "device paths (\\\\.\\ and \\\\?\\) are not supported");
  if (server.find(':') != std::string_view::npos) {
    if (is_ipv6(server)) return ok_status();
    return bad_path(given, "invalid server name '" + std::string(server) +
                               "' (a UNC path names no port: use smb://server:port/… or --smb-port)");
  }
  for (char c : server) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_'))
      return bad_path(given, "invalid character in the server name '" + std::string(server) + "'");
  }
  return ok_status();
}

// \\server\share\dir\file or //server/share/dir/file.
Result<SmbTarget> parse_unc(std::string_view s, std::string_view given) {
  CK_ASSIGN_OR_RETURN(auto parts, components(s.substr(2), given));
  if (parts.size() < 2) return bad_path(given, "a UNC path needs a server and a share (\\\\server\\share\\file)");
  CK_RETURN_IF_ERROR(check_server(parts[0], given));
  SmbTarget t;
  t.server = parts[0];
  t.share = parts[1];
  t.path = join(parts, 2, '/');
  return t;
}

// smb://server[:port]/share/dir/file (no user or password: those come from
// --smb-credentials, never from a path that ends up in logs and argv).
Result<SmbTarget> parse_smb_url(std::string_view s, std::string_view given) {
  std::string_view rest = s.substr(6);
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (size_t at = authority.rfind('@'); at != std::string_view::npos || authority.find(';') != std::string_view::npos) {
    // Never repeat what came before '@': it may be a password.
    const std::string shown = "smb://***@" + std::string(at == std::string_view::npos ? std::string_view() : rest.substr(at + 1));
    return bad_path(shown, "credentials do not belong in the path; use --smb-credentials FILE");
  }
  SmbTarget t;
  std::string_view host = authority, port;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad_path(given, "unclosed '[' in the server name");
    host = authority.substr(1, close - 1);
    if (!is_ipv6(host)) return bad_path(given, "'" + std::string(host) + "' is not an IPv6 address");
    std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') return bad_path(given, "unexpected text after ']'");
    if (!after.empty()) port = after.substr(1);
    if (!after.empty() && port.empty()) return bad_path(given, "invalid port ''");
  } else if (size_t colon = authority.find(':'); colon != std::string_view::npos) {
    if (authority.find(':', colon + 1) != std::string_view::npos)
      return bad_path(given, "an IPv6 address goes in brackets (smb://[::1]/share/file)");
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    if (port.empty()) return bad_path(given, "invalid port ''");
  }
  if (!port.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535)
      return bad_path(given, "invalid port '" + std::string(port) + "'");
    t.port = static_cast<uint16_t>(value);
  }
  CK_RETURN_IF_ERROR(check_server(host, given));
  t.server = std::string(host);
  if (slash == std::string_view::npos) return bad_path(given, "an smb:// path needs a share (smb://server/share/file)");
  CK_ASSIGN_OR_RETURN(auto parts, components(rest.substr(slash + 1), given, /*url_encoded=*/true));
  if (parts.empty()) return bad_path(given, "an smb:// path needs a share (smb://server/share/file)");
  t.share = parts[0];
  t.path = join(parts, 1, '/');
  return t;
}

Result<Location> resolve_root(std::string_view given) {
  Location loc;
  loc.given = std::string(given);
  if (starts_with_ci(given, "smb://")) {
    CK_ASSIGN_OR_RETURN(loc.smb, parse_smb_url(given, given));
  } else if (is_unc(given)) {
    CK_ASSIGN_OR_RETURN(loc.smb, parse_unc(given, given));
  } else if (given.front() == '\\' || given.substr(0, 2) == "/\\") {
    // \\\server, \\x: meant for Windows, never a local file named after it.
    return bad_path(given, "a path starting with '\\' must be a UNC path (\\\\server\\share\\file)");
  } else {
    loc.local = std::string(given);
  }
  return loc;
}

std::string folder_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

}  // namespace

std::string SmbTarget::host(uint16_t default_port) const {
  const std::string name = server.find(':') != std::string::npos ? "[" + server + "]" : server;
  return name + ":" + std::to_string(port ? port : default_port);
}

std::string SmbTarget::share_url(uint16_t default_port) const {
  return "smb://" + host(default_port) + "/" + percent_encode(share) + "/";
}

std::string SmbTarget::url(uint16_t default_port) const { return share_url(default_port) + percent_encode(path); }

std::string SmbTarget::unc_share() const { return "\\\\" + server + "\\" + share; }

Location Location::child(std::string_view name) const {
  Location out = *this;
  out.given = given + (given.empty() || is_separator(given.back()) ? "" : (smb && given.find('\\') != std::string::npos ? "\\" : "/")) + std::string(name);
  if (smb) {
    out.smb->path = smb->path.empty() ? std::string(name) : smb->path + "/" + std::string(name);
  } else {
    out.local = local.empty() ? std::string(name) : (local.back() == '/' ? local : local + "/") + std::string(name);
  }
  return out;
}

Location Location::parent() const {
  Location out = *this;
  if (smb) {
    out.smb->path = folder_of(smb->path);
    std::string inner = out.smb->path;
    std::replace(inner.begin(), inner.end(), '/', '\\');
    out.given = smb->unc_share() + (inner.empty() ? "" : "\\" + inner);
  } else {
    size_t slash = local.rfind('/');
    out.local = slash == std::string::npos ? "." : (slash == 0 ? "/" : local.substr(0, slash));
    out.given = out.local;
  }
  return out;
}

std::string Location::file_name() const {
  const std::string& p = smb ? smb->path : local;
  size_t slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

bool is_network_or_drive_path(std::string_view given) {
  return starts_with_ci(given, "smb://") || is_unc(given) || is_drive_path(given);
}

Status add_drive_mapping(std::string_view letter, std::string_view target, DriveMap& drives) {
  if (letter.size() == 2 && letter[1] == ':') letter = letter.substr(0, 1);
  if (letter.size() != 1 || !std::isalpha(static_cast<unsigned char>(letter[0])))
    return make_error(ErrorKind::kInvalidArgument,
                      "bad drive mapping: '" + std::string(letter) + "' is not a drive letter (D=/mnt/share)");
  if (target.empty())
    return make_error(ErrorKind::kInvalidArgument, "bad drive mapping: drive " + std::string(letter) + ": maps to nothing");
  if (is_drive_path(target))
    return make_error(ErrorKind::kInvalidArgument,
                      "bad drive mapping: drive " + std::string(letter) + ": cannot map to another drive");
  CK_ASSIGN_OR_RETURN(Location root, resolve_root(target));
  if (!root.on_share() && root.local.front() != '/')
    return make_error(ErrorKind::kInvalidArgument, "bad drive mapping: drive " + std::string(letter) +
                                                       ": must map to an absolute folder or a share, not '" +
                                                       std::string(target) + "'");
  drives[static_cast<char>(std::toupper(static_cast<unsigned char>(letter[0])))] = std::string(target);
  return ok_status();
}

Status add_drive_mapping(std::string_view spec, DriveMap& drives) {
  size_t eq = spec.find('=');
  if (eq == std::string_view::npos)
    return make_error(ErrorKind::kInvalidArgument,
                      "bad drive mapping '" + std::string(spec) + "' (expected LETTER=FOLDER, e.g. D=/mnt/share)");
  return add_drive_mapping(spec.substr(0, eq), spec.substr(eq + 1), drives);
}

Result<Location> resolve_location(std::string_view given, const DriveMap& drives) {
  if (given.empty()) return make_error(ErrorKind::kInvalidArgument, "empty path");
  if (!is_drive_path(given)) return resolve_root(given);
  const char letter = static_cast<char>(std::toupper(static_cast<unsigned char>(given[0])));
  auto it = drives.find(letter);
  if (it == drives.end()) {
    return make_error(ErrorKind::kInvalidArgument,
                      std::string("drive ") + letter + ": is not mapped, so " + std::string(given) +
                          " cannot be reached (give --map-drive " + letter + "=/mnt/share or " + letter +
                          "=\\\\server\\share, or a [drives] entry in the config file)");
  }
  CK_ASSIGN_OR_RETURN(Location loc, resolve_root(it->second));
  CK_ASSIGN_OR_RETURN(auto parts, components(given.substr(2), given));
  for (const std::string& part : parts) loc = loc.child(part);
  loc.given = std::string(given);
  return loc;
}

}  // namespace ck::paths
