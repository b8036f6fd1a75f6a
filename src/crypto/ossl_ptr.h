// The only place that names OpenSSL's free functions: unique_ptr aliases that
// own OpenSSL handles. Everything else holds these, never a raw owning pointer.
#pragma once

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

namespace ck::ossl {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};

template <typename T, void (*Free)(T*)>
using Ptr = std::unique_ptr<T, Deleter<T, Free>>;

inline void bio_free(BIO* b) { BIO_free_all(b); }
inline void x509_stack_free(STACK_OF(X509) * s) { sk_X509_pop_free(s, X509_free); }

using PkeyPtr = Ptr<EVP_PKEY, EVP_PKEY_free>;
using PkeyCtxPtr = Ptr<EVP_PKEY_CTX, EVP_PKEY_CTX_free>;
using MdCtxPtr = Ptr<EVP_MD_CTX, EVP_MD_CTX_free>;
using CipherCtxPtr = Ptr<EVP_CIPHER_CTX, EVP_CIPHER_CTX_free>;
using BioPtr = Ptr<BIO, bio_free>;
using X509Ptr = Ptr<X509, X509_free>;
using X509StackPtr = Ptr<STACK_OF(X509), x509_stack_free>;
using X509NamePtr = Ptr<X509_NAME, X509_NAME_free>;
using X509ExtPtr = Ptr<X509_EXTENSION, X509_EXTENSION_free>;
using Pkcs12Ptr = Ptr<PKCS12, PKCS12_free>;
using BignumPtr = Ptr<BIGNUM, BN_free>;
using EcdsaSigPtr = Ptr<ECDSA_SIG, ECDSA_SIG_free>;
using Asn1IntegerPtr = Ptr<ASN1_INTEGER, ASN1_INTEGER_free>;
using Asn1TimePtr = Ptr<ASN1_TIME, ASN1_TIME_free>;

// Increments the reference count and returns a second owner.
inline PkeyPtr share(EVP_PKEY* key) {
  EVP_PKEY_up_ref(key);
  return PkeyPtr(key);
}

}  // namespace ck::ossl
