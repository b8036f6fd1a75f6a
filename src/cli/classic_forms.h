// The established single-dash command lines, accepted verbatim and rewritten to the
// long subcommands before parsing:
//   -c P -> generate P        -r P Z -> restore P Z      -re P Z -> restore --no-export P Z
//   -e F -> export-agent-key F  -ine P F -> import P F   -l C -> list-mismatched C
// Global flags may come first (certmgr --store sqlite:/srv/ck.db -c P).
#pragma once

#include <string>
#include <vector>

namespace ck::cli {

// args excludes argv[0]. Returns the rewritten argument list.
std::vector<std::string> translate_classic_forms(const std::vector<std::string>& args);

}  // namespace ck::cli
