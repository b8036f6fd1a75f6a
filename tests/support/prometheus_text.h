// Test support: reads a Prometheus text exposition (format 0.0.4) into metric families,
// strictly enough to check our own /metrics (HELP and TYPE before samples, samples of a
// family together, escaped label values). Header-only; used by src/server/metrics_test.cc
// and tests/metrics_promtool_test.cc.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace ck::testing {

struct PromSample {
  std::string name;                           // e.g. certkeeper_registry_batch_size_bucket
  std::map<std::string, std::string> labels;  // unescaped values
  std::string value;
};

struct PromFamily {
  std::string name;
  std::string type;  // counter, gauge, histogram, summary, untyped
  std::string help;  // as written (escapes kept)
  std::vector<PromSample> samples;
};

struct PromExposition {
  std::vector<PromFamily> families;
  std::vector<std::string> errors;  // one line each; empty when the text is well formed

  const PromFamily* find(std::string_view name) const {
    for (const auto& f : families) {
      if (f.name == name) return &f;
    }
    return nullptr;
  }
};

namespace prom_detail {

inline bool sample_belongs(const PromFamily& f, std::string_view sample) {
  if (sample == f.name) return true;
  if (f.type != "histogram" && f.type != "summary") return false;
  for (std::string_view suffix : {"_bucket", "_sum", "_count"}) {
    if (f.type == "summary" && suffix == "_bucket") continue;
    if (sample.size() == f.name.size() + suffix.size() && sample.starts_with(f.name) &&
        sample.ends_with(suffix)) {
      return true;
    }
  }
  return false;
}

// name{k="v",...} value  ->  sample; false when malformed.
inline bool parse_sample(std::string_view line, PromSample& out) {
  size_t i = 0;
  while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
  out.name = std::string(line.substr(0, i));
  if (out.name.empty()) return false;
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (i < line.size() && line[i] != '}') {
      size_t eq = line.find('=', i);
      if (eq == std::string_view::npos || eq + 1 >= line.size() || line[eq + 1] != '"')
        return false;
      std::string key(line.substr(i, eq - i));
      std::string value;
      size_t j = eq + 2;
      for (; j < line.size() && line[j] != '"'; ++j) {
        if (line[j] == '\\') {
          if (++j >= line.size()) return false;
          char c = line[j];
          if (c == 'n') {
            value += '\n';
          } else if (c == '\\' || c == '"') {
            value += c;
          } else {
            return false;  // no other escapes exist in label values
          }
        } else {
          value += line[j];
        }
      }
      if (j >= line.size()) return false;
      if (key.empty() || out.labels.count(key)) return false;
      out.labels[key] = value;
      i = j + 1;
      if (i < line.size() && line[i] == ',') ++i;
    }
    if (i >= line.size()) return false;
    ++i;  // '}'
  }
  if (i >= line.size() || line[i] != ' ') return false;
  out.value = std::string(line.substr(i + 1));
  return !out.value.empty() && out.value.find(' ') == std::string::npos;
}

}  // namespace prom_detail

inline PromExposition parse_prometheus_text(std::string_view text) {
  PromExposition e;
  size_t line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    if (nl == std::string_view::npos) {
      e.errors.push_back("the text does not end with a newline");
      nl = text.size();
    }
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(std::min(nl + 1, text.size()));
    ++line_no;
    const std::string where = "line " + std::to_string(line_no) + ": ";
    if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) {
      std::string_view rest = line.substr(7);
      size_t sp = rest.find(' ');
      std::string name(rest.substr(0, sp));
      std::string arg(sp == std::string_view::npos ? "" : rest.substr(sp + 1));
      PromFamily* f = e.families.empty() ? nullptr : &e.families.back();
      if (!f || f->name != name) {
        if (e.find(name)) e.errors.push_back(where + name + " appears in two places");
        e.families.push_back(PromFamily{name, "", "", {}});
        f = &e.families.back();
      } else if (!f->samples.empty()) {
        e.errors.push_back(where + "HELP/TYPE after samples of " + name);
      }
      if (line[2] == 'H') {
        f->help = arg;
      } else {
        if (!f->type.empty()) e.errors.push_back(where + "second TYPE for " + name);
        f->type = arg;
      }
      continue;
    }
    if (line.empty() || line.starts_with("#")) continue;
    PromSample s;
    if (!prom_detail::parse_sample(line, s)) {
      e.errors.push_back(where + "malformed sample: " + std::string(line));
      continue;
    }
    if (e.families.empty() || !prom_detail::sample_belongs(e.families.back(), s.name)) {
      e.errors.push_back(where + "sample " + s.name + " is not under its family's HELP and TYPE");
      continue;
    }
    e.families.back().samples.push_back(std::move(s));
  }
  return e;
}

}  // namespace ck::testing
