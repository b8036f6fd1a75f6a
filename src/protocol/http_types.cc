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

}  // namespace ck::protocol
