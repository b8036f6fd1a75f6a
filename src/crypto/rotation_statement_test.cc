#include "crypto/rotation_statement.h"

#include <gtest/gtest.h>

#include "crypto/jws.h"

namespace ck::crypto {
namespace {

struct Pair {
  PrivateKey key;
  Certificate cert;
};

Pair make_pair() {
  auto key = PrivateKey::generate(Algorithm::kEcdsaP256);
  auto cert = Certificate::make_self_signed(*key, kAuthenticationSubject, 10, 1700000000);
  return Pair{*key, *cert};
}

TEST(RotationStatement, VerifiesForHolderOfOldKey) {
  Pair a = make_pair(), b = make_pair();
  auto s = sign_rotation(a.key, b.key, b.cert, 2, 1700000100);
  ASSERT_TRUE(s.ok());
  auto v = verify_rotation(s->by_old, s->by_new, a.key.public_key(), 1);
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(v->to, b.key.fingerprint());
  EXPECT_EQ(v->new_cert.fingerprint(), b.cert.fingerprint());
  EXPECT_EQ(v->generation, 2);
}

TEST(RotationStatement, RejectsWrongPinnedKeyRollbackAndMismatchedSignatures) {
  Pair a = make_pair(), b = make_pair(), c = make_pair();
  auto ab = sign_rotation(a.key, b.key, b.cert, 2, 1);
  auto ac = sign_rotation(a.key, c.key, c.cert, 2, 1);
  ASSERT_TRUE(ab.ok() && ac.ok());
  EXPECT_FALSE(verify_rotation(ab->by_old, ab->by_new, c.key.public_key(), 0).ok());  // not pinned
  EXPECT_FALSE(verify_rotation(ab->by_old, ab->by_new, a.key.public_key(), 2).ok());  // rollback
  EXPECT_FALSE(verify_rotation(ab->by_old, ac->by_new, a.key.public_key(), 0).ok());  // disagree
  EXPECT_FALSE(verify_rotation(ab->by_old, ab->by_old, a.key.public_key(), 0).ok());  // no PoP
}

TEST(RotationStatement, RejectsStatementSignedByAttackerPretendingToBeOldKey) {
  Pair a = make_pair(), b = make_pair(), evil = make_pair();
  // The attacker signs "from a" with its own key.
  auto forged = sign_rotation(evil.key, b.key, b.cert, 5, 1);
  ASSERT_TRUE(forged.ok());
  EXPECT_FALSE(verify_rotation(forged->by_old, forged->by_new, a.key.public_key(), 0).ok());
}

}  // namespace
}  // namespace ck::crypto
