// Errors as values (after bpftrace's Result<T>): every failure carries one
// clear line for the user, and a Result cannot be dropped silently.
#pragma once
#include <string>
#include <utility>
#include <variant>

namespace kx {

struct Error {
  std::string message;
  // Prefixes the message with where it happened: "extract source: tar failed".
  Error context(const std::string &where) const { return {where + ": " + message}; }
};

inline Error make_error(std::string message) { return Error{std::move(message)}; }

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T &value() & { return std::get<0>(v_); }
  const T &value() const & { return std::get<0>(v_); }
  T &&value() && { return std::get<0>(std::move(v_)); }
  T *operator->() { return &value(); }
  const T *operator->() const { return &value(); }
  T &operator*() { return value(); }
  const T &operator*() const { return value(); }
  const Error &error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), failed_(true) {}
  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const Error &error() const { return error_; }

 private:
  Error error_;
  bool failed_ = false;
};

using Status = Result<void>;

}  // namespace kx

// Early return on error, keeping the error value: KX_TRY(step());
#define KX_TRY(expr)                              \
  do {                                            \
    auto kx_try_r_ = (expr);                      \
    if (!kx_try_r_) return kx_try_r_.error();     \
  } while (0)

// Unwraps a Result into a new variable or returns its error.
#define KX_ASSIGN(var, expr)                      \
  auto var##_result_ = (expr);                    \
  if (!var##_result_) return var##_result_.error(); \
  auto var = std::move(var##_result_).value()
