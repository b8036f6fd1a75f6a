// Test helpers for the agent state machine: a movable clock, keys with certificates,
// signed commands and rotation chains, and byte snapshots of an install folder.
// Test-only; not thread-safe.
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "common/clock.h"
#include "crypto/jws.h"
#include "crypto/key.h"
#include "crypto/rotation_statement.h"
#include "crypto/x509.h"

namespace ck::agent::testing {

class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t t) : t_(t) {}
  int64_t now() const override { return t_; }
  void advance(int64_t s) { t_ += s; }

 private:
  int64_t t_;
};

struct KeyCert {
  crypto::PrivateKey key;
  crypto::Certificate cert;
};

inline KeyCert make_key_cert(int64_t now, crypto::Algorithm alg = crypto::Algorithm::kEcdsaP256) {
  auto key = crypto::PrivateKey::generate(alg);
  EXPECT_TRUE(key.ok());
  auto cert = crypto::Certificate::make_self_signed(*key, "certkeeper authentication", 30, now);
  EXPECT_TRUE(cert.ok());
  return KeyCert{std::move(key).value(), std::move(cert).value()};
}

struct Command {
  std::string command = "ping";
  boost::json::object args;
  std::string aud;
  std::string jti;
  int64_t seq = 1;
  int64_t iat = 0;
  int64_t exp = 0;
};

inline boost::json::object command_payload(const Command& c) {
  return boost::json::object{{"typ", "command"}, {"aud", c.aud},   {"iat", c.iat},
                             {"exp", c.exp},     {"jti", c.jti},   {"seq", c.seq},
                             {"cmd", c.command}, {"args", c.args}};
}

inline std::string sign(const crypto::PrivateKey& key, const boost::json::object& payload) {
  auto jws = crypto::jws_sign(key, payload);
  EXPECT_TRUE(jws.ok());
  return jws.ok() ? *jws : std::string();
}

inline crypto::SignedRotation rotate(const KeyCert& from, const KeyCert& to, int64_t n, int64_t iat) {
  auto r = crypto::sign_rotation(from.key, to.key, to.cert, n, iat);
  EXPECT_TRUE(r.ok());
  return r.ok() ? *r : crypto::SignedRotation{};
}

inline std::string checkin_body(const std::string& current,
                                const std::vector<crypto::SignedRotation>& links,
                                const std::vector<std::string>& messages) {
  boost::json::array rots, msgs;
  for (const auto& l : links) rots.push_back(boost::json::object{{"by_old", l.by_old}, {"by_new", l.by_new}});
  for (const auto& m : messages) msgs.emplace_back(m);
  return boost::json::serialize(boost::json::object{
      {"current_fingerprint", current}, {"rotations", rots}, {"messages", msgs}});
}

inline std::string make_temp_dir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "ck-agent-XXXXXX").string();
  char* d = ::mkdtemp(tmpl.data());
  EXPECT_NE(d, nullptr);
  return tmpl;
}

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void spit(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

// Every regular file of `dir` with its bytes.
inline std::map<std::string, std::string> snapshot(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.is_regular_file()) files[e.path().filename().string()] = slurp(e.path().string());
  }
  return files;
}

}  // namespace ck::agent::testing
