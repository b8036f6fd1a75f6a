#include "protocol/http_types.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>

#include "protocol/wire.h"

namespace ck::protocol {

HttpResponse error_response(int status, std::string_view message) {
  HttpResponse r;
  r.status = status;
  r.body = error_body(message);
  return r;
}

HttpResponse method_not_allowed(std::string_view allow) {
  HttpResponse r = error_response(405, "method not allowed (allowed: " + std::string(allow) + ")");
  r.headers.emplace_back("Allow", std::string(allow));
  return r;
}

std::string_view target_path(std::string_view target) {
  size_t q = target.find('?');
  return q == std::string_view::npos ? target : target.substr(0, q);
}

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

bool is_json_content_type(std::string_view content_type) {
  std::string_view media = content_type.substr(0, content_type.find(';'));
  return iequals(trim(media), "application/json");
}

bool is_loopback_host(std::string_view host, uint16_t port) {
  size_t colon = host.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view name = host.substr(0, colon), port_text = host.substr(colon + 1);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port_text.empty() || port == 0 ||
      value != port) {
    return false;
  }
  if (iequals(name, "localhost")) return true;
  if (name.size() > 2 && name.front() == '[' && name.back() == ']') {
    std::string literal(name.substr(1, name.size() - 2));
    in6_addr a6{};
    if (inet_pton(AF_INET6, literal.c_str(), &a6) != 1) return false;
    if (IN6_IS_ADDR_LOOPBACK(&a6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
  }
  std::string literal(name);
  in_addr a4{};
  if (inet_pton(AF_INET, literal.c_str(), &a4) != 1) return false;  // dotted quad only
  return (ntohl(a4.s_addr) >> 24) == 127;
}

}  // namespace ck::protocol
