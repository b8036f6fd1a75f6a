// Result<T>: a value or an Error. Errors are values at library boundaries
// (like LevelDB's Status); exceptions only reach main().
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace ck {

enum class ErrorKind {
  kInvalidArgument,  // bad input from the user or a peer
  kNotFound,
  kPermissionDenied,
  kBusy,             // another writer holds the store
  kConflict,         // the operation contradicts the current state
  kCrypto,           // OpenSSL refused (bad password, bad signature, ...)
  kIo,
  kCorrupt,          // data that should be ours does not parse
  kWeakPassword,
  kUnavailable,      // a peer or service cannot be reached
  kInternal,
};

const char* error_kind_name(ErrorKind kind);

struct Error {
  ErrorKind kind = ErrorKind::kInternal;
  std::string message;

  // "context: message", keeping the kind.
  Error with_context(const std::string& context) const {
    return Error{kind, context + ": " + message};
  }
};

inline Error make_error(ErrorKind kind, std::string message) {
  return Error{kind, std::move(message)};
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const {
    assert(!ok());
    return std::get<1>(v_);
  }

 private:
  std::variant<T, Error> v_;
};

struct Unit {};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const {
    assert(!ok_);
    return error_;
  }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

inline Status ok_status() { return Status(); }

}  // namespace ck

// Propagates an error from an expression yielding Result<...>.
#define CK_CONCAT_INNER(a, b) a##b
#define CK_CONCAT(a, b) CK_CONCAT_INNER(a, b)

#define CK_RETURN_IF_ERROR(expr)                 \
  do {                                           \
    auto ck_status_ = (expr);                    \
    if (!ck_status_.ok()) return ck_status_.error(); \
  } while (0)

#define CK_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.error();             \
  lhs = std::move(tmp).value()

#define CK_ASSIGN_OR_RETURN(lhs, expr) \
  CK_ASSIGN_OR_RETURN_IMPL(CK_CONCAT(ck_result_, __LINE__), lhs, expr)
