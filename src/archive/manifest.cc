#include "archive/manifest.h"

#include <boost/json.hpp>
#include <cstdio>
#include <ctime>
#include <set>

#include "common/clock.h"

namespace ck::archive {
namespace json = boost::json;
namespace {

Error bad(const std::string& what) {
  return make_error(ErrorKind::kCorrupt, "manifest.json: " + what);
}

bool is_fingerprint(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

class Fields {
 public:
  Fields(const json::object& o, std::string where) : o_(o), where_(std::move(where)) {}

  Result<const json::value*> get(const char* key) const {
    auto it = o_.find(key);
    if (it == o_.end()) return bad(where_ + ": missing \"" + key + "\"");
    return &it->value();
  }
  Result<std::string> str(const char* key) const {
    CK_ASSIGN_OR_RETURN(const json::value* v, get(key));
    if (!v->is_string()) return bad(where_ + ": \"" + key + "\" is not a string");
    return std::string(v->as_string());
  }
  Result<std::optional<std::string>> str_or_null(const char* key) const {
    CK_ASSIGN_OR_RETURN(const json::value* v, get(key));
    if (v->is_null()) return std::optional<std::string>();
    if (!v->is_string()) return bad(where_ + ": \"" + key + "\" is not a string");
    return std::optional<std::string>(std::string(v->as_string()));
  }
  Result<int64_t> integer(const char* key) const {
    CK_ASSIGN_OR_RETURN(const json::value* v, get(key));
    if (v->is_int64()) return v->as_int64();
    if (v->is_uint64() && v->as_uint64() <= static_cast<uint64_t>(INT64_MAX))
      return static_cast<int64_t>(v->as_uint64());
    return bad(where_ + ": \"" + key + "\" is not an integer");
  }
  Result<int64_t> generation(const char* key) const {
    CK_ASSIGN_OR_RETURN(int64_t n, integer(key));
    if (n < 0) return bad(where_ + ": \"" + key + "\" is negative");
    return n;
  }
  Result<bool> boolean(const char* key) const {
    CK_ASSIGN_OR_RETURN(const json::value* v, get(key));
    if (!v->is_bool()) return bad(where_ + ": \"" + key + "\" is not true or false");
    return v->as_bool();
  }
  Result<int64_t> time(const char* key) const {
    CK_ASSIGN_OR_RETURN(std::string s, str(key));
    auto t = parse_rfc3339(s);
    if (!t.ok()) return bad(where_ + ": \"" + key + "\" is not an RFC 3339 UTC time");
    return *t;
  }
  Result<std::string> fingerprint(const char* key) const {
    CK_ASSIGN_OR_RETURN(std::string s, str(key));
    if (!is_fingerprint(s)) return bad(where_ + ": \"" + key + "\" is not a SHA-256 fingerprint");
    return s;
  }
  Result<const json::array*> array(const char* key) const {
    CK_ASSIGN_OR_RETURN(const json::value* v, get(key));
    if (!v->is_array()) return bad(where_ + ": \"" + key + "\" is not an array");
    return &v->as_array();
  }

 private:
  const json::object& o_;
  std::string where_;
};

Result<ManifestCertificate> parse_certificate(const json::value& v, size_t index) {
  const std::string where = "certificate #" + std::to_string(index + 1);
  if (!v.is_object()) return bad(where + " is not an object");
  Fields f(v.as_object(), where);
  ManifestCertificate c;
  CK_ASSIGN_OR_RETURN(c.fingerprint, f.fingerprint("fingerprint"));
  CK_ASSIGN_OR_RETURN(c.algorithm, f.str("algorithm"));
  CK_ASSIGN_OR_RETURN(c.subject, f.str("subject"));
  CK_ASSIGN_OR_RETURN(std::string status, f.str("status"));
  auto parsed = store::parse_status(status);
  if (!parsed.ok()) return bad(where + ": unknown status \"" + status + "\"");
  c.status = *parsed;
  CK_ASSIGN_OR_RETURN(c.exportable, f.boolean("exportable"));
  CK_ASSIGN_OR_RETURN(c.generation, f.generation("generation"));
  CK_ASSIGN_OR_RETURN(c.created_at, f.time("created_at"));
  CK_ASSIGN_OR_RETURN(c.not_before, f.time("not_before"));
  CK_ASSIGN_OR_RETURN(c.not_after, f.time("not_after"));
  CK_ASSIGN_OR_RETURN(c.has_key, f.boolean("has_key"));
  CK_ASSIGN_OR_RETURN(c.file, f.str_or_null("file"));
  CK_ASSIGN_OR_RETURN(c.certificate_pem, f.str("certificate"));
  if (c.has_key != c.file.has_value()) return bad(where + ": \"has_key\" and \"file\" disagree");
  if (c.file && *c.file != pfx_entry_name(c.fingerprint))
    return bad(where + ": \"file\" is not " + pfx_entry_name(c.fingerprint));
  return c;
}

Result<store::RotationRecord> parse_rotation(const json::value& v, size_t index) {
  const std::string where = "rotation #" + std::to_string(index + 1);
  if (!v.is_object()) return bad(where + " is not an object");
  Fields f(v.as_object(), where);
  store::RotationRecord r;
  CK_ASSIGN_OR_RETURN(r.generation, f.generation("generation"));
  CK_ASSIGN_OR_RETURN(r.from_fingerprint, f.fingerprint("from"));
  CK_ASSIGN_OR_RETURN(r.to_fingerprint, f.fingerprint("to"));
  CK_ASSIGN_OR_RETURN(r.by_old, f.str("by_old"));
  CK_ASSIGN_OR_RETURN(r.by_new, f.str("by_new"));
  CK_ASSIGN_OR_RETURN(r.created_at, f.time("created_at"));
  return r;
}

}  // namespace

std::string pfx_entry_name(const std::string& fingerprint) { return fingerprint + ".pfx"; }

Result<int64_t> parse_rfc3339(std::string_view text) {
  if (text.size() != 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
      text[16] != ':' || text[19] != 'Z')
    return make_error(ErrorKind::kInvalidArgument, "not an RFC 3339 UTC time");
  std::tm tm{};
  const std::string s(text);
  int consumed = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6 ||
      consumed != 20)
    return make_error(ErrorKind::kInvalidArgument, "not an RFC 3339 UTC time");
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  const int64_t t = static_cast<int64_t>(timegm(&tm));
  // Reject out-of-range fields (timegm normalizes "02-31" silently).
  if (format_rfc3339(t) != s)
    return make_error(ErrorKind::kInvalidArgument, "not an RFC 3339 UTC time");
  return t;
}

std::string serialize_manifest(const Manifest& m) {
  json::array certs;
  for (const auto& c : m.certificates) {
    certs.push_back(json::object{{"fingerprint", c.fingerprint},
                                 {"algorithm", c.algorithm},
                                 {"subject", c.subject},
                                 {"status", store::status_name(c.status)},
                                 {"exportable", c.exportable},
                                 {"generation", c.generation},
                                 {"created_at", format_rfc3339(c.created_at)},
                                 {"not_before", format_rfc3339(c.not_before)},
                                 {"not_after", format_rfc3339(c.not_after)},
                                 {"has_key", c.has_key},
                                 {"file", c.file ? json::value(*c.file) : json::value(nullptr)},
                                 {"certificate", c.certificate_pem}});
  }
  json::array rotations;
  for (const auto& r : m.rotations) {
    rotations.push_back(json::object{{"generation", r.generation},
                                     {"from", r.from_fingerprint},
                                     {"to", r.to_fingerprint},
                                     {"by_old", r.by_old},
                                     {"by_new", r.by_new},
                                     {"created_at", format_rfc3339(r.created_at)}});
  }
  json::object root{
      {"format", "certkeeper-backup"},
      {"format_version", m.format_version},
      {"created", format_rfc3339(m.created)},
      {"store", json::object{{"generation", m.store_generation},
                             {"certificates", static_cast<int64_t>(m.certificates.size())}}},
      {"certificates", std::move(certs)},
      {"rotations", std::move(rotations)}};
  return json::serialize(root) + "\n";
}

Result<Manifest> parse_manifest(std::string_view text) {
  json::error_code ec;
  json::value root = json::parse(text, ec);
  if (ec) return bad("not valid JSON (" + ec.message() + ")");
  if (!root.is_object()) return bad("not a JSON object");
  Fields f(root.as_object(), "top level");
  CK_ASSIGN_OR_RETURN(std::string format, f.str("format"));
  if (format != "certkeeper-backup") return bad("not a certkeeper backup manifest");
  Manifest m;
  CK_ASSIGN_OR_RETURN(int64_t version, f.integer("format_version"));
  if (version != kManifestFormatVersion)
    return bad("format version " + std::to_string(version) +
               " is not supported (this certmgr reads " + std::to_string(kManifestFormatVersion) +
               ")");
  m.format_version = static_cast<int>(version);
  CK_ASSIGN_OR_RETURN(m.created, f.time("created"));
  CK_ASSIGN_OR_RETURN(const json::value* store_v, f.get("store"));
  if (!store_v->is_object()) return bad("\"store\" is not an object");
  Fields store_f(store_v->as_object(), "store");
  CK_ASSIGN_OR_RETURN(m.store_generation, store_f.generation("generation"));
  CK_ASSIGN_OR_RETURN(int64_t count, store_f.integer("certificates"));

  CK_ASSIGN_OR_RETURN(const json::array* certs, f.array("certificates"));
  std::set<std::string> seen;
  for (size_t i = 0; i < certs->size(); ++i) {
    CK_ASSIGN_OR_RETURN(ManifestCertificate c, parse_certificate((*certs)[i], i));
    if (!seen.insert(c.fingerprint).second)
      return bad("certificate " + c.fingerprint + " is listed twice");
    m.certificates.push_back(std::move(c));
  }
  if (count != static_cast<int64_t>(m.certificates.size()))
    return bad("\"store\" counts " + std::to_string(count) + " certificates but " +
               std::to_string(m.certificates.size()) + " are listed");
  CK_ASSIGN_OR_RETURN(const json::array* rotations, f.array("rotations"));
  std::set<int64_t> generations;
  for (size_t i = 0; i < rotations->size(); ++i) {
    CK_ASSIGN_OR_RETURN(store::RotationRecord r, parse_rotation((*rotations)[i], i));
    if (!generations.insert(r.generation).second)
      return bad("two rotation statements for generation " + std::to_string(r.generation));
    m.rotations.push_back(std::move(r));
  }
  return m;
}

}  // namespace ck::archive
