// bigint_test: parsing and printing in every base, arithmetic against a 128-bit
// reference, the external term format's byte layout, conversions and order.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>

#include "beamline/bigint.hpp"

namespace bl = beamline;

namespace {

__extension__ using int128 = __int128;

std::string to_decimal(int128 value) {
  if (value == 0) return "0";
  const bool negative = value < 0;
  __extension__ unsigned __int128 magnitude =
      negative ? -static_cast<unsigned __int128>(value) : static_cast<unsigned __int128>(value);
  std::string digits;
  while (magnitude != 0) {
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(magnitude % 10)));
    magnitude /= 10;
  }
  return negative ? "-" + digits : digits;
}

TEST(bigint, zero_is_canonical) {
  const bl::bigint zero;
  EXPECT_TRUE(zero.is_zero());
  EXPECT_FALSE(zero.is_negative());
  EXPECT_EQ(zero.sign(), 0);
  EXPECT_EQ(zero.to_string(), "0");
  EXPECT_EQ(bl::bigint::from_string("-0"), zero);
  EXPECT_EQ(-zero, zero);
  EXPECT_EQ(bl::bigint(5) - bl::bigint(5), zero);
  EXPECT_EQ(bl::bigint(-5) * bl::bigint(0), zero);
  EXPECT_FALSE((bl::bigint(-5) * bl::bigint(0)).is_negative());
  EXPECT_TRUE(zero.magnitude_bytes().empty());
}

TEST(bigint, decimal_round_trip) {
  for (const char* text : {"0", "1", "-1", "9223372036854775807", "-9223372036854775808",
                           "9223372036854775808", "18446744073709551615", "18446744073709551616",
                           "1606938044258990275541962092341162602522202993782792835301376",
                           "-515377520732011331036461129765621272702107522001",
                           "815915283247897734345611269596115894272000000000",
                           "10000000000000000000", "100000000000000000000000000000000000000"}) {
    EXPECT_EQ(bl::bigint::from_string(text).to_string(), text);
  }
  EXPECT_EQ(bl::bigint::from_string("+42").to_string(), "42");
  EXPECT_EQ(bl::bigint::from_string("000123").to_string(), "123");
}

TEST(bigint, other_bases) {
  EXPECT_EQ(bl::bigint::from_string("ff", 16), bl::bigint(255));
  EXPECT_EQ(bl::bigint::from_string("FF", 16), bl::bigint(255));
  EXPECT_EQ(bl::bigint::from_string("zz", 36), bl::bigint(1295));
  EXPECT_EQ(bl::bigint::from_string("-101", 2), bl::bigint(-5));
  const bl::bigint big = bl::bigint::from_string("400000000000000000000000000003039", 16);
  EXPECT_EQ(big.to_string(16), "400000000000000000000000000003039");
  for (unsigned base = 2; base <= 36; ++base) {
    const bl::bigint value = bl::bigint::from_string("-123456789012345678901234567890");
    EXPECT_EQ(bl::bigint::from_string(value.to_string(base), base), value) << "base " << base;
  }
}

TEST(bigint, rejects_bad_text) {
  EXPECT_THROW(bl::bigint::from_string(""), std::invalid_argument);
  EXPECT_THROW(bl::bigint::from_string("-"), std::invalid_argument);
  EXPECT_THROW(bl::bigint::from_string("12a"), std::invalid_argument);
  EXPECT_THROW(bl::bigint::from_string("1 2"), std::invalid_argument);
  EXPECT_THROW(bl::bigint::from_string("2", 2), std::invalid_argument);
  EXPECT_THROW(bl::bigint::from_string("1", 1), std::invalid_argument);
  EXPECT_THROW(bl::bigint::from_string("1", 37), std::invalid_argument);
  EXPECT_THROW(bl::bigint(1).to_string(40), std::invalid_argument);
}

TEST(bigint, arithmetic_matches_128_bit_reference) {
  std::mt19937_64 random(12345);
  for (int i = 0; i < 20000; ++i) {
    // Operands up to 62 bits keep products and sums inside int128.
    const int shift_a = static_cast<int>(random() % 63);
    const int shift_b = static_cast<int>(random() % 63);
    auto a = static_cast<std::int64_t>(random() >> (shift_a + 1));
    auto b = static_cast<std::int64_t>(random() >> (shift_b + 1));
    if (random() & 1) a = -a;
    if (random() & 1) b = -b;
    const bl::bigint x(a);
    const bl::bigint y(b);
    EXPECT_EQ((x + y).to_string(), to_decimal(int128{a} + b));
    EXPECT_EQ((x - y).to_string(), to_decimal(int128{a} - b));
    EXPECT_EQ((x * y).to_string(), to_decimal(int128{a} * b));
    EXPECT_EQ(x <=> y, a <=> b);
    // Through a wider value: (x * y + x) - x * y == x.
    EXPECT_EQ((x * y + x) - x * y, x);
  }
}

TEST(bigint, multi_limb_arithmetic) {
  const bl::bigint two_to_64 = bl::bigint::from_string("18446744073709551616");
  const bl::bigint max64 = bl::bigint(std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ((max64 * max64).to_string(), "340282366920938463426481119284349108225");
  EXPECT_EQ((two_to_64 * bl::bigint(3) - bl::bigint(7) - two_to_64 - two_to_64).to_string(),
            "18446744073709551609");
  bl::bigint power(1);
  for (int i = 0; i < 200; ++i) power *= bl::bigint(2);
  EXPECT_EQ(power.to_string(), "1606938044258990275541962092341162602522202993782792835301376");
  EXPECT_EQ(power.bit_width(), 201u);
  bl::bigint factorial(1);
  for (int i = 2; i <= 40; ++i) factorial *= bl::bigint(i);
  EXPECT_EQ(factorial.to_string(), "815915283247897734345611269596115894272000000000");
  // Aliased operands (x += x, x -= x) through a reference, as generic code may do.
  bl::bigint self = power;
  const bl::bigint& alias = self;
  self += alias;
  EXPECT_EQ(self, power * bl::bigint(2));
  self -= alias;
  EXPECT_TRUE(self.is_zero());
  EXPECT_EQ(-power + power, bl::bigint());
  EXPECT_EQ(bl::bigint(-3) + power - power, bl::bigint(-3));
}

TEST(bigint, magnitude_bytes_are_little_endian_and_minimal) {
  const bl::bigint value(0x0102030405);
  EXPECT_EQ(value.magnitude_bytes(), (std::vector<std::uint8_t>{5, 4, 3, 2, 1}));
  const std::vector<std::uint8_t> bytes{0, 0, 0, 0, 0, 0, 0, 0, 1};  // 2^64
  const bl::bigint two_to_64 = bl::bigint::from_magnitude_bytes(bytes, true);
  EXPECT_EQ(two_to_64.to_string(), "-18446744073709551616");
  EXPECT_EQ(two_to_64.magnitude_bytes(), bytes);
  // Non-minimal input (high zero bytes) gives the canonical value.
  const std::vector<std::uint8_t> padded{7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(bl::bigint::from_magnitude_bytes(padded, false), bl::bigint(7));
  EXPECT_EQ(bl::bigint::from_magnitude_bytes(std::vector<std::uint8_t>{0, 0}, true), bl::bigint());
  const std::uint64_t limbs[] = {1, 2, 0};
  EXPECT_EQ(bl::bigint::from_limbs(limbs, false).limbs().size(), 2u);
}

TEST(bigint, int64_conversions) {
  constexpr auto min = std::numeric_limits<std::int64_t>::min();
  constexpr auto max = std::numeric_limits<std::int64_t>::max();
  EXPECT_EQ(bl::bigint(min).to_int64(), min);
  EXPECT_EQ(bl::bigint(max).to_int64(), max);
  EXPECT_EQ(bl::bigint(min).to_string(), "-9223372036854775808");
  EXPECT_FALSE((bl::bigint(max) + bl::bigint(1)).fits_int64());
  EXPECT_FALSE((bl::bigint(min) - bl::bigint(1)).fits_int64());
  EXPECT_TRUE(bl::bigint(0).fits_int64());
  EXPECT_EQ(bl::bigint(std::numeric_limits<std::uint64_t>::max()).to_string(),
            "18446744073709551615");
}

TEST(bigint, double_conversions) {
  EXPECT_EQ(bl::bigint(0).to_double(), 0.0);
  EXPECT_EQ(bl::bigint(-12345).to_double(), -12345.0);
  const bl::bigint two_to_80_plus_1 = bl::bigint::from_string("1208925819614629174706177");
  EXPECT_EQ(two_to_80_plus_1.to_double(), 1.2089258196146292e+24);
  // Ties round to even: 2^64 + 2^11 (halfway between 2^64 and 2^64 + 2^12) rounds down,
  // 2^64 + 2^11 + 1 rounds up.
  const bl::bigint two_to_64 = bl::bigint::from_string("18446744073709551616");
  EXPECT_EQ((two_to_64 + bl::bigint(2048)).to_double(), 18446744073709551616.0);
  EXPECT_EQ((two_to_64 + bl::bigint(2049)).to_double(), 18446744073709555712.0);
  bl::bigint huge(1);
  for (int i = 0; i < 1100; ++i) huge *= bl::bigint(2);
  EXPECT_TRUE(std::isinf(huge.to_double()));
  EXPECT_EQ(bl::bigint::from_double(1e300).to_string(),
            "10000000000000000525047602552044202487044685811081591549158541155118024579889081957863"
            "71375080447864043704443832883878176942523235360430575644792184786706982848387200926575"
            "80373783023379478809005936895323497079994508111903896764088007465274278014249457925878"
            "8820056842838115669472196386865459400540160");
  EXPECT_EQ(bl::bigint::from_double(-2.9), bl::bigint(-2));
  EXPECT_EQ(bl::bigint::from_double(9223372036854775808.0).to_string(), "9223372036854775808");
  EXPECT_EQ(bl::bigint::from_double(1e300).to_double(), 1e300);
  EXPECT_THROW(bl::bigint::from_double(std::numeric_limits<double>::infinity()),
               std::invalid_argument);
  EXPECT_THROW(bl::bigint::from_double(std::nan("")), std::invalid_argument);
}

TEST(bigint, order) {
  const bl::bigint big = bl::bigint::from_string("100000000000000000000");
  EXPECT_LT(-big, bl::bigint(-1));
  EXPECT_LT(bl::bigint(-1), bl::bigint(0));
  EXPECT_LT(bl::bigint(0), big);
  EXPECT_LT(big, big * big);
  EXPECT_LT(-(big * big), -big);
  EXPECT_EQ(big <=> bl::bigint::from_string("100000000000000000000"), std::strong_ordering::equal);
}

}  // namespace
