#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "common/clock.h"
#include "crypto/encoding.h"
#include "crypto/key.h"
#include "crypto/pkcs12.h"
#include "crypto/signature.h"
#include "crypto/x509.h"

namespace ck::crypto {
namespace {

class AlgorithmTest : public ::testing::TestWithParam<Algorithm> {};

TEST_P(AlgorithmTest, SignVerifyRoundTripAndTamperDetection) {
  auto key = PrivateKey::generate(GetParam());
  ASSERT_TRUE(key.ok()) << key.error().message;
  EXPECT_EQ(key->algorithm(), GetParam());
  EXPECT_EQ(key->fingerprint().size(), 64u);
  auto sig = sign(*key, "hello");
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(verify(key->public_key(), "hello", *sig));
  EXPECT_FALSE(verify(key->public_key(), "hellO", *sig));
  std::string bad = *sig;
  bad[bad.size() / 2] ^= 1;
  EXPECT_FALSE(verify(key->public_key(), "hello", bad));
  EXPECT_FALSE(verify(key->public_key(), "hello", ""));
  auto other = PrivateKey::generate(GetParam());
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(verify(other->public_key(), "hello", *sig));
}

TEST_P(AlgorithmTest, SelfSignedCertificateCarriesKeyAndValidity) {
  auto key = PrivateKey::generate(GetParam());
  ASSERT_TRUE(key.ok());
  const int64_t now = system_clock().now();
  auto cert = Certificate::make_self_signed(*key, kAuthenticationSubject, 30, now);
  ASSERT_TRUE(cert.ok()) << cert.error().message;
  EXPECT_EQ(cert->fingerprint(), key->fingerprint());
  EXPECT_TRUE(cert->matches(*key));
  EXPECT_EQ(cert->subject(), "CN=certkeeper authentication");
  EXPECT_LE(cert->not_before(), now);
  EXPECT_EQ(cert->not_after(), now + 30 * 86400);
  auto from_pem = Certificate::parse(cert->pem());
  ASSERT_TRUE(from_pem.ok());
  EXPECT_EQ(from_pem->der(), cert->der());
  auto from_der = Certificate::parse(cert->der());
  ASSERT_TRUE(from_der.ok());
  EXPECT_EQ(from_der->fingerprint(), cert->fingerprint());
}

TEST_P(AlgorithmTest, Pkcs12RoundTripAndWrongPassword) {
  auto key = PrivateKey::generate(GetParam());
  ASSERT_TRUE(key.ok());
  auto cert = Certificate::make_self_signed(*key, kAuthenticationSubject, 10, system_clock().now());
  ASSERT_TRUE(cert.ok());
  auto pfx = write_pkcs12(*key, *cert, "correct horse battery", "test");
  ASSERT_TRUE(pfx.ok()) << pfx.error().message;
  auto back = read_pkcs12(*pfx, "correct horse battery");
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->certificate.fingerprint(), cert->fingerprint());
  EXPECT_EQ(back->key.fingerprint(), key->fingerprint());
  auto wrong = read_pkcs12(*pfx, "wrong password!!");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().kind, ErrorKind::kCrypto);
  auto truncated = read_pkcs12(pfx->substr(0, pfx->size() / 2), "correct horse battery");
  ASSERT_FALSE(truncated.ok());
  EXPECT_EQ(truncated.error().kind, ErrorKind::kInvalidArgument);
}

TEST_P(AlgorithmTest, EncryptedPkcs8RoundTrip) {
  auto key = PrivateKey::generate(GetParam());
  ASSERT_TRUE(key.ok());
  auto der = key->to_encrypted_pkcs8_der("kek-material");
  ASSERT_TRUE(der.ok());
  auto back = PrivateKey::from_encrypted_pkcs8_der(*der, "kek-material");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->fingerprint(), key->fingerprint());
  EXPECT_FALSE(PrivateKey::from_encrypted_pkcs8_der(*der, "other").ok());
}

INSTANTIATE_TEST_SUITE_P(All, AlgorithmTest,
                         ::testing::Values(Algorithm::kEcdsaP256, Algorithm::kEd25519,
                                           Algorithm::kRsa3072),
                         [](const auto& info) {
                           std::string n = algorithm_name(info.param);
                           for (char& c : n) if (c == '-') c = '_';
                           return n;
                         });

TEST(Encoding, Base64UrlRoundTripAndRejects) {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xff\xfe\x00"}) {
    auto d = base64url_decode(base64url_encode(s));
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(*d, s);
  }
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
  EXPECT_FALSE(base64url_decode("ab=c").ok());
  EXPECT_FALSE(base64url_decode("a").ok());
}

TEST(Encoding, ConstantTimeEqual) {
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "abcd"));
}

TEST(Certificate, ParseRejectsGarbage) {
  auto r = Certificate::parse("not a certificate");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kInvalidArgument);
}

// The same as `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_pubexp:E -pkeyopt rsa_keygen_bits:2048`.
ossl::PkeyPtr rsa_with_exponent(unsigned long exponent) {
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr),
                                                                  EVP_PKEY_CTX_free);
  std::unique_ptr<BIGNUM, decltype(&BN_free)> e(BN_new(), BN_free);
  EVP_PKEY* raw = nullptr;
  if (!ctx || !e || BN_set_word(e.get(), exponent) != 1 || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), 2048) != 1 ||
      EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx.get(), e.get()) != 1 || EVP_PKEY_keygen(ctx.get(), &raw) != 1) {
    return nullptr;
  }
  return ossl::PkeyPtr(raw);
}

std::string spki_der(EVP_PKEY* pkey) {
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(pkey, &der);
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len > 0 ? len : 0));
  OPENSSL_free(der);
  return out;
}

// Review L7: only e = 65537. A private key (import), a public key (SPKI) and a certificate
// with any other exponent are refused.
TEST(Key, RsaPublicExponentMustBe65537) {
  for (unsigned long exponent : {3ul, 17ul, 65539ul}) {
    auto pkey = rsa_with_exponent(exponent);
    ASSERT_TRUE(pkey) << exponent;
    EXPECT_FALSE(algorithm_of(pkey.get())) << exponent;
    auto pub = PublicKey::from_spki_der(spki_der(pkey.get()));
    ASSERT_FALSE(pub.ok()) << exponent;
    EXPECT_EQ(pub.error().kind, ErrorKind::kInvalidArgument);
    auto priv = PrivateKey::adopt(std::move(pkey));
    ASSERT_FALSE(priv.ok()) << exponent;
    EXPECT_EQ(priv.error().kind, ErrorKind::kInvalidArgument);
    EXPECT_NE(priv.error().message.find("65537"), std::string::npos) << priv.error().message;
  }
  auto good = rsa_with_exponent(65537);
  ASSERT_TRUE(good);
  EXPECT_EQ(algorithm_of(good.get()), Algorithm::kRsa3072);
  EXPECT_TRUE(PublicKey::from_spki_der(spki_der(good.get())).ok());
  EXPECT_TRUE(PrivateKey::adopt(std::move(good)).ok());
}

TEST(Pkcs12, RejectsKeyThatDoesNotMatchCertificate) {
  // A PFX cannot be built with a mismatched key by OpenSSL, so check the guard directly.
  auto a = PrivateKey::generate(Algorithm::kEcdsaP256);
  auto b = PrivateKey::generate(Algorithm::kEcdsaP256);
  ASSERT_TRUE(a.ok() && b.ok());
  auto cert = Certificate::make_self_signed(*a, kAuthenticationSubject, 1, system_clock().now());
  ASSERT_TRUE(cert.ok());
  EXPECT_FALSE(cert->matches(*b));
}

}  // namespace
}  // namespace ck::crypto
