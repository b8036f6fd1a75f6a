// manifest.json: round trip and strict parsing.
#include "archive/manifest.h"

#include <gtest/gtest.h>

namespace ck::archive {
namespace {

const std::string kFp1(64, 'a');
const std::string kFp2(64, 'b');

Manifest sample() {
  Manifest m;
  m.created = 1764060000;
  m.store_generation = 2;
  ManifestCertificate c;
  c.fingerprint = kFp1;
  c.algorithm = "ecdsa-p256";
  c.subject = "CN=certkeeper authentication";
  c.status = store::CertStatus::kRetired;
  c.exportable = true;
  c.generation = 1;
  c.created_at = 1764000000;
  c.not_before = 1764000000;
  c.not_after = 1800000000;
  c.has_key = true;
  c.file = pfx_entry_name(kFp1);
  c.certificate_pem = "-----BEGIN CERTIFICATE-----\n...\n";
  m.certificates.push_back(c);
  c.fingerprint = kFp2;
  c.status = store::CertStatus::kCurrent;
  c.generation = 2;
  c.has_key = false;
  c.file.reset();
  c.exportable = false;
  m.certificates.push_back(c);
  m.rotations.push_back(store::RotationRecord{2, kFp1, kFp2, "a.b.c", "d.e.f", 1764050000});
  return m;
}

TEST(ManifestTest, RoundTrip) {
  const std::string text = serialize_manifest(sample());
  auto m = parse_manifest(text);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(serialize_manifest(*m), text);
  ASSERT_EQ(m->certificates.size(), 2u);
  EXPECT_EQ(m->certificates[1].status, store::CertStatus::kCurrent);
  EXPECT_FALSE(m->certificates[1].file.has_value());
  EXPECT_EQ(m->rotations[0].by_new, "d.e.f");
  EXPECT_EQ(m->rotations[0].created_at, 1764050000);
}

void expect_corrupt(const std::string& text, const std::string& needle) {
  auto m = parse_manifest(text);
  ASSERT_FALSE(m.ok()) << text;
  EXPECT_EQ(m.error().kind, ErrorKind::kCorrupt);
  EXPECT_NE(m.error().message.find(needle), std::string::npos) << m.error().message;
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
  auto pos = s.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  return s.replace(pos, from.size(), to);
}

TEST(ManifestTest, Strict) {
  const std::string good = serialize_manifest(sample());
  expect_corrupt("not json", "not valid JSON");
  expect_corrupt("[]", "not a JSON object");
  expect_corrupt(replace(good, "\"format_version\":1", "\"format_version\":2"), "version 2");
  expect_corrupt(replace(good, "certkeeper-backup", "something-else"), "not a certkeeper");
  expect_corrupt(replace(good, "\"status\":\"current\"", "\"status\":\"bogus\""), "unknown status");
  expect_corrupt(
      replace(good, "\"fingerprint\":\"" + kFp1, "\"fingerprint\":\"" + kFp1.substr(1) + "Z"),
      "fingerprint");
  std::string twice = good;
  for (size_t pos; (pos = twice.find(kFp1)) != std::string::npos;)
    twice.replace(pos, kFp1.size(), kFp2);
  expect_corrupt(twice, "listed twice");
  expect_corrupt(replace(good, "\"has_key\":true", "\"has_key\":false"), "disagree");
  expect_corrupt(replace(good, "\"generation\":1,", "\"generation\":-1,"), "negative");
  expect_corrupt(replace(good, "\"exportable\":true", "\"exportable\":1"), "true or false");
  expect_corrupt(replace(good, "\"created\":\"2025", "\"created\":\"20x5"), "RFC 3339");
  expect_corrupt(replace(good, "\"certificates\":2", "\"certificates\":3"), "counts 3");
  expect_corrupt(replace(good, ",\"by_old\":\"a.b.c\"", ""), "missing \"by_old\"");
}

TEST(ManifestTest, Rfc3339) {
  EXPECT_EQ(*parse_rfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(*parse_rfc3339("2026-11-25T08:45:00Z"), 1795596300);
  EXPECT_FALSE(parse_rfc3339("2026-02-31T00:00:00Z").ok());
  EXPECT_FALSE(parse_rfc3339("2026-11-25 08:45:00Z").ok());
  EXPECT_FALSE(parse_rfc3339("2026-11-25T08:45:00+01:00").ok());
}

}  // namespace
}  // namespace ck::archive
