// The one parser of store URLs (DESIGN.md §6): "sqlite:PATH" (or a bare PATH) or
// "postgresql://..." / "postgres://...". Pure; thread-safe.
#pragma once

#include <string>

#include "common/result.h"

namespace ck::store {

struct StoreUrl {
  bool postgres = false;
  std::string sqlite_path;  // when !postgres
  std::string pg_url;       // when postgres (may carry a password: redact before showing)
};

// Errors: kInvalidArgument for an empty SQLite path.
Result<StoreUrl> parse_store_url(const std::string& url);

}  // namespace ck::store
