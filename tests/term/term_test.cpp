// term_test: building terms of every kind, reading them back, the errors for the
// wrong kind, what allocates and what does not, shared storage, and deep terms.
#include <gtest/gtest.h>

#include <cstdlib>
#include <limits>
#include <new>
#include <string>
#include <unordered_set>
#include <vector>

#include "beamline/fun.hpp"
#include "beamline/term.hpp"

namespace bl = beamline;

// Counts this thread's allocations, to check which terms are free to make, by
// replacing operator new. ThreadSanitizer's runtime defines operator new itself (it
// cannot be replaced there), so under TSan the counting tests are skipped; the
// release and ASan builds run them.
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define BEAMLINE_NO_ALLOCATION_COUNT 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define BEAMLINE_NO_ALLOCATION_COUNT 1
#endif

namespace {
thread_local std::size_t allocations = 0;
}

#ifndef BEAMLINE_NO_ALLOCATION_COUNT
namespace {
void* counted_allocation(std::size_t size) noexcept {
  ++allocations;
  return std::malloc(size == 0 ? 1 : size);
}
}  // namespace

// Every unaligned form, so that no allocation meets a deallocation of another family.
// Not inlined, so that g++ does not pair our free() with its built-in operator new.
[[gnu::noinline]] void* operator new(std::size_t size) {
  if (void* p = counted_allocation(size)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void* operator new[](std::size_t size) {
  return ::operator new(size);
}
[[gnu::noinline]] void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  return counted_allocation(size);
}
[[gnu::noinline]] void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  return counted_allocation(size);
}
[[gnu::noinline]] void operator delete(void* p) noexcept {
  std::free(p);
}
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
[[gnu::noinline]] void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
[[gnu::noinline]] void operator delete[](void* p) noexcept {
  std::free(p);
}
[[gnu::noinline]] void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
[[gnu::noinline]] void operator delete[](void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
#endif

namespace {

using bl::term;

#ifdef BEAMLINE_NO_ALLOCATION_COUNT
constexpr bool counting_allocations = false;
#define SKIP_WITHOUT_ALLOCATION_COUNT() GTEST_SKIP() << "operator new cannot be replaced under TSan"
#else
constexpr bool counting_allocations = true;
#define SKIP_WITHOUT_ALLOCATION_COUNT() (void)0
#endif

// The number of allocations `make` does.
template <class Make>
std::size_t allocations_of(Make&& make) {
  const std::size_t before = allocations;
  make();
  return allocations - before;
}

// The message of the badarg that `f` throws.
template <class F>
std::string badarg_message(F&& f) {
  try {
    f();
  } catch (const bl::badarg& e) {
    return e.what();
  }
  return "(no badarg)";
}

TEST(term, is_sixteen_bytes) {
  static_assert(sizeof(term) == 16);
  static_assert(std::is_nothrow_copy_constructible_v<term>);
  static_assert(std::is_nothrow_move_constructible_v<term>);
}

TEST(term, default_is_undefined) {
  const term t;
  EXPECT_TRUE(t.is_atom());
  EXPECT_EQ(t.as_atom(), bl::atoms::undefined);
  constexpr term constant = bl::atoms::ok;
  static_assert(constant.is_atom());
  static_assert(term(42).is_integer());
  static_assert(term::nil().is_nil());
}

TEST(term, inline_terms_do_not_allocate) {
  SKIP_WITHOUT_ALLOCATION_COUNT();
  EXPECT_EQ(allocations_of([] { term t(bl::atoms::ok); }), 0u);
  EXPECT_EQ(allocations_of([] { term t(std::numeric_limits<std::int64_t>::min()); }), 0u);
  EXPECT_EQ(allocations_of([] { term t(std::numeric_limits<std::int64_t>::max()); }), 0u);
  EXPECT_EQ(allocations_of([] { term t(3.25); }), 0u);
  EXPECT_EQ(allocations_of([] { term t(bl::pid{93, 2, 0, 0}); }), 0u);
  EXPECT_EQ(allocations_of([] { term t(bl::ref::local(123456789)); }), 0u);
  EXPECT_EQ(allocations_of([] { term t(bl::port{7, 0, 0}); }), 0u);
  EXPECT_EQ(allocations_of([] { term t = term::nil(); }), 0u);
  EXPECT_EQ(allocations_of([] { term t = term::tuple(); }), 0u);
  EXPECT_EQ(allocations_of([] { term t = term::map({}); }), 0u);
  EXPECT_EQ(allocations_of([] { term t = term::binary(""); }), 0u);
  EXPECT_EQ(allocations_of([] { term t = term::string(""); }), 0u);
}

TEST(term, boxed_terms_allocate_once_and_copies_share) {
  SKIP_WITHOUT_ALLOCATION_COUNT();
  term tuple;
  EXPECT_EQ(allocations_of([&] { tuple = term::tuple(bl::atoms::ok, 1, 2.5); }), 1u);
  EXPECT_EQ(allocations_of([&] {
              term copy = tuple;
              term another(copy);
              term moved = std::move(another);
              EXPECT_EQ(moved, tuple);
            }),
            0u);
  const term list = term::list({1, 2, 3, 4});
  term rest;
  EXPECT_EQ(allocations_of([&] { rest = list.tail().tail(); }), 0u);  // shares the chunk
  EXPECT_EQ(rest, term::list({3, 4}));
}

TEST(term, integers) {
  EXPECT_EQ(term(42).as_int(), 42);
  EXPECT_EQ(term(-7).kind(), term::kind::integer);
  EXPECT_EQ(term(std::uint8_t{200}).as_int(), 200);
  EXPECT_EQ(term(std::int8_t{-5}).as_int(), -5);
  EXPECT_EQ(term(std::uint32_t{4000000000u}).as_int(), 4000000000);
  EXPECT_EQ(term(std::numeric_limits<std::int64_t>::min()).as_int(),
            std::numeric_limits<std::int64_t>::min());
  // Above int64: a big integer, with the exact value.
  const term big(std::numeric_limits<std::uint64_t>::max());
  EXPECT_TRUE(big.is_integer());
  EXPECT_EQ(big.kind(), term::kind::integer);
  EXPECT_EQ(big.as_bigint().to_string(), "18446744073709551615");
  EXPECT_EQ(big.to_string(), "18446744073709551615");
  const std::string message = badarg_message([&] { (void)big.as_int(); });
  EXPECT_NE(message.find("does not fit in 64 bits"), std::string::npos) << message;
  EXPECT_EQ(term(std::uint64_t{5}).as_int(), 5);
}

TEST(term, big_integers_are_canonical) {
  // A value that fits in int64 is always small, however it is made.
  const term from_text = term::integer_from_string("123");
  EXPECT_EQ(from_text, term(123));
  EXPECT_EQ(term(bl::bigint::from_string("-9223372036854775808")),
            term(std::numeric_limits<std::int64_t>::min()));
  const bl::bigint five(5);
  if (counting_allocations) {
    EXPECT_EQ(allocations_of([&] { term t(five); }), 0u);
  }
  const term big = term::integer_from_string("-123456789012345678901234567890");
  EXPECT_EQ(big.as_bigint().to_string(), "-123456789012345678901234567890");
  EXPECT_EQ(big, term::integer_from_string("-123456789012345678901234567890"));
  EXPECT_EQ(term::integer_from_string("ff", 16), term(255));
  EXPECT_THROW(term::integer_from_string("12x"), bl::badarg);
}

TEST(term, booleans_and_characters) {
  // bool is the atom, not an integer.
  EXPECT_EQ(term(true), term(bl::atoms::true_));
  EXPECT_EQ(term(false), term(bl::atoms::false_));
  EXPECT_TRUE(term(true).is_boolean());
  EXPECT_TRUE(term(true).as_bool());
  EXPECT_FALSE(term(false).as_bool());
  EXPECT_FALSE(term(bl::atoms::ok).is_boolean());
  EXPECT_THROW((void)term(bl::atoms::ok).as_bool(), bl::badarg);
  // A character is its code, like Erlang's $a; a char reads as unsigned.
  EXPECT_EQ(term('a'), term(97));
  EXPECT_EQ(term('\xff'), term(255));
  EXPECT_EQ(term(U'λ'), term(955));
  EXPECT_EQ(term(u8'x'), term(120));
  // Pointers do not convert (term("x") would otherwise be the atom true).
  static_assert(!std::is_constructible_v<term, const char*>);
  static_assert(!std::is_constructible_v<term, std::nullptr_t>);
  static_assert(!std::is_convertible_v<const char*, term>);
  static_assert(!std::is_convertible_v<std::string, term>);
}

TEST(term, floats) {
  EXPECT_EQ(term(2.5).as_double(), 2.5);
  EXPECT_EQ(term(1.5f).as_double(), 1.5);
  EXPECT_TRUE(term(0.0).is_float());
  EXPECT_TRUE(std::signbit(term(-0.0).as_double()));
  EXPECT_THROW(term{std::numeric_limits<double>::infinity()}, bl::badarg);
  EXPECT_THROW(term{-std::numeric_limits<double>::infinity()}, bl::badarg);
  EXPECT_THROW(term{std::nan("")}, bl::badarg);
  EXPECT_THROW((void)term(1).as_double(), bl::badarg);
}

TEST(term, tuples) {
  const term t = term::tuple(bl::atoms::ok, 42, term::string("x"));
  EXPECT_TRUE(t.is_tuple());
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(t[0], bl::atoms::ok);
  EXPECT_EQ(t.element(1), 42);
  EXPECT_EQ(t[2], term::string("x"));
  EXPECT_EQ(t.elements().size(), 3u);
  EXPECT_EQ(term::tuple({bl::atoms::ok, 42, term::string("x")}), t);
  const std::vector<term> parts{bl::atoms::ok, 42, term::string("x")};
  EXPECT_EQ(term::tuple(parts), t);
  std::vector<term> moved_parts = parts;
  EXPECT_EQ(term::tuple(std::move(moved_parts)), t);  // moves the elements in
  EXPECT_EQ(term::tuple(term(1)).size(), 1u);         // a one-tuple, not a copy
  const term empty = term::tuple();
  EXPECT_TRUE(empty.is_tuple());
  EXPECT_EQ(empty.size(), 0u);
  EXPECT_EQ(empty, term::tuple({}));
  EXPECT_EQ(empty, term::tuple(std::vector<term>{}));
  const std::string message = badarg_message([&] { (void)t.element(3); });
  EXPECT_NE(message.find("out of range"), std::string::npos) << message;
  EXPECT_THROW((void)empty[0], bl::badarg);
  EXPECT_THROW((void)term(1).elements(), bl::badarg);
}

TEST(term, lists) {
  const term l = term::list({1, 2, 3});
  EXPECT_TRUE(l.is_list());
  EXPECT_EQ(l.kind(), term::kind::list);
  EXPECT_EQ(l.head(), 1);
  EXPECT_EQ(l.tail(), term::list({2, 3}));
  EXPECT_EQ(l.tail().tail().tail(), term::nil());
  EXPECT_EQ(l.length(), 3u);
  EXPECT_TRUE(l.is_proper_list());
  EXPECT_EQ(term::list(std::vector<term>{1, 2, 3}), l);
  EXPECT_EQ(term::improper_list(std::vector<term>{1, 2}, term::list({3})), l);
  std::vector<std::int64_t> seen;
  for (const term& e : l.as_list()) seen.push_back(e.as_int());
  EXPECT_EQ(seen, (std::vector<std::int64_t>{1, 2, 3}));
  EXPECT_TRUE(l.as_list().tail().is_nil());
  EXPECT_EQ(term::list({}), term::nil());
  EXPECT_TRUE(term::nil().is_list());
  EXPECT_EQ(term::nil().kind(), term::kind::nil);
  EXPECT_TRUE(term::nil().as_list().empty());
  EXPECT_EQ(term::nil().length(), 0u);
  EXPECT_THROW((void)term::nil().head(), bl::badarg);
  EXPECT_THROW((void)term::nil().tail(), bl::badarg);
  EXPECT_THROW((void)term(1).as_list(), bl::badarg);
}

TEST(term, improper_lists_and_cons) {
  const term improper = term::improper_list({1, 2}, bl::atoms::ok);
  EXPECT_FALSE(improper.is_proper_list());
  EXPECT_EQ(improper.as_list().tail(), bl::atoms::ok);
  EXPECT_EQ(improper.tail().tail(), bl::atoms::ok);
  EXPECT_THROW((void)improper.length(), bl::badarg);
  EXPECT_EQ(term::improper_list({}, bl::atoms::ok), bl::atoms::ok);
  // A list tail continues the list: equal to the flat list, however it is chunked.
  const term joined = term::improper_list({1, 2}, term::list({3, 4}));
  EXPECT_EQ(joined, term::list({1, 2, 3, 4}));
  EXPECT_EQ(joined.length(), 4u);
  EXPECT_EQ(joined.hash(), term::list({1, 2, 3, 4}).hash());
  const term consed = term::cons(0, joined);
  EXPECT_EQ(consed, term::list({0, 1, 2, 3, 4}));
  std::vector<std::int64_t> seen;
  for (const term& e : consed.as_list()) seen.push_back(e.as_int());
  EXPECT_EQ(seen, (std::vector<std::int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(term::cons(1, 2).as_list().tail(), 2);
}

TEST(term, list_iterator_rest) {
  const term l = term::improper_list({1, 2, 3}, bl::atoms::ok);
  const term::list_view view = l.as_list();
  auto it = view.begin();
  EXPECT_EQ(it.rest(), l);
  ++it;
  EXPECT_EQ(it.rest(), term::improper_list({2, 3}, bl::atoms::ok));
  ++it;
  ++it;
  EXPECT_TRUE(it == view.end());
  EXPECT_EQ(it.rest(), bl::atoms::ok);
}

TEST(term, strings) {
  const term s = term::string("abc");
  EXPECT_EQ(s, term::list({'a', 'b', 'c'}));
  EXPECT_EQ(s.as_string(), "abc");
  EXPECT_EQ(term::string("hλ"), term::list({104, 955}));
  EXPECT_EQ(term::string("hλ").as_string(), "hλ");
  EXPECT_EQ(term::string(""), term::nil());
  EXPECT_EQ(term::nil().as_string(), "");
  EXPECT_THROW(term::string("\xff"), bl::badarg);
  EXPECT_EQ(term::latin1_string("\xe9t\xe9"), term::list({233, 116, 233}));
  EXPECT_THROW((void)term::list({1, -1}).as_string(), bl::badarg);
  EXPECT_THROW((void)term::list({0xD800}).as_string(), bl::badarg);
  EXPECT_THROW((void)term::improper_list({97}, 98).as_string(), bl::badarg);
}

TEST(term, binaries) {
  const term b = term::binary("hello");
  EXPECT_TRUE(b.is_binary());
  EXPECT_TRUE(b.is_bitstring());
  EXPECT_EQ(b.kind(), term::kind::binary);
  EXPECT_EQ(b.as_binary(), "hello");
  EXPECT_EQ(b.byte_size(), 5u);
  EXPECT_EQ(b.bit_size(), 40u);
  const std::uint8_t raw[] = {1, 2, 3};
  EXPECT_EQ(term::binary(raw, 3), term::binary(std::as_bytes(std::span(raw))));
  EXPECT_EQ(term::binary(raw, 3).bytes().size(), 3u);
  EXPECT_EQ(term::binary(""), term::binary(std::span<const std::byte>()));
  EXPECT_TRUE(term::binary("").is_binary());
  EXPECT_EQ(term::binary("").as_binary(), "");
  EXPECT_NE(term::binary("abc"), term::string("abc"));
  EXPECT_THROW((void)term(1).as_binary(), bl::badarg);
}

TEST(term, sub_binaries_share_storage) {
  const term whole = term::binary("0123456789");
  term middle;
  const std::size_t made = allocations_of([&] { middle = whole.sub_binary(2, 5); });
  if (counting_allocations) {
    EXPECT_EQ(made, 1u);  // a slice header, no bytes
  }
  EXPECT_EQ(middle.as_binary(), "23456");
  EXPECT_EQ(middle.as_binary().data(), whole.as_binary().data() + 2);
  EXPECT_EQ(middle, term::binary("23456"));
  EXPECT_EQ(middle.hash(), term::binary("23456").hash());
  const term inner = middle.sub_binary(1, 2);  // a slice of a slice points at the owner
  EXPECT_EQ(inner.as_binary(), "34");
  EXPECT_EQ(inner.as_binary().data(), whole.as_binary().data() + 3);
  EXPECT_EQ(whole.sub_binary(0, 10), whole);
  EXPECT_EQ(whole.sub_binary(10, 0), term::binary(""));
  EXPECT_THROW((void)whole.sub_binary(5, 6), bl::badarg);
  EXPECT_THROW((void)whole.sub_binary(11, 0), bl::badarg);
  // The slice keeps the bytes alive after the whole is gone.
  term survivor;
  {
    const term big = term::binary(std::string(1000, 'x'));
    survivor = big.sub_binary(990, 10);
  }
  EXPECT_EQ(survivor.as_binary(), std::string(10, 'x'));
}

TEST(term, make_binary_fills_once) {
  const term b = term::make_binary(4, [](std::span<std::byte> out) {
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::byte>('a' + i);
  });
  EXPECT_EQ(b.as_binary(), "abcd");
  EXPECT_EQ(term::make_binary(0, [](std::span<std::byte> out) { EXPECT_TRUE(out.empty()); }),
            term::binary(""));
}

TEST(term, bitstrings) {
  const std::byte bytes[] = {std::byte{0xFF}, std::byte{0xFF}};
  const term bits = term::bitstring(bytes, 11);
  EXPECT_FALSE(bits.is_binary());
  EXPECT_TRUE(bits.is_bitstring());
  EXPECT_EQ(bits.bit_size(), 11u);
  EXPECT_EQ(bits.byte_size(), 2u);
  // The unused low bits of the last byte are cleared.
  EXPECT_EQ(bits.bytes()[1], std::byte{0xE0});
  EXPECT_THROW((void)bits.as_binary(), bl::badarg);
  EXPECT_EQ(bits.sub_binary(0, 1), term::binary("\xff"));
  EXPECT_THROW((void)bits.sub_binary(0, 2), bl::badarg);
  EXPECT_EQ(term::bitstring(bytes, 16), term::binary("\xff\xff"));
  EXPECT_EQ(term::bitstring(bytes, 0), term::binary(""));
  EXPECT_THROW(term::bitstring(bytes, 17), bl::badarg);
  const std::byte other[] = {std::byte{0xFF}, std::byte{0xE7}};
  EXPECT_EQ(term::bitstring(other, 11), bits);
}

TEST(term, maps) {
  const term m = term::map(
      {{bl::atom("b"), 2}, {bl::atom("a"), 1}, {1, bl::atoms::ok}, {1.0, bl::atoms::error}});
  EXPECT_TRUE(m.is_map());
  EXPECT_EQ(m.size(), 4u);
  ASSERT_NE(m.find(bl::atom("a")), nullptr);
  EXPECT_EQ(*m.find(bl::atom("a")), 1);
  EXPECT_EQ(m.at(1), bl::atoms::ok);  // 1 and 1.0 are different keys
  EXPECT_EQ(m.at(1.0), bl::atoms::error);
  EXPECT_EQ(m.find(bl::atom("zzz_not_there")), nullptr);
  const std::string message = badarg_message([&] { (void)m.at(bl::atoms::timeout); });
  EXPECT_NE(message.find("timeout"), std::string::npos) << message;
  // Erlang's map order: integers before floats, then atoms by name.
  std::vector<term> keys;
  for (auto [key, value] : m.as_map()) keys.push_back(key);
  EXPECT_EQ(keys, (std::vector<term>{1, 1.0, bl::atom("a"), bl::atom("b")}));
  // A repeated key keeps the last value.
  const term repeated = term::map({{1, 1}, {2, 2}, {1, 3}});
  EXPECT_EQ(repeated.size(), 2u);
  EXPECT_EQ(repeated.at(1), 3);
  EXPECT_EQ(term::map({}).size(), 0u);
  EXPECT_EQ(term::map({}).find(1), nullptr);
  EXPECT_TRUE(term::map({}).as_map().empty());
  EXPECT_THROW((void)term(1).find(1), bl::badarg);
  // Key order does not depend on construction order.
  EXPECT_EQ(term::map({{2, 0}, {1, 0}}), term::map({{1, 0}, {2, 0}}));
}

TEST(term, large_maps_use_binary_search) {
  std::vector<std::pair<term, term>> entries;
  for (int i = 0; i < 1000; ++i) entries.emplace_back(term::tuple(i % 7, i), i);
  entries.emplace_back(2.5, bl::atoms::ok);
  entries.emplace_back(bl::atom("k"), bl::atoms::error);
  const term m = term::map(entries);
  EXPECT_EQ(m.size(), 1002u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(m.at(term::tuple(i % 7, i)), i);
  EXPECT_EQ(m.at(2.5), bl::atoms::ok);
  EXPECT_EQ(m.at(bl::atom("k")), bl::atoms::error);
  EXPECT_EQ(m.find(2), nullptr);
  EXPECT_EQ(m.find(term::tuple(0, 7)), m.find(term::tuple(0, 7)));
  EXPECT_EQ(m.find(term::tuple(1, 7)), nullptr);
}

TEST(term, pids) {
  const bl::pid local{93, 4, 0, 0};
  const term t(local);
  EXPECT_TRUE(t.is_pid());
  EXPECT_EQ(t.as_pid(), local);
  const bl::pid remote{5, 6, bl::atom("node@host").index(), 3};
  const term r(remote);
  EXPECT_TRUE(r.is_pid());
  EXPECT_EQ(r.as_pid(), remote);
  EXPECT_NE(t, r);
  EXPECT_THROW((void)term(1).as_pid(), bl::badarg);
}

TEST(term, refs) {
  const bl::ref local = bl::ref::local(0x123456789ABCDEFull, 5);
  EXPECT_EQ(term(local).as_ref(), local);
  EXPECT_TRUE(term(local).is_ref());
  bl::ref five_words;
  five_words.length = 5;
  five_words.words = {1, 2, 3, 4, 5};
  EXPECT_EQ(term(five_words).as_ref(), five_words);
  bl::ref remote = local;
  remote.node = bl::atom("node@host").index();
  remote.creation = 7;
  EXPECT_EQ(term(remote).as_ref(), remote);
  bl::ref short_ref;
  short_ref.length = 1;
  short_ref.words = {9, 99, 999, 0, 0};  // words past the length are ignored
  bl::ref same_short;
  same_short.length = 1;
  same_short.words[0] = 9;
  EXPECT_EQ(term(short_ref), term(same_short));
  bl::ref too_long;
  too_long.length = 6;
  EXPECT_THROW(term{too_long}, bl::badarg);
}

TEST(term, ports) {
  const bl::port local{5, 0, 0};
  EXPECT_EQ(term(local).as_port(), local);
  EXPECT_TRUE(term(local).is_port());
  const bl::port remote{1ull << 40, bl::atom("node@host").index(), 2};
  EXPECT_EQ(term(remote).as_port(), remote);
  EXPECT_EQ(term(remote).to_string(), "#Port<1.1099511627776>");
}

TEST(term, funs) {
  const bl::external_fun map_fun{bl::atom("lists"), bl::atom("map"), 2};
  const term f = term::fun(map_fun);
  EXPECT_TRUE(f.is_fun());
  EXPECT_TRUE(f.is_external_fun());
  EXPECT_EQ(f.as_external_fun(), map_fun);
  EXPECT_THROW((void)f.as_local_fun(), bl::badarg);
  bl::local_fun closure;
  closure.module = bl::atom("erl_eval");
  closure.arity = 1;
  closure.uniq = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  closure.index = 6;
  closure.old_index = 6;
  closure.old_uniq = 3316493;
  closure.creator = bl::pid{1, 2, 0, 0};
  closure.free_variables = {term::tuple(1, 2), term::string("env")};
  const term c = term::fun(closure);
  EXPECT_FALSE(c.is_external_fun());
  EXPECT_EQ(c.as_local_fun(), closure);
  EXPECT_EQ(c, term::fun(closure));
  closure.free_variables[0] = 3;
  EXPECT_NE(c, term::fun(closure));
  EXPECT_THROW((void)term(1).is_external_fun(), bl::badarg);
}

TEST(term, wrong_kind_messages_name_both_kinds) {
  EXPECT_EQ(badarg_message([] { (void)term(5).as_atom(); }), "expected an atom, got integer 5");
  EXPECT_EQ(badarg_message([] { (void)term::tuple(bl::atoms::ok, 1).as_int(); }),
            "expected an integer, got tuple {ok,1}");
  EXPECT_EQ(badarg_message([] { (void)term::nil().head(); }), "expected a non-empty list, got []");
  // Huge terms are cut short in messages.
  const std::string message =
      badarg_message([] { (void)term::binary(std::string(10000, 'a')).as_atom(); });
  EXPECT_LT(message.size(), 400u);
  EXPECT_NE(message.find("..."), std::string::npos);
  // badarg is a std::invalid_argument.
  EXPECT_THROW((void)term(5).as_atom(), std::invalid_argument);
}

TEST(term, moved_from_is_undefined) {
  term a = term::tuple(1, 2);
  term b = std::move(a);
  EXPECT_EQ(a, bl::atoms::undefined);  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(b, term::tuple(1, 2));
  term& alias = b;  // self-assignment through a reference, as generic code may do
  b = std::move(alias);
  EXPECT_EQ(b, term::tuple(1, 2));
  b = alias;
  EXPECT_EQ(b, term::tuple(1, 2));
}

TEST(term, kind_names) {
  EXPECT_EQ(term::kind_name(term::kind::float_), "float");
  EXPECT_EQ(term::kind_name(term::kind::binary), "bitstring");
  EXPECT_EQ(term::kind_name(term(1.5).kind()), "float");
}

TEST(term, hash_agrees_with_equality) {
  std::unordered_set<term> set;
  set.insert(term::tuple(1, 2));
  set.insert(term::tuple(1, 2));
  set.insert(term::tuple(1, 2.0));
  set.insert(0.0);
  set.insert(-0.0);
  set.insert(term::improper_list({1}, term::list({2})));
  set.insert(term::list({1, 2}));
  EXPECT_EQ(set.size(), 5u);
}

// Deep and long terms are destroyed, compared, hashed and printed without recursion.
TEST(term, deep_terms_do_not_overflow_the_stack) {
  const int depth = static_cast<int>(300000 * BEAMLINE_STRESS_SCALE) + 1000;
  term nested = term::nil();
  term nested_copy = term::nil();
  term cons_list = term::nil();
  for (int i = 0; i < depth; ++i) {
    nested = term::tuple(nested);
    nested_copy = term::list({nested_copy});
    cons_list = term::cons(i, std::move(cons_list));
  }
  EXPECT_EQ(nested, nested);
  EXPECT_NE(nested, nested_copy);
  const term rebuilt = [&] {
    term t = term::nil();
    for (int i = 0; i < depth; ++i) t = term::tuple(t);
    return t;
  }();
  EXPECT_EQ(nested, rebuilt);
  EXPECT_EQ(nested.hash(), rebuilt.hash());
  EXPECT_EQ(nested <=> rebuilt, std::strong_ordering::equal);
  EXPECT_EQ(cons_list.length(), static_cast<std::size_t>(depth));
  const std::string text = nested_copy.to_string();
  EXPECT_EQ(text.size(), static_cast<std::size_t>(depth) * 2 + 2);
  EXPECT_EQ(term::parse(text), nested_copy);
}

}  // namespace
