#include "store/rotation_chain.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "crypto/jws.h"
#include "store/cert_operations.h"

namespace ck::store {
namespace {

class RotationChainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = (std::filesystem::temp_directory_path() /
            ("ck-chain-" + std::to_string(::getpid()) + "-" + info->name()))
               .string();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto s = open_cert_store("sqlite:" + dir_ + "/ck.db");
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(s).value();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string generate() {
    auto r = generate_certificate(*store_, {}, Context{"tester", nullptr});
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? r->fingerprint : "";
  }
  std::shared_ptr<const Keyring> ring() {
    auto r = load_keyring(*store_);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? *r : nullptr;
  }
  // Verifies the links as an agent holding `pinned` at generation 0 would.
  std::string walk(const Keyring& k, const std::string& pinned, const std::vector<crypto::SignedRotation>& links) {
    auto cert = crypto::Certificate::parse(k.find(pinned)->cert_pem);
    EXPECT_TRUE(cert.ok());
    crypto::PublicKey key = cert->public_key();
    int64_t gen = 0;
    for (const auto& l : links) {
      auto v = crypto::verify_rotation(l.by_old, l.by_new, key, gen);
      EXPECT_TRUE(v.ok()) << v.error().message;
      if (!v.ok()) return "";
      key = v->new_cert.public_key();
      gen = v->generation;
    }
    return key.fingerprint();
  }

  std::string dir_;
  std::unique_ptr<CertStore> store_;
};

TEST_F(RotationChainTest, NoCurrentIsNotFound) {
  auto r = load_keyring(*store_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kNotFound);
}

TEST_F(RotationChainTest, CurrentPinGetsNoLinksAndCurrentKey) {
  std::string a = generate();
  auto k = ring();
  RotationChain chain;
  auto p = chain.plan(*k, a);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->trust, PinnedTrust::kCurrent);
  EXPECT_TRUE(p->links.empty());
  ASSERT_NE(p->signing_key, nullptr);
  EXPECT_EQ(p->signing_key->fingerprint(), a);
}

TEST_F(RotationChainTest, HeldOldKeyGetsOneDirectMintedLinkCached) {
  std::string a = generate();
  generate();
  generate();
  std::string d = generate();
  auto k = ring();
  RotationChain chain;
  auto p = chain.plan(*k, a);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->trust, PinnedTrust::kStale);
  ASSERT_EQ(p->links.size(), 1u);
  EXPECT_EQ(walk(*k, a, p->links), d);
  ASSERT_NE(p->signing_key, nullptr);
  EXPECT_EQ(p->signing_key->fingerprint(), a);  // messages signed with the pinned key
  EXPECT_EQ(chain.cached(), 1u);
  auto again = chain.plan(*k, a);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->links[0].by_old, p->links[0].by_old);  // from the cache
  EXPECT_EQ(chain.cached(), 1u);
  // The generation is the current certificate's.
  auto payload = crypto::jws_verify(p->links[0].by_new, crypto::Certificate::parse(k->current().cert_pem)->public_key());
  ASSERT_TRUE(payload.ok());
  EXPECT_EQ(payload->at("n").as_int64(), k->current().generation);
}

TEST_F(RotationChainTest, PredecessorUsesStoredLink) {
  std::string a = generate();
  std::string b = generate();
  auto k = ring();
  RotationChain chain;
  auto p = chain.plan(*k, a);
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->links.size(), 1u);
  EXPECT_EQ(p->links[0].by_old, k->rotations[0].by_old);
  EXPECT_EQ(chain.cached(), 0u);
  EXPECT_EQ(walk(*k, a, p->links), b);
}

TEST_F(RotationChainTest, WithoutHeldKeysTheStoredChainIsWalked) {
  std::string a = generate();
  std::string b = generate();
  std::string c = generate();
  std::string d = generate();
  auto loaded = ring();
  Keyring k = *loaded;
  k.keys.erase(a);
  k.keys.erase(b);
  RotationChain chain;
  auto p = chain.plan(k, a);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->trust, PinnedTrust::kStale);
  ASSERT_EQ(p->links.size(), 3u);
  EXPECT_EQ(walk(k, a, p->links), d);
  ASSERT_NE(p->signing_key, nullptr);
  EXPECT_EQ(p->signing_key->fingerprint(), d);  // pinned key not held: current key signs
  auto pb = chain.plan(k, b);
  ASSERT_TRUE(pb.ok());
  EXPECT_EQ(pb->links.size(), 2u);
  EXPECT_EQ(walk(k, b, pb->links), d);
  // c's key is held: direct minted link.
  auto pc = chain.plan(k, c);
  ASSERT_TRUE(pc.ok());
  EXPECT_EQ(pc->links.size(), 1u);
  EXPECT_EQ(pc->signing_key->fingerprint(), c);
}

TEST_F(RotationChainTest, RevokedPinGetsNothing) {
  std::string a = generate();
  generate();
  ASSERT_TRUE(revoke_certificate(*store_, a, Context{"tester", nullptr}).ok());
  auto k = ring();
  EXPECT_FALSE(k->key(a));  // revoked keys are not even loaded
  RotationChain chain;
  auto p = chain.plan(*k, a);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->trust, PinnedTrust::kUntrusted);
  EXPECT_TRUE(p->links.empty());
  EXPECT_EQ(p->signing_key, nullptr);
}

TEST_F(RotationChainTest, UnknownPinGetsNothing) {
  generate();
  auto k = ring();
  RotationChain chain;
  auto p = chain.plan(*k, std::string(64, 'e'));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->trust, PinnedTrust::kUntrusted);
  EXPECT_EQ(p->signing_key, nullptr);
}

TEST_F(RotationChainTest, RevokedMiddleLinkIsNeverUsed) {
  // a -> b -> c -> d, b revoked, no keys held for a and c: the chain a->b->c->d would
  // need b's signature on b->c, so a has no path; c still reaches d.
  std::string a = generate();
  std::string b = generate();
  std::string c = generate();
  std::string d = generate();
  ASSERT_TRUE(revoke_certificate(*store_, b, Context{"tester", nullptr}).ok());
  Keyring k = *ring();
  k.keys.erase(a);
  k.keys.erase(c);
  RotationChain chain;
  auto pa = chain.plan(k, a);
  ASSERT_TRUE(pa.ok());
  EXPECT_EQ(pa->trust, PinnedTrust::kUntrusted);
  EXPECT_TRUE(pa->links.empty());
  auto pc = chain.plan(k, c);
  ASSERT_TRUE(pc.ok());
  ASSERT_EQ(pc->links.size(), 1u);
  EXPECT_EQ(walk(k, c, pc->links), d);
  // With a's key held, a gets a direct link minted by a and d: b is not involved.
  Keyring k2 = *ring();
  auto pa2 = chain.plan(k2, a);
  ASSERT_TRUE(pa2.ok());
  ASSERT_EQ(pa2->links.size(), 1u);
  EXPECT_EQ(walk(k2, a, pa2->links), d);
}

TEST_F(RotationChainTest, RevokePreviousLeavesNoLink) {
  std::string a = generate();
  GenerateOptions opts;
  opts.revoke_previous = true;
  ASSERT_TRUE(generate_certificate(*store_, opts, Context{"tester", nullptr}).ok());
  auto k = ring();
  EXPECT_TRUE(k->rotations.empty());
  RotationChain chain;
  auto p = chain.plan(*k, a);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->trust, PinnedTrust::kUntrusted);
}

}  // namespace
}  // namespace ck::store
