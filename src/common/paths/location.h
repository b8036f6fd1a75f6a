// Where a certmgr path argument points (DESIGN.md §10): a local path, or a file on an
// SMB share named as \\server\share\dir\file, //server/share/dir/file or
// smb://server[:port]/share/dir/file, or a drive path D:\dir\file resolved through a
// drive map to a local folder or a share. A drive or share path is never taken for a
// local file name. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace ck::paths {

struct SmbTarget {
  std::string server;
  uint16_t port = 0;   // 0: the client's default (--smb-port, else 445)
  std::string share;
  std::string path;    // inside the share, '/'-separated, no leading '/'; "" is the share root

  // smb://server:port/share/path, percent-encoded: the form libsmbclient opens.
  std::string url(uint16_t default_port) const;
  // server:port ([v6]:port), for messages and the server-level probe.
  std::string host(uint16_t default_port) const;
  // smb://server[:port]/share/, the share root.
  std::string share_url(uint16_t default_port) const;
  // \\server\share, for messages.
  std::string unc_share() const;
};

struct Location {
  std::string given;               // as the administrator typed it, for messages
  std::optional<SmbTarget> smb;    // set: on a share
  std::string local;               // otherwise: the local path

  bool on_share() const { return smb.has_value(); }
  // The location of `name` inside this folder.
  Location child(std::string_view name) const;
  // The folder holding this location (for a share path, within the share).
  Location parent() const;
  // The last path component ("" for a share root).
  std::string file_name() const;
};

// Drive letter (upper case) -> what it maps to: a local folder, or a UNC/smb:// root.
using DriveMap = std::map<char, std::string>;

// Adds "D=/mnt/share" (or "D:=\\server\share\dir") to `drives`; kInvalidArgument on a
// malformed mapping. A later mapping of the same letter replaces an earlier one.
Status add_drive_mapping(std::string_view spec, DriveMap& drives);
// The same check for one letter and target (the config file's [drives] table).
Status add_drive_mapping(std::string_view letter, std::string_view target, DriveMap& drives);

// Resolves a path argument. kInvalidArgument for a malformed network path, a '..'
// component in a drive or share path, or a drive letter that is not mapped.
Result<Location> resolve_location(std::string_view given, const DriveMap& drives);

// True when `given` names a drive path or a share (what resolve_location would not
// hand to the local file system as it is).
bool is_network_or_drive_path(std::string_view given);

}  // namespace ck::paths
