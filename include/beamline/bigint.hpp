// beamline/bigint.hpp: arbitrary-precision integers.
//
// A bigint is a sign and a magnitude of 64-bit limbs, least significant first. It is
// what a term holds for an integer outside 64 bits, and what the external term format
// carries as SMALL_BIG_EXT / LARGE_BIG_EXT (a sign and little-endian magnitude bytes).
//
// Invariants: the magnitude has no most-significant zero limbs (zero is the empty
// magnitude), and zero is never negative. So every value has exactly one
// representation and equality is structural.
//
// Cost: addition and subtraction are linear; multiplication, parsing and printing are
// quadratic in the number of limbs (schoolbook), fine for the sizes terms carry.
#pragma once

#include <compare>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace beamline {

// An integer type that is not bool: what converts to an integer term or a bigint.
template <class T>
concept non_bool_integral = std::integral<T> && !std::same_as<std::remove_cv_t<T>, bool>;

class bigint {
 public:
  // Zero.
  bigint() noexcept = default;

  // Any integer value (not bool).
  template <non_bool_integral T>
  bigint(T value) {  // NOLINT(google-explicit-constructor): integers convert losslessly
    if constexpr (std::is_signed_v<T>) {
      assign(static_cast<std::int64_t>(value));
    } else {
      assign_magnitude(static_cast<std::uint64_t>(value), false);
    }
  }

  // Parses an optional sign and digits in `base` (2..36, letters either case), with
  // no separators. Throws std::invalid_argument on anything else.
  static bigint from_string(std::string_view text, unsigned base = 10);

  // From a magnitude as little-endian bytes (the external term format's layout).
  static bigint from_magnitude_bytes(std::span<const std::uint8_t> little_endian, bool negative);

  // From a magnitude as little-endian 64-bit limbs.
  static bigint from_limbs(std::span<const std::uint64_t> little_endian, bool negative);

  // The integer part of a finite double (rounded toward zero), exactly.
  // Throws std::invalid_argument for infinities and NaN.
  static bigint from_double(double value);

  bool is_zero() const noexcept { return magnitude_.empty(); }
  bool is_negative() const noexcept { return negative_; }
  int sign() const noexcept { return negative_ ? -1 : (magnitude_.empty() ? 0 : 1); }

  // The magnitude, least significant limb first, without high zero limbs.
  std::span<const std::uint64_t> limbs() const noexcept { return magnitude_; }

  // The magnitude as little-endian bytes without high zero bytes (empty for zero).
  std::vector<std::uint8_t> magnitude_bytes() const;

  // The number of bits of the magnitude (0 for zero).
  std::size_t bit_width() const noexcept;

  std::optional<std::int64_t> to_int64() const noexcept;
  bool fits_int64() const noexcept { return to_int64().has_value(); }

  // The nearest double (ties to even); +-infinity past the double range.
  double to_double() const noexcept;

  // Digits in `base` (2..36, lowercase letters), with a leading '-' if negative.
  std::string to_string(unsigned base = 10) const;

  bigint operator-() const;
  bigint& operator+=(const bigint& other);
  bigint& operator-=(const bigint& other);
  bigint& operator*=(const bigint& other);
  friend bigint operator+(bigint a, const bigint& b) { return a += b; }
  friend bigint operator-(bigint a, const bigint& b) { return a -= b; }
  friend bigint operator*(const bigint& a, const bigint& b);

  friend bool operator==(const bigint& a, const bigint& b) noexcept = default;
  friend std::strong_ordering operator<=>(const bigint& a, const bigint& b) noexcept;

  // Compares two magnitudes (little-endian limbs without high zero limbs).
  static std::strong_ordering compare_magnitudes(std::span<const std::uint64_t> a,
                                                 std::span<const std::uint64_t> b) noexcept;

 private:
  void assign(std::int64_t value);
  void assign_magnitude(std::uint64_t magnitude, bool negative);
  void trim() noexcept;
  void add_magnitude(std::span<const std::uint64_t> other);
  void subtract_magnitude_from_larger(std::span<const std::uint64_t> smaller);
  void multiply_add_small(std::uint64_t factor, std::uint64_t addend);
  std::uint64_t divide_small(std::uint64_t divisor) noexcept;  // returns the remainder

  bool negative_ = false;
  std::vector<std::uint64_t> magnitude_;
};

std::ostream& operator<<(std::ostream& os, const bigint& value);

}  // namespace beamline
