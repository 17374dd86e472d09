// bigint.cpp: arbitrary-precision integers (see bigint.hpp).
#include "beamline/bigint.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <ostream>
#include <stdexcept>

namespace beamline {

namespace {

// GCC and Clang's 128-bit integer; __extension__ keeps -Wpedantic quiet about it.
__extension__ using uint128 = unsigned __int128;

// The largest power of `base` that fits in 64 bits, and its exponent: parsing and
// printing work in chunks of that many digits.
struct digit_chunk {
  std::uint64_t power;
  unsigned digits;
};

digit_chunk chunk_for_base(unsigned base) noexcept {
  digit_chunk chunk{base, 1};
  while (chunk.power <= std::numeric_limits<std::uint64_t>::max() / base) {
    chunk.power *= base;
    ++chunk.digits;
  }
  return chunk;
}

int digit_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'z') return c - 'a' + 10;
  if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
  return 99;
}

void check_base(unsigned base) {
  if (base < 2 || base > 36) {
    throw std::invalid_argument("integer base must be 2..36, got " + std::to_string(base));
  }
}

}  // namespace

void bigint::assign(std::int64_t value) {
  // -(value + 1) + 1 avoids overflow for INT64_MIN.
  const std::uint64_t magnitude =
      value < 0 ? static_cast<std::uint64_t>(-(value + 1)) + 1 : static_cast<std::uint64_t>(value);
  assign_magnitude(magnitude, value < 0);
}

void bigint::assign_magnitude(std::uint64_t magnitude, bool negative) {
  magnitude_.clear();
  if (magnitude != 0) magnitude_.push_back(magnitude);
  negative_ = negative && magnitude != 0;
}

void bigint::trim() noexcept {
  while (!magnitude_.empty() && magnitude_.back() == 0) magnitude_.pop_back();
  if (magnitude_.empty()) negative_ = false;
}

bigint bigint::from_string(std::string_view text, unsigned base) {
  check_base(base);
  bool negative = false;
  if (!text.empty() && (text.front() == '-' || text.front() == '+')) {
    negative = text.front() == '-';
    text.remove_prefix(1);
  }
  if (text.empty()) throw std::invalid_argument("integer text has no digits");
  const digit_chunk chunk = chunk_for_base(base);
  bigint result;
  std::size_t position = 0;
  // The first chunk takes the odd digits, so every later chunk is a full one.
  std::size_t length = text.size() % chunk.digits;
  if (length == 0) length = chunk.digits;
  while (position < text.size()) {
    std::uint64_t value = 0;
    std::uint64_t scale = 1;
    for (std::size_t i = 0; i < length; ++i) {
      const int digit = digit_value(text[position + i]);
      if (digit >= static_cast<int>(base)) {
        throw std::invalid_argument("invalid digit '" + std::string(1, text[position + i]) +
                                    "' for base " + std::to_string(base));
      }
      value = value * base + static_cast<unsigned>(digit);
      scale *= base;
    }
    result.multiply_add_small(scale, value);
    position += length;
    length = chunk.digits;
  }
  result.negative_ = negative;
  result.trim();
  return result;
}

bigint bigint::from_magnitude_bytes(std::span<const std::uint8_t> little_endian, bool negative) {
  bigint result;
  result.magnitude_.assign((little_endian.size() + 7) / 8, 0);
  for (std::size_t i = 0; i < little_endian.size(); ++i)
    result.magnitude_[i / 8] |= std::uint64_t{little_endian[i]} << (8 * (i % 8));
  result.negative_ = negative;
  result.trim();
  return result;
}

bigint bigint::from_limbs(std::span<const std::uint64_t> little_endian, bool negative) {
  bigint result;
  result.magnitude_.assign(little_endian.begin(), little_endian.end());
  result.negative_ = negative;
  result.trim();
  return result;
}

bigint bigint::from_double(double value) {
  if (!std::isfinite(value)) throw std::invalid_argument("bigint::from_double: not finite");
  const double whole = std::trunc(value);
  if (std::fabs(whole) < 9223372036854775808.0) return bigint(static_cast<std::int64_t>(whole));
  // whole = mantissa * 2^shift with a 53-bit mantissa; here shift >= 11.
  int exponent = 0;
  const double fraction = std::frexp(std::fabs(whole), &exponent);
  const auto mantissa = static_cast<std::uint64_t>(std::ldexp(fraction, 53));
  const auto shift = static_cast<std::size_t>(exponent - 53);
  bigint result;
  result.magnitude_.assign(shift / 64 + 2, 0);
  const std::size_t limb = shift / 64;
  const unsigned bit = shift % 64;
  result.magnitude_[limb] = mantissa << bit;
  if (bit != 0) result.magnitude_[limb + 1] = mantissa >> (64 - bit);
  result.negative_ = value < 0;
  result.trim();
  return result;
}

std::vector<std::uint8_t> bigint::magnitude_bytes() const {
  std::vector<std::uint8_t> bytes;
  bytes.reserve(magnitude_.size() * 8);
  for (std::uint64_t limb : magnitude_)
    for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<std::uint8_t>(limb >> (8 * i)));
  while (!bytes.empty() && bytes.back() == 0) bytes.pop_back();
  return bytes;
}

std::size_t bigint::bit_width() const noexcept {
  if (magnitude_.empty()) return 0;
  return (magnitude_.size() - 1) * 64 + static_cast<std::size_t>(std::bit_width(magnitude_.back()));
}

std::optional<std::int64_t> bigint::to_int64() const noexcept {
  if (magnitude_.empty()) return 0;
  if (magnitude_.size() > 1) return std::nullopt;
  const std::uint64_t m = magnitude_[0];
  if (!negative_) {
    if (m > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      return std::nullopt;
    return static_cast<std::int64_t>(m);
  }
  if (m > (std::uint64_t{1} << 63)) return std::nullopt;
  if (m == (std::uint64_t{1} << 63)) return std::numeric_limits<std::int64_t>::min();
  return -static_cast<std::int64_t>(m);
}

double bigint::to_double() const noexcept {
  if (magnitude_.empty()) return 0.0;
  double result = 0;
  if (magnitude_.size() == 1) {
    result = static_cast<double>(magnitude_[0]);
  } else {
    // The top 64 bits, with a sticky low bit standing for every bit below them, round
    // to 53 bits exactly as the whole magnitude would.
    const std::size_t shift = bit_width() - 64;
    const std::size_t limb = shift / 64;
    const unsigned bit = shift % 64;
    std::uint64_t top = magnitude_[limb] >> bit;
    if (bit != 0 && limb + 1 < magnitude_.size()) top |= magnitude_[limb + 1] << (64 - bit);
    bool sticky = bit != 0 && (magnitude_[limb] & ((std::uint64_t{1} << bit) - 1)) != 0;
    for (std::size_t i = 0; i < limb && !sticky; ++i) sticky = magnitude_[i] != 0;
    if (sticky) top |= 1;
    result =
        std::ldexp(static_cast<double>(top), static_cast<int>(std::min<std::size_t>(shift, 2000)));
  }
  return negative_ ? -result : result;
}

std::string bigint::to_string(unsigned base) const {
  check_base(base);
  if (magnitude_.empty()) return "0";
  const digit_chunk chunk = chunk_for_base(base);
  static constexpr char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  bigint rest = *this;
  std::string reversed;
  while (!rest.magnitude_.empty()) {
    std::uint64_t part = rest.divide_small(chunk.power);
    const bool last = rest.magnitude_.empty();
    for (unsigned i = 0; i < chunk.digits && (!last || part != 0); ++i) {
      reversed.push_back(digits[part % base]);
      part /= base;
    }
  }
  if (negative_) reversed.push_back('-');
  return {reversed.rbegin(), reversed.rend()};
}

std::uint64_t bigint::divide_small(std::uint64_t divisor) noexcept {
  uint128 remainder = 0;
  for (std::size_t i = magnitude_.size(); i-- > 0;) {
    const uint128 current = (remainder << 64) | magnitude_[i];
    magnitude_[i] = static_cast<std::uint64_t>(current / divisor);
    remainder = current % divisor;
  }
  const bool negative = negative_;
  trim();
  negative_ = negative && !magnitude_.empty();
  return static_cast<std::uint64_t>(remainder);
}

void bigint::multiply_add_small(std::uint64_t factor, std::uint64_t addend) {
  uint128 carry = addend;
  for (std::uint64_t& limb : magnitude_) {
    const uint128 product = static_cast<uint128>(limb) * factor + carry;
    limb = static_cast<std::uint64_t>(product);
    carry = product >> 64;
  }
  if (carry != 0) magnitude_.push_back(static_cast<std::uint64_t>(carry));
}

void bigint::add_magnitude(std::span<const std::uint64_t> other) {
  if (magnitude_.size() < other.size()) magnitude_.resize(other.size(), 0);
  std::uint64_t carry = 0;
  for (std::size_t i = 0; i < magnitude_.size(); ++i) {
    const std::uint64_t addend = i < other.size() ? other[i] : 0;
    if (addend == 0 && carry == 0 && i >= other.size()) break;
    const uint128 sum = static_cast<uint128>(magnitude_[i]) + addend + carry;
    magnitude_[i] = static_cast<std::uint64_t>(sum);
    carry = static_cast<std::uint64_t>(sum >> 64);
  }
  if (carry != 0) magnitude_.push_back(carry);
}

void bigint::subtract_magnitude_from_larger(std::span<const std::uint64_t> smaller) {
  std::uint64_t borrow = 0;
  for (std::size_t i = 0; i < magnitude_.size(); ++i) {
    const std::uint64_t subtrahend = i < smaller.size() ? smaller[i] : 0;
    if (subtrahend == 0 && borrow == 0 && i >= smaller.size()) break;
    const std::uint64_t before = magnitude_[i];
    magnitude_[i] = before - subtrahend - borrow;
    borrow = (before < subtrahend || (before == subtrahend && borrow != 0)) ? 1 : 0;
  }
  trim();
}

bigint bigint::operator-() const {
  bigint result = *this;
  if (!result.magnitude_.empty()) result.negative_ = !result.negative_;
  return result;
}

bigint& bigint::operator+=(const bigint& other) {
  if (&other == this) {
    const bigint copy = other;
    return *this += copy;
  }
  if (negative_ == other.negative_) {
    add_magnitude(other.magnitude_);
  } else if (compare_magnitudes(magnitude_, other.magnitude_) >= 0) {
    subtract_magnitude_from_larger(other.magnitude_);
  } else {
    bigint result = other;
    result.subtract_magnitude_from_larger(magnitude_);
    *this = std::move(result);
  }
  return *this;
}

bigint& bigint::operator-=(const bigint& other) {
  return *this += -other;
}

bigint& bigint::operator*=(const bigint& other) {
  return *this = *this * other;
}

bigint operator*(const bigint& a, const bigint& b) {
  bigint result;
  if (a.magnitude_.empty() || b.magnitude_.empty()) return result;
  result.magnitude_.assign(a.magnitude_.size() + b.magnitude_.size(), 0);
  for (std::size_t i = 0; i < a.magnitude_.size(); ++i) {
    uint128 carry = 0;
    for (std::size_t j = 0; j < b.magnitude_.size(); ++j) {
      const uint128 product = static_cast<uint128>(a.magnitude_[i]) * b.magnitude_[j] +
                              result.magnitude_[i + j] + carry;
      result.magnitude_[i + j] = static_cast<std::uint64_t>(product);
      carry = product >> 64;
    }
    result.magnitude_[i + b.magnitude_.size()] = static_cast<std::uint64_t>(carry);
  }
  result.negative_ = a.negative_ != b.negative_;
  result.trim();
  return result;
}

std::strong_ordering bigint::compare_magnitudes(std::span<const std::uint64_t> a,
                                                std::span<const std::uint64_t> b) noexcept {
  if (a.size() != b.size()) return a.size() <=> b.size();
  for (std::size_t i = a.size(); i-- > 0;)
    if (a[i] != b[i]) return a[i] <=> b[i];
  return std::strong_ordering::equal;
}

std::strong_ordering operator<=>(const bigint& a, const bigint& b) noexcept {
  if (a.negative_ != b.negative_) {
    return a.negative_ ? std::strong_ordering::less : std::strong_ordering::greater;
  }
  const auto order = bigint::compare_magnitudes(a.magnitude_, b.magnitude_);
  return a.negative_ ? 0 <=> order : order;
}

std::ostream& operator<<(std::ostream& os, const bigint& value) {
  return os << value.to_string();
}

}  // namespace beamline
