// Messages and rotation statements are plain JWS (RFC 7515 / RFC 8037): an
// independent JOSE library (panva/jose on Node.js, tests/jose) verifies what we sign,
// and refuses it after one byte of the payload changes.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>

#include "common/clock.h"
#include "crypto/encoding.h"
#include "crypto/jws.h"
#include "crypto/rotation_statement.h"
#include "crypto/signature.h"
#include "crypto/x509.h"
#include "support/process.h"

namespace ck {
namespace {
namespace json = boost::json;

std::string spki_pem(const crypto::PublicKey& key) {
  std::string b64 = crypto::base64_encode(key.spki_der());
  std::string pem = "-----BEGIN PUBLIC KEY-----\n";
  for (size_t i = 0; i < b64.size(); i += 64) pem += b64.substr(i, 64) + "\n";
  return pem + "-----END PUBLIC KEY-----\n";
}

class JoseInteropTest : public ::testing::TestWithParam<crypto::Algorithm> {
 protected:
  // Runs tests/jose/verify.mjs; returns {exit code, stdout}.
  testing::ProcessResult jose_verify(const crypto::PublicKey& key, const std::string& jws) {
    const std::string dir = testing::temp_dir();
    std::ofstream(dir + "/key.pem") << spki_pem(key);
    std::ofstream(dir + "/msg.jws") << jws;
    return testing::run({"/usr/bin/node", std::string(CK_SOURCE_DIR) + "/tests/jose/verify.mjs",
                         dir + "/key.pem", crypto::jws_algorithm(key.algorithm()), dir + "/msg.jws"});
  }
};

TEST_P(JoseInteropTest, CommandMessageVerifiesWithJoseAndTamperingIsCaught) {
  auto key = crypto::PrivateKey::generate(GetParam());
  ASSERT_TRUE(key.ok());
  json::object payload{{"typ", "command"}, {"cmd", "ping"}, {"aud", "agent-1"}, {"iat", 1764000000},
                       {"exp", 1764003600}, {"jti", "00112233445566778899aabbccddeeff"}, {"seq", 7}};
  auto jws = crypto::jws_sign(*key, payload);
  ASSERT_TRUE(jws.ok());
  auto r = jose_verify(key->public_key(), *jws);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto out = json::parse(r.out);
  EXPECT_EQ(out.at("kid").as_string(), key->fingerprint());
  EXPECT_EQ(out.at("payload").at("seq").as_int64(), 7);
  EXPECT_EQ(out.at("payload").at("aud").as_string(), "agent-1");

  // Change the payload (seq 7 -> 8) but keep the signature: jose must refuse it.
  size_t d1 = jws->find('.'), d2 = jws->rfind('.');
  payload["seq"] = 8;
  std::string forged = jws->substr(0, d1 + 1) + crypto::base64url_encode(json::serialize(payload)) + jws->substr(d2);
  EXPECT_EQ(jose_verify(key->public_key(), forged).exit_code, 1);
}

TEST_P(JoseInteropTest, BothSignaturesOfARotationStatementVerifyWithJose) {
  auto old_key = crypto::PrivateKey::generate(GetParam());
  auto new_key = crypto::PrivateKey::generate(GetParam());
  ASSERT_TRUE(old_key.ok() && new_key.ok());
  auto new_cert = crypto::Certificate::make_self_signed(*new_key, crypto::kAuthenticationSubject, 30,
                                                        system_clock().now());
  ASSERT_TRUE(new_cert.ok());
  auto statement = crypto::sign_rotation(*old_key, *new_key, *new_cert, 2, 1764000000);
  ASSERT_TRUE(statement.ok());
  auto by_old = jose_verify(old_key->public_key(), statement->by_old);
  auto by_new = jose_verify(new_key->public_key(), statement->by_new);
  ASSERT_EQ(by_old.exit_code, 0) << by_old.err;
  ASSERT_EQ(by_new.exit_code, 0) << by_new.err;
  auto p = json::parse(by_old.out).at("payload");
  EXPECT_EQ(p.at("typ").as_string(), "rotation");
  EXPECT_EQ(p.at("from").as_string(), old_key->fingerprint());
  EXPECT_EQ(p.at("to").as_string(), new_key->fingerprint());
  EXPECT_EQ(p.at("n").as_int64(), 2);
  EXPECT_EQ(json::parse(by_new.out).at("payload"), p);
  // The old key's signature does not pass as the new key's.
  EXPECT_EQ(jose_verify(new_key->public_key(), statement->by_old).exit_code, 1);
}

INSTANTIATE_TEST_SUITE_P(All, JoseInteropTest,
                         ::testing::Values(crypto::Algorithm::kEcdsaP256, crypto::Algorithm::kEd25519,
                                           crypto::Algorithm::kRsa3072),
                         [](const auto& info) { return std::string(crypto::jws_algorithm(info.param)); });

}  // namespace
}  // namespace ck
