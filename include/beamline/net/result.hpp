// beamline/net/result.hpp: errors as values for socket operations.
//
//     bl::net::result<std::size_t> n = co_await socket.read_some(buffer);
//     if (!n) log(n.error().message());        // a std::error_code, never a throw
//     else if (*n == 0) ...                    // the peer closed its side
//
// result<T> holds a T or a std::error_code (std::expected arrives with C++23).
// value() throws std::system_error when it holds an error, for code that prefers
// exceptions; the operations themselves never throw for IO failures. Errors from
// the operating system use std::generic_category (compare with std::errc values:
// `n.error() == std::errc::timed_out`); those particular to beamline's framing use
// net::error below.
#pragma once

#include <optional>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

namespace beamline::net {

enum class error {
  end_of_stream = 1,  // the peer closed before the data asked for arrived
  frame_too_large,    // a length prefix above the configured maximum frame size
  line_too_long,      // no delimiter within the configured maximum frame size
  not_open,           // the socket was closed (or moved from)
};

const std::error_category& error_category() noexcept;

inline std::error_code make_error_code(error e) noexcept {
  return {static_cast<int>(e), error_category()};
}

}  // namespace beamline::net

template <>
struct std::is_error_code_enum<beamline::net::error> : std::true_type {};

namespace beamline::net {

template <class T>
class [[nodiscard]] result {
 public:
  result(T value) : value_(std::move(value)) {}  // NOLINT: implicit like std::expected
  result(std::error_code error) noexcept : error_(error) {}
  result(std::errc error) noexcept : error_(std::make_error_code(error)) {}
  result(net::error error) noexcept : error_(make_error_code(error)) {}

  bool has_value() const noexcept { return !error_; }
  explicit operator bool() const noexcept { return has_value(); }
  std::error_code error() const noexcept { return error_; }

  T& value() & {
    check();
    return *value_;
  }
  const T& value() const& {
    check();
    return *value_;
  }
  T&& value() && {
    check();
    return std::move(*value_);
  }
  T& operator*() & noexcept { return *value_; }
  const T& operator*() const& noexcept { return *value_; }
  T&& operator*() && noexcept { return std::move(*value_); }
  T* operator->() noexcept { return &*value_; }
  const T* operator->() const noexcept { return &*value_; }

 private:
  void check() const {
    if (error_) throw std::system_error(error_);
  }
  std::optional<T> value_;
  std::error_code error_;
};

template <>
class [[nodiscard]] result<void> {
 public:
  result() noexcept = default;
  result(std::error_code error) noexcept : error_(error) {}
  result(std::errc error) noexcept : error_(std::make_error_code(error)) {}
  result(net::error error) noexcept : error_(make_error_code(error)) {}

  bool has_value() const noexcept { return !error_; }
  explicit operator bool() const noexcept { return has_value(); }
  std::error_code error() const noexcept { return error_; }
  void value() const {
    if (error_) throw std::system_error(error_);
  }

 private:
  std::error_code error_;
};

}  // namespace beamline::net
