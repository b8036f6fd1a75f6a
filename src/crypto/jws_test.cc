#include "crypto/jws.h"

#include <gtest/gtest.h>

#include "crypto/encoding.h"

namespace ck::crypto {
namespace {
namespace json = boost::json;

TEST(Jws, SignVerifyAndHeader) {
  auto key = PrivateKey::generate(Algorithm::kEcdsaP256);
  ASSERT_TRUE(key.ok());
  json::object payload{{"typ", "command"}, {"seq", 7}};
  auto jws = jws_sign(*key, payload);
  ASSERT_TRUE(jws.ok());
  auto parts = jws_parse(*jws);
  ASSERT_TRUE(parts.ok());
  EXPECT_EQ(parts->kid, key->fingerprint());
  EXPECT_EQ(parts->header.at("alg").as_string(), "ES256");
  auto back = jws_verify(*jws, key->public_key());
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->at("seq").as_int64(), 7);
}

TEST(Jws, KidIsReadFromTheHeaderAloneAndTheShapeIsStillChecked) {
  auto key = PrivateKey::generate(Algorithm::kEcdsaP256);
  ASSERT_TRUE(key.ok());
  auto jws = jws_sign(*key, json::object{{"cmd", "ping"}});
  ASSERT_TRUE(jws.ok());
  auto kid = jws_kid(*jws);
  ASSERT_TRUE(kid.ok()) << kid.error().message;
  EXPECT_EQ(*kid, key->fingerprint());
  // The payload is not decoded: a broken one does not hide the kid (verify refuses it).
  const size_t d1 = jws->find('.'), d2 = jws->rfind('.');
  const std::string broken_payload = jws->substr(0, d1 + 1) + "%%%" + jws->substr(d2);
  auto kid_of_broken = jws_kid(broken_payload);
  ASSERT_TRUE(kid_of_broken.ok());
  EXPECT_EQ(*kid_of_broken, key->fingerprint());
  EXPECT_FALSE(jws_verify(broken_payload, key->public_key()).ok());
  // The header is decoded and the three parts are required.
  auto no_kid = jws_kid(base64url_encode(R"({"alg":"ES256"})") + ".e30.c2ln");
  ASSERT_TRUE(no_kid.ok());
  EXPECT_EQ(*no_kid, "");
  EXPECT_EQ(jws_kid(jws->substr(0, d2)).error().kind, ErrorKind::kInvalidArgument);
  EXPECT_EQ(jws_kid("%%%" + jws->substr(d1)).error().kind, ErrorKind::kInvalidArgument);
  EXPECT_EQ(jws_kid(base64url_encode("[1]") + jws->substr(d1)).error().kind, ErrorKind::kInvalidArgument);
}

TEST(Jws, RejectsTamperedPayloadAndWrongKey) {
  auto key = PrivateKey::generate(Algorithm::kEd25519);
  auto other = PrivateKey::generate(Algorithm::kEd25519);
  ASSERT_TRUE(key.ok() && other.ok());
  auto jws = jws_sign(*key, json::object{{"cmd", "ping"}});
  ASSERT_TRUE(jws.ok());
  size_t d1 = jws->find('.'), d2 = jws->rfind('.');
  std::string forged = jws->substr(0, d1 + 1) +
                       base64url_encode(R"({"cmd":"run-scan"})") + jws->substr(d2);
  EXPECT_FALSE(jws_verify(forged, key->public_key()).ok());
  EXPECT_FALSE(jws_verify(*jws, other->public_key()).ok());
}

TEST(Jws, RejectsAlgorithmConfusionAndMalformedInput) {
  auto key = PrivateKey::generate(Algorithm::kEcdsaP256);
  ASSERT_TRUE(key.ok());
  // "alg":"none" with an empty signature must never verify.
  std::string none = base64url_encode(R"({"alg":"none"})") + "." + base64url_encode("{}") + ".";
  EXPECT_FALSE(jws_verify(none, key->public_key()).ok());
  EXPECT_FALSE(jws_verify("a.b", key->public_key()).ok());
  EXPECT_FALSE(jws_verify("a.b.c.d", key->public_key()).ok());
  EXPECT_FALSE(jws_verify("!!.??.**", key->public_key()).ok());
  EXPECT_FALSE(jws_verify(std::string(kMaxJwsBytes + 1, 'a'), key->public_key()).ok());
}

}  // namespace
}  // namespace ck::crypto
