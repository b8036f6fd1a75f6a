// PKCS#12 costs: what certkeeper writes resists offline guessing, and what it reads
// cannot make it spend unbounded time before the password is even checked.
#include "crypto/pkcs12.h"

#include <gtest/gtest.h>

#include <chrono>

#include "archive/test_pfx.h"

namespace ck::archive {
namespace {

using testing::CostlyPart;

const std::string kPassword = "Pfx-Passw0rd-for-tests!";

struct Pair {
  crypto::PrivateKey key;
  crypto::Certificate cert;
};

Pair make_pair() {
  auto key = crypto::PrivateKey::generate(crypto::Algorithm::kEcdsaP256);
  auto cert = crypto::Certificate::make_self_signed(*key, "CN=pfx test", 30, 1795596300);
  return Pair{std::move(key).value(), std::move(cert).value()};
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

TEST(Pkcs12Costs, OurFilesReadBackAtTheirCost) {
  auto p = make_pair();
  auto t0 = std::chrono::steady_clock::now();
  auto pfx = crypto::write_pkcs12(p.key, p.cert, kPassword, "x");
  ASSERT_TRUE(pfx.ok()) << pfx.error().message;
  const double write = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();
  auto back = crypto::read_pkcs12(*pfx, kPassword);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->certificate.fingerprint(), p.cert.fingerprint());
  std::cout << "write_pkcs12 " << write << " s, read_pkcs12 " << seconds_since(t0) << " s\n";
  auto wrong = crypto::read_pkcs12(*pfx, "Not-the-Passw0rd!");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().kind, ErrorKind::kCrypto);
}

// 20,000,000 PBKDF2-SHA256 iterations take ~8 s here; each is refused in milliseconds,
// while the same file at 1,000 iterations reads (so the refusal is about the cost).
TEST(Pkcs12Costs, AbsurdIterationCountsAreRefusedBeforeAnyDerivation) {
  auto p = make_pair();
  const struct {
    const char* name;
    CostlyPart part;
  } cases[] = {{"MAC", CostlyPart::kMac},
               {"key bag", CostlyPart::kKeyBag},
               {"encrypted content", CostlyPart::kEncryptedContent},
               {"key bag in encrypted content", CostlyPart::kKeyBagInEncryptedContent}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string absurd = testing::costly_pfx(p.key, p.cert, kPassword, c.part, 20'000'000);
    ASSERT_FALSE(absurd.empty());
    auto t0 = std::chrono::steady_clock::now();
    auto r = crypto::read_pkcs12(absurd, kPassword);
    const double took = seconds_since(t0);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, ErrorKind::kInvalidArgument) << r.error().message;
    EXPECT_NE(r.error().message.find("20000000 iterations"), std::string::npos)
        << r.error().message;
    EXPECT_EQ(r.error().message.find('\n'), std::string::npos) << r.error().message;
    EXPECT_LT(took, 2.0);

    const std::string fine = testing::costly_pfx(p.key, p.cert, kPassword, c.part, 1000);
    auto ok = crypto::read_pkcs12(fine, kPassword);
    ASSERT_TRUE(ok.ok()) << ok.error().message;
    EXPECT_EQ(ok->certificate.fingerprint(), p.cert.fingerprint());
    auto wrong = crypto::read_pkcs12(fine, "Not-the-Passw0rd!");
    ASSERT_FALSE(wrong.ok());
    EXPECT_EQ(wrong.error().kind, ErrorKind::kCrypto) << wrong.error().message;
  }
}

// One above the limit is refused; the limit itself would run (10M iterations, ~2 s).
TEST(Pkcs12Costs, OneAboveTheLimitIsRefused) {
  auto p = make_pair();
  auto r = crypto::read_pkcs12(testing::costly_pfx(p.key, p.cert, kPassword, CostlyPart::kKeyBag,
                                                   crypto::kMaxPkcs12Iterations + 1),
                               kPassword);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("10000001 iterations"), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace ck::archive
