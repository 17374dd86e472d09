// term_roundtrip_test: the property parse(t.to_string()) == t, for random terms of
// every kind that has a readable printed form.
#include <gtest/gtest.h>

#include "beamline/term.hpp"
#include "term_generator.hpp"

namespace bl = beamline;

namespace {

using bl::term;

TEST(term_roundtrip, random_terms_read_back_exactly) {
  const int count = static_cast<int>(20000 * BEAMLINE_STRESS_SCALE) + 200;
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    beamline_test::term_generator generate(seed);
    for (int i = 0; i < count / 4; ++i) {
      const term t = generate.any(5);
      const std::string text = t.to_string();
      term back;
      try {
        back = term::parse(text);
      } catch (const bl::parse_error& e) {
        FAIL() << "seed " << seed << ", term " << i << ": " << text << "\n" << e.what();
      }
      ASSERT_EQ(back, t) << "seed " << seed << ", term " << i << ": " << text << "\nread back as "
                         << back.to_string();
      ASSERT_EQ(back.to_string(), text);
      ASSERT_EQ(back.hash(), t.hash());
    }
  }
}

TEST(term_roundtrip, every_float_bit_pattern_class) {
  // Subnormals, powers of two and ten, and the integers around 2^53.
  std::vector<double> values = {5e-324, 2.2250738585072009e-308, 2.2250738585072014e-308,
                                1.7976931348623157e308};
  for (int e = -1074; e <= 1023; e += 7) values.push_back(std::ldexp(1.0, e));
  for (int e = -300; e <= 300; e += 3) values.push_back(std::pow(10.0, e));
  for (std::int64_t i = -20; i < 20; ++i)
    values.push_back(static_cast<double>((std::int64_t{1} << 53) + i));
  for (const double d : values) {
    for (const double v : {d, -d}) {
      const std::string text = term(v).to_string();
      ASSERT_EQ(term::parse(text), term(v)) << text;
    }
  }
}

}  // namespace
