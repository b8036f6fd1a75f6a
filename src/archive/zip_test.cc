// ZipWriter / read_zip_entries: AES-256 round trip and every malformed archive.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "archive/entry_name.h"
#include "archive/limits.h"
#include "archive/test_zip.h"
#include "archive/zip_reader.h"
#include "archive/zip_writer.h"

namespace ck::archive {
namespace {

using testing::patch_all;
using testing::raw_zip;
using testing::RawEntry;

const std::string kPassword = "correct horse battery staple 42";

std::string sample_archive() {
  auto writer = ZipWriter::create(kPassword, 1764000000);
  EXPECT_TRUE(writer.ok());
  EXPECT_TRUE(writer->add("manifest.json", "{\"hello\":1}").ok());
  EXPECT_TRUE(writer->add("a.pfx", std::string(3000, 'x') + "tail").ok());
  auto bytes = writer->finish();
  EXPECT_TRUE(bytes.ok()) << bytes.error().message;
  return *bytes;
}

TEST(ZipTest, WriterRoundTripIsAes256) {
  const std::string bytes = sample_archive();
  auto entries = read_zip_entries(bytes, kPassword);
  ASSERT_TRUE(entries.ok()) << entries.error().message;
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].name, "manifest.json");
  EXPECT_EQ((*entries)[0].data, "{\"hello\":1}");
  EXPECT_EQ((*entries)[1].data, std::string(3000, 'x') + "tail");
  for (const auto& e : *entries) EXPECT_EQ(e.encryption_method, ZIP_EM_AES_256);
  // Nothing readable in the clear.
  EXPECT_EQ(bytes.find("hello"), std::string::npos);
}

TEST(ZipTest, WriterRefusesUnsafeNames) {
  auto writer = ZipWriter::create(kPassword, 0);
  ASSERT_TRUE(writer.ok());
  EXPECT_FALSE(writer->add("../x.pfx", "x").ok());
  EXPECT_FALSE(writer->add("/x.pfx", "x").ok());
}

TEST(ZipTest, WrongPassword) {
  auto entries = read_zip_entries(sample_archive(), "not the password at all");
  ASSERT_FALSE(entries.ok());
  EXPECT_EQ(entries.error().kind, ErrorKind::kCrypto);
  EXPECT_EQ(entries.error().message, "wrong password");
}

TEST(ZipTest, NotAZip) {
  for (std::string junk : {std::string("hello, world"), std::string(), std::string(5000, '\0'),
                           std::string("PK\x03\x04garbage")}) {
    auto entries = read_zip_entries(junk, kPassword);
    ASSERT_FALSE(entries.ok());
    EXPECT_NE(entries.error().message.find("not a ZIP"), std::string::npos)
        << entries.error().message;
  }
}

TEST(ZipTest, TruncatedArchivesFail) {
  const std::string bytes = sample_archive();
  for (size_t len : {size_t{10}, bytes.size() / 2, bytes.size() - 30, bytes.size() - 1}) {
    auto entries = read_zip_entries(bytes.substr(0, len), kPassword);
    EXPECT_FALSE(entries.ok()) << "truncated to " << len;
  }
}

// A flipped bit anywhere either is detected or does not change what is read.
TEST(ZipTest, EveryBitFlipIsDetectedOrHarmless) {
  const std::string bytes = sample_archive();
  auto good = read_zip_entries(bytes, kPassword);
  ASSERT_TRUE(good.ok());
  size_t detected = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] = static_cast<char>(bad[i] ^ 0x10);
    auto entries = read_zip_entries(bad, kPassword);
    if (!entries.ok()) {
      ++detected;
      continue;
    }
    ASSERT_EQ(entries->size(), good->size()) << "flip at " << i;
    for (size_t k = 0; k < good->size(); ++k) {
      EXPECT_EQ((*entries)[k].name, (*good)[k].name) << "flip at " << i;
      EXPECT_EQ((*entries)[k].data, (*good)[k].data) << "flip at " << i;
    }
  }
  EXPECT_GT(detected, bytes.size() / 2);
}

TEST(ZipTest, EmptyArchive) {
  const std::string eocd = std::string("PK\x05\x06", 4) + std::string(18, '\0');
  auto entries = read_zip_entries(eocd, kPassword);
  ASSERT_FALSE(entries.ok());
  EXPECT_NE(entries.error().message.find("empty"), std::string::npos) << entries.error().message;
}

void expect_refused(const std::vector<RawEntry>& spec, const std::string& needle) {
  const std::string zip = raw_zip(spec, kPassword);
  ASSERT_FALSE(zip.empty());
  auto entries = read_zip_entries(zip, kPassword);
  ASSERT_FALSE(entries.ok()) << "accepted: " << spec.front().name;
  EXPECT_NE(entries.error().message.find(needle), std::string::npos) << entries.error().message;
}

TEST(ZipTest, UnsafeEntryNames) {
  expect_refused({{"../evil.pfx", "x"}}, "\"..\"");
  expect_refused({{"a/../../evil.pfx", "x"}}, "\"..\"");
  expect_refused({{"/etc/evil.pfx", "x"}}, "absolute path");
  expect_refused({{"C:evil.pfx", "x"}}, "absolute path");
  expect_refused({{"sub/x.pfx", "x"}}, "folder");
  expect_refused({{"sub/", "", ZIP_EM_NONE, std::nullopt, /*directory=*/true}}, "folder");
  expect_refused({{"a\\b.pfx", "x"}}, "folder");
}

TEST(ZipTest, Symlinks) {
  expect_refused({{"link.pfx", "/etc/passwd", ZIP_EM_AES_256, S_IFLNK | 0777}}, "symbolic link");
}

TEST(ZipTest, UnencryptedEntries) {
  expect_refused({{"a.pfx", "x", ZIP_EM_NONE}}, "not encrypted");
}

TEST(ZipTest, ZipCryptoIsRead) {
  const std::string zip = raw_zip({{"a.pfx", "legacy", ZIP_EM_TRAD_PKWARE}}, kPassword);
  auto entries = read_zip_entries(zip, kPassword);
  ASSERT_TRUE(entries.ok()) << entries.error().message;
  EXPECT_EQ((*entries)[0].data, "legacy");
  EXPECT_FALSE(read_zip_entries(zip, "another password!!").ok());
}

TEST(ZipTest, DeclaredSizeBomb) {
  expect_refused({{"big.pfx", std::string(kMaxEntryBytes + 1, '\0')}}, "ZIP bomb");
}

TEST(ZipTest, DeclaredTotalBomb) {
  std::vector<RawEntry> spec;
  for (int i = 0; i < 65; ++i)
    spec.push_back({"e" + std::to_string(i) + ".pfx", std::string(kMaxEntryBytes, 'a')});
  expect_refused(spec, "ZIP bomb");
}

// The headers claim 1 KiB, the data inflates to 2 MiB: reading stops at the bound.
TEST(ZipTest, ActualSizeBomb) {
  const uint32_t real = (2u << 20) + 7;
  const std::string zip = raw_zip({{"bomb.pfx", std::string(real, '\0')}}, kPassword);
  ASSERT_FALSE(zip.empty());
  auto le32 = [](uint32_t v) {
    std::string s(4, '\0');
    for (int i = 0; i < 4; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xff);
    return s;
  };
  const std::string lying = patch_all(zip, le32(real), le32(1024));
  auto entries = read_zip_entries(lying, kPassword);
  ASSERT_FALSE(entries.ok());
  EXPECT_NE(entries.error().message.find("ZIP bomb"), std::string::npos) << entries.error().message;
}

TEST(ZipTest, TooManyEntries) {
  std::vector<RawEntry> spec;
  for (uint64_t i = 0; i <= kMaxEntries; ++i)
    spec.push_back({"e" + std::to_string(i) + ".pfx", "x", ZIP_EM_NONE});
  expect_refused(spec, "entries");
}

TEST(ZipTest, DuplicateNames) {
  const std::string zip = raw_zip({{"a.pfx", "one"}, {"b.pfx", "two"}}, kPassword);
  const std::string dup = patch_all(zip, "b.pfx", "a.pfx");
  auto entries = read_zip_entries(dup, kPassword);
  ASSERT_FALSE(entries.ok());
}

TEST(EntryNameTest, AcceptsFlatNames) {
  EXPECT_TRUE(validate_entry_name("manifest.json").ok());
  EXPECT_TRUE(validate_entry_name("0123abcd.pfx").ok());
  EXPECT_TRUE(validate_entry_name("..pfx").ok());
  EXPECT_FALSE(validate_entry_name("").ok());
  EXPECT_FALSE(validate_entry_name("..").ok());
  EXPECT_FALSE(validate_entry_name(".").ok());
  EXPECT_FALSE(validate_entry_name("a\nb").ok());
}

}  // namespace
}  // namespace ck::archive
