// certmgr list-mismatched CSV  (classic: -l CSV; "-" writes to stdout)
// Every endpoint whose pinned fingerprint is not the current certificate's, as CSV
// (DESIGN.md §4). Streams from the registry: a million endpoints never sit in memory.
// A file is written atomically (temporary file, fsync, rename). With --json, "-" prints
// the same rows as one JSON document instead of CSV, and a file target still gets CSV
// while stdout gets a JSON summary (shapes: docs/output.md). On a terminal, stderr shows
// rows written so far.
#include <iostream>
#include <map>

#include "archive/store_files.h"
#include "cli/cli_support.h"
#include "cli/csv_writer.h"
#include "cli/endpoint_counts.h"
#include "cli/mismatched_csv.h"
#include "cli/output.h"
#include "cli/progress.h"
#include "common/clock.h"
#include "common/file_util.h"
#include "registry/endpoint_registry.h"

namespace ck::cli {
namespace {

const std::vector<std::string>& kHeader = mismatched_csv_header();

// The SQLite registry file beside the store, in the form refuse_store_file takes.
std::string registry_location(const GlobalOptions& global) {
  std::string url = store_url(global);
  if (url.rfind("postgres", 0) == 0) return url;
  std::string path = url.rfind("sqlite:", 0) == 0 ? url.substr(7) : url;
  return "sqlite:" + registry::sqlite_registry_path(path);
}

int run_list_mismatched(const std::string& target, GlobalOptions& global) {
  auto store = open_store(global, /*for_write=*/false);
  if (!store.ok()) return fail(store.error());
  std::string current;
  std::map<std::string, store::CertStatus> statuses;
  Status s = (*store)->read([&](store::CertTxn& t) -> Status {
    CK_ASSIGN_OR_RETURN(auto all, t.list());
    for (const auto& r : all) {
      statuses[r.fingerprint] = r.status;
      if (r.status == store::CertStatus::kCurrent) current = r.fingerprint;
    }
    return ok_status();
  });
  if (!s.ok()) return fail(s.error());
  if (current.empty()) return fail(make_error(ErrorKind::kNotFound, "the store has no current certificate (run certmgr -c)"));

  const bool to_stdout = target == "-";
  std::unique_ptr<paths::OutputFile> file;
  std::string shown = target;
  if (!to_stdout) {
    auto where = resolve_path(global, target);
    if (!where.ok()) return fail(where.error());
    for (const std::string& own_file : {(*store)->location(), registry_location(global)}) {
      if (Status own = archive::refuse_store_file(*where, own_file, "write"); !own.ok()) return fail(own.error());
    }
    auto files = path_access(global);
    if (!files.ok()) return fail(files.error());
    auto w = (*files)->create(*where, 0640);
    if (!w.ok()) return fail(w.error());
    file = std::move(w).value();
    shown = where->given;
  }
  // Opened after the output exists, so a bad output path leaves no registry file behind.
  auto registry = registry::open_endpoint_registry(
      store_url(global));
  if (!registry.ok()) return fail(registry.error());

  // Rows written so far, out of the endpoints pinning anything but the current one.
  Progress progress(global, "list-mismatched", "rows", 0, /*also_quiet_if_tty_stdout=*/to_stdout);
  if (progress.enabled()) {
    auto counts = endpoint_counts(global);
    if (counts.ok()) {
      int64_t total = 0;
      for (const auto& [fp, n] : *counts) total += fp == current ? 0 : n;
      progress.set_total(total);
    }
  }
  const bool json_rows = to_stdout && global.json;

  // Buffer rows and flush in chunks: constant memory, few syscalls.
  std::string buffer;
  int64_t rows = 0;
  auto flush = [&]() -> Status {
    if (to_stdout) {
      std::cout << buffer;
      if (!std::cout) return make_error(ErrorKind::kIo, "cannot write to standard output");
    } else {
      CK_RETURN_IF_ERROR(file->write(buffer));
    }
    buffer.clear();
    return ok_status();
  };
  // JSON: {"current": FP, "endpoints": [ROW, ...], "mismatched": N}, streamed.
  buffer = json_rows ? "{\"current\":" + boost::json::serialize(boost::json::value(current)) + ",\"endpoints\":["
                     : csv_row(kHeader);
  s = (*registry)->for_each_mismatched(current, [&](const registry::Endpoint& e) -> Status {
    auto it = statuses.find(e.pinned_fingerprint);
    const char* pinned_status = it == statuses.end() ? "unknown" : store::status_name(it->second);
    const std::string last_seen = format_rfc3339(e.last_seen);
    if (json_rows) {
      if (rows > 0) buffer += ',';
      buffer += boost::json::serialize(boost::json::object{
          {kHeader[0], json_text(e.agent_id)},           {kHeader[1], json_text(e.hostname)},
          {kHeader[2], json_text(e.ip_address)},         {kHeader[3], json_text(e.domain)},
          {kHeader[4], json_text(e.pinned_fingerprint)}, {kHeader[5], pinned_status},
          {kHeader[6], last_seen},                       {kHeader[7], json_text(e.agent_version)}});
    } else {
      append_mismatched_csv_row(buffer, e, pinned_status);
    }
    ++rows;
    progress.update(rows);
    if (buffer.size() >= (1 << 16)) return flush();
    return ok_status();
  });
  if (s.ok() && json_rows) buffer += "],\"mismatched\":" + std::to_string(rows) + "}\n";
  if (s.ok()) s = flush();
  progress.finish();
  if (s.ok() && file) s = file->commit();
  if (!s.ok()) return fail(s.error());
  if (to_stdout) {
    std::cout.flush();
  } else if (global.json) {
    print_json(boost::json::object{{"path", shown}, {"mismatched", rows}, {"current", current}});
  } else {
    std::cout << rows << " endpoint(s) hold a certificate other than " << current << "; wrote " << shown
              << std::endl;
  }
  return kExitOk;
}

}  // namespace

void add_list_mismatched_command(CLI::App& root, GlobalOptions& global) {
  auto target = std::make_shared<std::string>();
  CLI::App* cmd = root.add_subcommand(
      "list-mismatched", "CSV of endpoints whose pinned certificate is not the current one (classic: -l CSV)");
  cmd->add_option("CSV", *target, "output file, or - for standard output (with --json: the rows as one JSON document)")->required();
  cmd->callback([target, &global] { global.exit_code = run_list_mismatched(*target, global); });
}

}  // namespace ck::cli
