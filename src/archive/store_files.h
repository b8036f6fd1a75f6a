// The files that make up a store on disk, so archive paths never collide with them.
// Pure functions; thread-safe.
#pragma once

#include <string>

#include "common/paths/location.h"
#include "common/result.h"

namespace ck::archive {

// kConflict when `path` is (or, through links, resolves to) the SQLite database named
// by `store_location` ("sqlite:PATH" or a bare path) or one of its companion files
// (-wal, -shm, -journal, .kek). Other locations (PostgreSQL) have no local files.
Status refuse_store_file(const std::string& path, const std::string& store_location,
                         const char* verb);

// The same for a resolved path argument; a file on a share is never a store file.
Status refuse_store_file(const paths::Location& where, const std::string& store_location, const char* verb);

}  // namespace ck::archive
