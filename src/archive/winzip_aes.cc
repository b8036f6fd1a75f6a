#include "archive/winzip_aes.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "crypto/ossl_ptr.h"

namespace ck::archive {
namespace {

constexpr size_t kVerifierLength = 2;
constexpr size_t kHmacLength = 10;
constexpr size_t kBlock = 16;
constexpr int kIterations = 1000;

const EVP_CIPHER* ecb_cipher(int key_bits) {
  switch (key_bits) {
    case 128:
      return EVP_aes_128_ecb();
    case 192:
      return EVP_aes_192_ecb();
    case 256:
      return EVP_aes_256_ecb();
    default:
      return nullptr;
  }
}

}  // namespace

Result<std::string> winzip_aes_decrypt(std::string_view raw, int key_bits,
                                       const std::string& password) {
  const EVP_CIPHER* cipher = ecb_cipher(key_bits);
  if (!cipher) return make_error(ErrorKind::kInvalidArgument, "unsupported AES key size");
  const size_t key_length = static_cast<size_t>(key_bits) / 8;
  const size_t salt_length = key_length / 2;
  if (raw.size() < salt_length + kVerifierLength + kHmacLength)
    return make_error(ErrorKind::kCorrupt, "the encrypted entry is truncated");
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
  const unsigned char* salt = bytes;
  const unsigned char* verifier = bytes + salt_length;
  const unsigned char* data = verifier + kVerifierLength;
  const size_t data_length = raw.size() - salt_length - kVerifierLength - kHmacLength;
  const unsigned char* mac = data + data_length;

  unsigned char derived[2 * 32 + kVerifierLength];
  const size_t derived_length = 2 * key_length + kVerifierLength;
  if (PKCS5_PBKDF2_HMAC_SHA1(password.data(), static_cast<int>(password.size()), salt,
                             static_cast<int>(salt_length), kIterations,
                             static_cast<int>(derived_length), derived) != 1)
    return make_error(ErrorKind::kInternal, "PBKDF2 failed");
  struct Cleanse {
    unsigned char* p;
    size_t n;
    ~Cleanse() { OPENSSL_cleanse(p, n); }
  } cleanse{derived, sizeof derived};
  if (CRYPTO_memcmp(derived + 2 * key_length, verifier, kVerifierLength) != 0)
    return make_error(ErrorKind::kCrypto, "wrong password");

  unsigned char computed[EVP_MAX_MD_SIZE];
  unsigned int computed_length = 0;
  if (!HMAC(EVP_sha1(), derived + key_length, static_cast<int>(key_length), data, data_length,
            computed, &computed_length))
    return make_error(ErrorKind::kInternal, "HMAC failed");
  // A wrong password passes the 2-byte verifier once in 65536 tries; the MAC catches it too.
  if (CRYPTO_memcmp(computed, mac, kHmacLength) != 0)
    return make_error(ErrorKind::kCorrupt,
                      "the ZIP archive is damaged (authentication code mismatch)");

  // AES-CTR with a little-endian counter starting at 1.
  ossl::CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), cipher, nullptr, derived, nullptr) != 1)
    return make_error(ErrorKind::kInternal, "AES setup failed");
  EVP_CIPHER_CTX_set_padding(ctx.get(), 0);
  std::string out(reinterpret_cast<const char*>(data), data_length);
  unsigned char counter[kBlock] = {0};
  unsigned char pad[kBlock];
  for (size_t offset = 0; offset < data_length; offset += kBlock) {
    for (size_t j = 0; j < kBlock; ++j)
      if (++counter[j] != 0) break;
    int n = 0;
    if (EVP_EncryptUpdate(ctx.get(), pad, &n, counter, kBlock) != 1 ||
        n != static_cast<int>(kBlock))
      return make_error(ErrorKind::kInternal, "AES failed");
    const size_t len = std::min(kBlock, data_length - offset);
    for (size_t j = 0; j < len; ++j) out[offset + j] = static_cast<char>(out[offset + j] ^ pad[j]);
  }
  OPENSSL_cleanse(pad, sizeof pad);
  return out;
}

}  // namespace ck::archive
