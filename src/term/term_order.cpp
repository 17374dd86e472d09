// term_order.cpp: term comparison and hashing (modes in term_order.hpp).
//
// The comparison walks two terms side by side. compare_one() decides a pair of
// terms on the spot, or, for two containers of the same shape, pushes a frame that
// yields the pairs of their children; the main loop then takes the next pair from
// the top frame. Frames are arrays (tuple elements, map keys, map values, fun
// environments), lists (two list iterators, which hide how lists are chunked) and
// the fun tie-break that must come after a fun's environment.
//
// Facts of Erlang's order used here (erts's comparison, and `erl` to check):
// - kinds: number < atom < reference < fun < port < pid < tuple < map < [] < list
//   < bitstring; numbers compare by exact value (no rounding of big integers);
// - atoms by name; pids by node (name, then creation), serial, id; ports by node, id;
//   references by node, then their words as one number, most significant first;
// - tuples by size, then elements; maps by size, then keys in key order, then values;
// - lists element by element, then tails; bitstrings bit by bit, then by length;
// - local funs before external funs; local by module, old index, old uniq, number
//   of free variables, free variables; external by module, function, arity.
// Where those leave two different terms equal, the total mode breaks the tie
// (integer before float, -0.0 before 0.0, local before remote, then the remaining
// fields) so that total order is consistent with exact equality.
#include "term/term_order.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>

#include "beamline/fun.hpp"
#include "term/hash.hpp"
#include "term/heap_objects.hpp"
#include "term/small_stack.hpp"

namespace beamline {

namespace detail {
namespace {

using term_tag = term_access::tag;

// This node's name (atom index, high half) and creation (low half): one atomic word,
// so a reader never sees a name with another name's creation. Relaxed loads and
// stores: the word stands alone, and the distribution sets it before it connects to
// any node, so no remote identity can exist yet to compare with.
constinit std::atomic<std::uint64_t> local_node_identity{
    std::uint64_t{atom::builtin("nonode@nohost").index()} << 32};

int sign(std::strong_ordering order) noexcept {
  return order < 0 ? -1 : (order > 0 ? 1 : 0);
}

template <class T>
int three_way(const T& a, const T& b) noexcept {
  return a < b ? -1 : (b < a ? 1 : 0);
}

// Rank in Erlang's term order of kinds.
int rank(term_tag t) noexcept {
  switch (t) {
    case term_tag::small_integer:
    case term_tag::big_integer:
    case term_tag::float_:
      return 0;
    case term_tag::atom:
      return 1;
    case term_tag::local_ref:
    case term_tag::external_ref:
      return 2;
    case term_tag::fun:
      return 3;
    case term_tag::local_port:
    case term_tag::external_port:
      return 4;
    case term_tag::local_pid:
    case term_tag::external_pid:
      return 5;
    case term_tag::empty_tuple:
    case term_tag::tuple:
      return 6;
    case term_tag::empty_map:
    case term_tag::map:
      return 7;
    case term_tag::nil:
      return 8;
    case term_tag::list:
      return 9;
    case term_tag::empty_binary:
    case term_tag::binary:
      return 10;
  }
  return 11;
}
constexpr int list_rank = 9;

}  // namespace

// Same representation bits: the same inline value or the same heap object.
bool is_identical(const term& a, const term& b) noexcept {
  return term_access::tag_of(a) == term_access::tag_of(b) &&
         term_access::payload_of(a) == term_access::payload_of(b) &&
         term_access::aux_of(a) == term_access::aux_of(b) &&
         term_access::small_of(a) == term_access::small_of(b);
}

namespace {

// --- Numbers -------------------------------------------------------------------------

struct big_view {
  bool negative;
  std::span<const std::uint64_t> limbs;
};

big_view big_of(const term& t) noexcept {
  const heap_object* o = term_access::object_of(t);
  return {o->flags != 0, {term_access::limbs(o), o->count}};
}

int compare_bigs(const big_view& a, const big_view& b) noexcept {
  if (a.negative != b.negative) return a.negative ? -1 : 1;
  const int order = sign(bigint::compare_magnitudes(a.limbs, b.limbs));
  return a.negative ? -order : order;
}

constexpr double two_to_63 = 9223372036854775808.0;

// Exact comparison of an integer with a finite double.
int compare_int64_double(std::int64_t i, double d) noexcept {
  if (d >= two_to_63) return -1;
  if (d < -two_to_63) return 1;
  const double whole = std::trunc(d);  // in [-2^63, 2^63): exactly an int64
  const auto whole_int = static_cast<std::int64_t>(whole);
  if (i != whole_int) return i < whole_int ? -1 : 1;
  const double fraction = d - whole;  // exact
  return fraction > 0 ? -1 : (fraction < 0 ? 1 : 0);
}

int compare_big_double(const big_view& big, double d) noexcept {
  // |big| >= 2^63 (canonical form): it wins against any double of smaller magnitude.
  if (std::fabs(d) < two_to_63) return big.negative ? -1 : 1;
  // Such a double is an integer: compare exactly as big integers.
  try {
    const bigint other = bigint::from_double(d);
    const big_view other_view{other.is_negative(), other.limbs()};
    return compare_bigs(big, other_view);
  } catch (...) {
    return big.negative ? -1 : 1;  // unreachable: d is finite; allocation failed
  }
}

int compare_integer_double(const term& integer, double d) noexcept {
  if (term_access::tag_of(integer) == term_tag::small_integer)
    return compare_int64_double(static_cast<std::int64_t>(term_access::payload_of(integer)), d);
  return compare_big_double(big_of(integer), d);
}

double double_of(const term& t) noexcept {
  return std::bit_cast<double>(term_access::payload_of(t));
}

int compare_integers(const term& a, const term& b) noexcept {
  const bool a_small = term_access::tag_of(a) == term_tag::small_integer;
  const bool b_small = term_access::tag_of(b) == term_tag::small_integer;
  if (a_small && b_small) {
    return three_way(static_cast<std::int64_t>(term_access::payload_of(a)),
                     static_cast<std::int64_t>(term_access::payload_of(b)));
  }
  // A big integer lies outside int64, on the side of its sign.
  if (a_small) return big_of(b).negative ? 1 : -1;
  if (b_small) return big_of(a).negative ? -1 : 1;
  return compare_bigs(big_of(a), big_of(b));
}

int compare_numbers(const term& a, const term& b, order_mode mode) noexcept {
  const bool a_float = term_access::tag_of(a) == term_tag::float_;
  const bool b_float = term_access::tag_of(b) == term_tag::float_;
  if (!a_float && !b_float) return compare_integers(a, b);
  if (a_float && b_float) {
    const double x = double_of(a);
    const double y = double_of(b);
    if (x < y) return -1;
    if (x > y) return 1;
    if (mode == order_mode::arithmetic) return 0;
    // 0.0 and -0.0: different terms (OTP 27), -0.0 first.
    const bool x_negative = std::signbit(x);
    return x_negative == std::signbit(y) ? 0 : (x_negative ? -1 : 1);
  }
  // An integer and a float.
  if (mode == order_mode::exact_equality) return 1;
  if (mode == order_mode::key) return a_float ? 1 : -1;  // integers before floats
  const int order =
      a_float ? -compare_integer_double(b, double_of(a)) : compare_integer_double(a, double_of(b));
  if (order != 0 || mode == order_mode::arithmetic) return order;
  return a_float ? 1 : -1;  // total: the integer before the equal float
}

// --- Identities ----------------------------------------------------------------------

struct node_identity {
  atom name;
  std::uint32_t creation;
};

node_identity identity_of(std::uint32_t node, std::uint32_t creation) noexcept {
  if (node == 0) {
    const std::uint64_t local = local_node_identity.load(std::memory_order_relaxed);
    return {atom::from_index(static_cast<std::uint32_t>(local >> 32)),
            static_cast<std::uint32_t>(local)};
  }
  return {atom::from_index(node), creation};
}

// Erlang's node order: by name, then creation; then (total) this node's own first.
int compare_nodes(std::uint32_t a_node, std::uint32_t a_creation, std::uint32_t b_node,
                  std::uint32_t b_creation) noexcept {
  if (a_node == b_node && a_creation == b_creation) return 0;
  const node_identity a = identity_of(a_node, a_creation);
  const node_identity b = identity_of(b_node, b_creation);
  if (a.name != b.name) return sign(a.name <=> b.name);
  return three_way(a.creation, b.creation);
}

// Where Erlang's order (arithmetic mode) finds two different terms equal, the other
// modes break the tie with the remaining fields, so that they agree with ==.
bool breaks_ties(order_mode mode) noexcept {
  return mode != order_mode::arithmetic;
}

// A local identity and a remote one that names this node: the local one first.
int local_first(std::uint32_t a_node, std::uint32_t b_node, order_mode mode) noexcept {
  return breaks_ties(mode) ? three_way(a_node != 0, b_node != 0) : 0;
}

// Erlang (OTP 25, checked against erl) orders pids by serial, then number, and only
// then by node (name, creation): <0.5.1> on any node comes after <0.908.0> on any
// node. Ports and references order by node first.
int compare_pid_values(const pid& x, const pid& y, order_mode mode) noexcept {
  if (x.serial != y.serial) return three_way(x.serial, y.serial);
  if (x.id != y.id) return three_way(x.id, y.id);
  if (int order = compare_nodes(x.node, x.creation, y.node, y.creation)) return order;
  return local_first(x.node, y.node, mode);
}

int compare_pids(const term& a, const term& b, order_mode mode) noexcept {
  return compare_pid_values(a.as_pid(), b.as_pid(), mode);
}

int compare_ports(const term& a, const term& b, order_mode mode) noexcept {
  const port x = a.as_port();
  const port y = b.as_port();
  if (int order = compare_nodes(x.node, x.creation, y.node, y.creation)) return order;
  if (x.id != y.id) return three_way(x.id, y.id);
  return local_first(x.node, y.node, mode);
}

std::uint32_t significant_words(const ref& r) noexcept {
  std::uint32_t length = r.length;
  while (length > 0 && r.words[length - 1] == 0) --length;
  return length;
}

int compare_refs(const term& a, const term& b, order_mode mode) noexcept {
  const ref x = a.as_ref();
  const ref y = b.as_ref();
  if (int order = compare_nodes(x.node, x.creation, y.node, y.creation)) return order;
  // The words as one number: by significant length, then from the top word down.
  const std::uint32_t x_length = significant_words(x);
  const std::uint32_t y_length = significant_words(y);
  if (x_length != y_length) return three_way(x_length, y_length);
  for (std::uint32_t i = x_length; i-- > 0;)
    if (x.words[i] != y.words[i]) return three_way(x.words[i], y.words[i]);
  // Erlang's == ignores high zero words; =:= does not.
  if (breaks_ties(mode) && x.length != y.length) return three_way(x.length, y.length);
  return local_first(x.node, y.node, mode);
}

// --- Bitstrings ----------------------------------------------------------------------

int compare_bitstrings(const term& a, const term& b) noexcept {
  const std::span<const std::byte> x = term_access::binary_bytes(a);
  const std::span<const std::byte> y = term_access::binary_bytes(b);
  const std::size_t x_bits = term_access::binary_bit_size(a);
  const std::size_t y_bits = term_access::binary_bit_size(b);
  const std::size_t common = std::min(x_bits, y_bits);
  const std::size_t whole = common / 8;
  if (whole > 0) {
    if (const int order = std::memcmp(x.data(), y.data(), whole)) return order < 0 ? -1 : 1;
  }
  if (const std::size_t rest = common % 8) {
    const auto mask = static_cast<unsigned>(0xFF << (8 - rest)) & 0xFF;
    const unsigned x_byte = std::to_integer<unsigned>(x[whole]) & mask;
    const unsigned y_byte = std::to_integer<unsigned>(y[whole]) & mask;
    if (x_byte != y_byte) return x_byte < y_byte ? -1 : 1;
  }
  return three_way(x_bits, y_bits);
}

// --- Funs ----------------------------------------------------------------------------

const fun_object* fun_of(const term& t) noexcept {
  return static_cast<const fun_object*>(term_access::object_of(t));
}

bool is_external(const fun_object* f) noexcept {
  return (f->flags & fun_object::external_flag) != 0;
}

// Erlang's fun order up to (not including) the free variables.
int compare_fun_heads(const fun_object* x, const fun_object* y) noexcept {
  if (is_external(x) != is_external(y)) return is_external(x) ? 1 : -1;
  if (x->module != y->module)
    return sign(atom::from_index(x->module) <=> atom::from_index(y->module));
  if (is_external(x)) {
    if (x->function != y->function)
      return sign(atom::from_index(x->function) <=> atom::from_index(y->function));
    return three_way(x->arity, y->arity);
  }
  if (x->old_index != y->old_index) return three_way(x->old_index, y->old_index);
  if (x->old_uniq != y->old_uniq) return three_way(x->old_uniq, y->old_uniq);
  return three_way(x->count, y->count);
}

// The fields Erlang's order leaves out, compared after the free variables (and not
// at all in arithmetic mode, where Erlang's == finds such funs equal).
int compare_fun_tails(const fun_object* x, const fun_object* y) noexcept {
  if (x->index != y->index) return three_way(x->index, y->index);
  if (const int order = std::memcmp(x->uniq.data(), y->uniq.data(), x->uniq.size()))
    return order < 0 ? -1 : 1;
  if (x->arity != y->arity) return three_way(x->arity, y->arity);
  return compare_pid_values(x->creator, y->creator, order_mode::total);
}

// --- The walk ------------------------------------------------------------------------

struct pair_frame {
  enum class shape : std::uint8_t { arrays, lists, fun_tail };
  shape kind;
  order_mode mode;
  const term* a;  // arrays: the next pair and how many remain
  const term* b;
  std::size_t remaining;
  term::list_iterator list_a;  // lists: the next pair
  term::list_iterator list_b;
  const fun_object* fun_a;  // fun_tail: the funs to finish comparing
  const fun_object* fun_b;
};

using pair_stack = small_stack<pair_frame, 16>;

void push_arrays(pair_stack& stack, const term* a, const term* b, std::size_t count,
                 order_mode mode) {
  pair_frame frame{};
  frame.kind = pair_frame::shape::arrays;
  frame.mode = mode;
  frame.a = a;
  frame.b = b;
  frame.remaining = count;
  stack.push(frame);
}

// Decides a pair, or pushes the frame that compares their children and returns 0.
int compare_one(const term& a, const term& b, order_mode mode, pair_stack& stack) {
  if (is_identical(a, b)) return 0;
  const term_tag a_tag = term_access::tag_of(a);
  const term_tag b_tag = term_access::tag_of(b);
  const int a_rank = rank(a_tag);
  const int b_rank = rank(b_tag);
  if (a_rank != b_rank) return a_rank < b_rank ? -1 : 1;
  switch (a.kind()) {
    case term::kind::integer:
    case term::kind::float_:
      return compare_numbers(a, b, mode);
    case term::kind::atom:
      if (mode == order_mode::exact_equality) return 1;  // not identical: other atom
      return sign(a.as_atom() <=> b.as_atom());
    case term::kind::ref:
      return compare_refs(a, b, mode);
    case term::kind::port:
      return compare_ports(a, b, mode);
    case term::kind::pid:
      return compare_pids(a, b, mode);
    case term::kind::binary:
      return compare_bitstrings(a, b);
    case term::kind::nil:
      return 0;
    case term::kind::tuple: {
      const std::span<const term> x = term_access::tuple_elements(a);
      const std::span<const term> y = term_access::tuple_elements(b);
      if (x.size() != y.size()) return three_way(x.size(), y.size());
      push_arrays(stack, x.data(), y.data(), x.size(), mode);
      return 0;
    }
    case term::kind::map: {
      const std::span<const term> x = term_access::map_keys(a);
      const std::span<const term> y = term_access::map_keys(b);
      if (x.size() != y.size()) return three_way(x.size(), y.size());
      // Keys first (on top), then values.
      push_arrays(stack, x.data() + x.size(), y.data() + y.size(), x.size(), mode);
      push_arrays(stack, x.data(), y.data(), x.size(),
                  mode == order_mode::exact_equality ? mode : order_mode::key);
      return 0;
    }
    case term::kind::list: {
      pair_frame frame{};
      frame.kind = pair_frame::shape::lists;
      frame.mode = mode;
      frame.list_a = term_access::list_begin(a);
      frame.list_b = term_access::list_begin(b);
      stack.push(frame);
      return 0;
    }
    case term::kind::fun: {
      const fun_object* x = fun_of(a);
      const fun_object* y = fun_of(b);
      if (const int order = compare_fun_heads(x, y)) return order;
      if (is_external(x)) return 0;
      if (breaks_ties(mode)) {
        pair_frame tail{};
        tail.kind = pair_frame::shape::fun_tail;
        tail.fun_a = x;
        tail.fun_b = y;
        stack.push(tail);
      }
      push_arrays(stack, term_access::free_variables(x), term_access::free_variables(y), x->count,
                  mode);
      return 0;
    }
  }
  return 0;
}

}  // namespace

int compare_terms(const term& first_a, const term& first_b, order_mode first_mode) noexcept {
  pair_stack stack;
  const term* a = &first_a;
  const term* b = &first_b;
  order_mode mode = first_mode;
  for (;;) {
    if (const int order = compare_one(*a, *b, mode, stack)) return order;
    // The next pair, from the top frame.
    for (;;) {
      if (stack.empty()) return 0;
      pair_frame& frame = stack.top();
      if (frame.kind == pair_frame::shape::arrays) {
        if (frame.remaining == 0) {
          stack.pop();
          continue;
        }
        a = frame.a++;
        b = frame.b++;
        --frame.remaining;
        mode = frame.mode;
        break;
      }
      if (frame.kind == pair_frame::shape::fun_tail) {
        if (const int order = compare_fun_tails(frame.fun_a, frame.fun_b)) return order;
        stack.pop();
        continue;
      }
      const term::list_iterator end;
      const bool a_ended = frame.list_a == end;
      const bool b_ended = frame.list_b == end;
      mode = frame.mode;
      if (!a_ended && !b_ended) {
        a = &*frame.list_a++;
        b = &*frame.list_b++;
        break;
      }
      if (a_ended && b_ended) {  // compare the tails
        a = &term_access::end_tail(frame.list_a);
        b = &term_access::end_tail(frame.list_b);
        stack.pop();
        break;
      }
      // One list ended: its tail (never a list) against the rest of the other list.
      const term& tail = term_access::end_tail(a_ended ? frame.list_a : frame.list_b);
      const int tail_first = rank(term_access::tag_of(tail)) < list_rank ? -1 : 1;
      return a_ended ? tail_first : -tail_first;
    }
  }
}

// --- Hashing -------------------------------------------------------------------------

namespace {

struct hash_frame {
  bool is_list;
  const term* next;  // arrays: the next term and how many remain
  std::size_t remaining;
  term::list_iterator list;  // lists: the next element
};

constexpr std::uint64_t hash_seed = 0x6A09E667F3BCC908ull;

std::uint64_t hash_scalar(const term& t, std::uint64_t h) noexcept {
  const term_tag tag = term_access::tag_of(t);
  if (!term_access::is_boxed(t)) {
    // Inline terms: their bits are their value; one mix for the whole term.
    const std::uint64_t header = static_cast<std::uint64_t>(tag) |
                                 (std::uint64_t{term_access::small_of(t)} << 8) |
                                 (std::uint64_t{term_access::aux_of(t)} << 32);
    return hash_combine(h, term_access::payload_of(t) + header * 0x9E3779B97F4A7C15ull);
  }
  h = hash_combine(h, static_cast<std::uint64_t>(tag));
  switch (tag) {
    case term_tag::big_integer: {
      const big_view big = big_of(t);
      h = hash_combine(h, big.negative);
      for (std::uint64_t limb : big.limbs) h = hash_combine(h, limb);
      return h;
    }
    case term_tag::binary: {
      const std::span<const std::byte> bytes = term_access::binary_bytes(t);
      h = hash_combine(h, term_access::binary_bit_size(t));
      return hash_bytes({reinterpret_cast<const char*>(bytes.data()), bytes.size()}, h);
    }
    case term_tag::external_pid: {
      const pid p = t.as_pid();
      return hash_combine(hash_combine(h, (std::uint64_t{p.id} << 32) | p.serial),
                          (std::uint64_t{p.node} << 32) | p.creation);
    }
    case term_tag::external_port: {
      const port p = t.as_port();
      return hash_combine(hash_combine(h, p.id), (std::uint64_t{p.node} << 32) | p.creation);
    }
    case term_tag::external_ref: {
      const ref r = t.as_ref();
      h = hash_combine(h, (std::uint64_t{r.node} << 32) | r.creation);
      h = hash_combine(h, r.length);
      for (std::uint32_t i = 0; i < r.length; ++i) h = hash_combine(h, r.words[i]);
      return h;
    }
    default:
      return h;  // containers and funs: hash_term walks them
  }
}

}  // namespace

std::uint64_t hash_term(const term& root) noexcept {
  small_stack<hash_frame, 16> stack;
  std::uint64_t h = hash_seed;
  const term* current = &root;
  for (;;) {
    const term_tag tag = term_access::tag_of(*current);
    switch (tag) {
      case term_tag::tuple: {
        const std::span<const term> elements = term_access::tuple_elements(*current);
        h = hash_combine(hash_combine(h, static_cast<std::uint64_t>(tag)), elements.size());
        stack.push({false, elements.data(), elements.size(), {}});
        break;
      }
      case term_tag::map: {
        const std::span<const term> keys = term_access::map_keys(*current);
        h = hash_combine(hash_combine(h, static_cast<std::uint64_t>(tag)), keys.size());
        stack.push({false, keys.data(), keys.size() * 2, {}});  // the values follow the keys
        break;
      }
      case term_tag::list:
        h = hash_combine(h, static_cast<std::uint64_t>(tag));
        stack.push({true, nullptr, 0, term_access::list_begin(*current)});
        break;
      case term_tag::fun: {
        const fun_object* f = fun_of(*current);
        h = hash_combine(h, static_cast<std::uint64_t>(tag));
        h = hash_combine(h, (std::uint64_t{f->module} << 32) | f->function);
        h = hash_combine(h, (std::uint64_t{f->index} << 32) | f->old_index);
        h = hash_combine(
            h, (std::uint64_t{f->old_uniq} << 32) | (std::uint64_t{f->arity} << 8) | f->flags);
        std::uint64_t uniq[2];
        std::memcpy(uniq, f->uniq.data(), sizeof uniq);
        h = hash_combine(hash_combine(h, uniq[0]), uniq[1]);
        h = hash_combine(h, (std::uint64_t{f->creator.id} << 32) | f->creator.serial);
        h = hash_combine(h, (std::uint64_t{f->creator.node} << 32) | f->creator.creation);
        stack.push({false, term_access::free_variables(f), f->count, {}});
        break;
      }
      default:
        h = hash_scalar(*current, h);
        break;
    }
    // The next term, from the top frame.
    for (;;) {
      if (stack.empty()) return h;
      hash_frame& frame = stack.top();
      if (!frame.is_list) {
        if (frame.remaining == 0) {
          stack.pop();
          continue;
        }
        current = frame.next++;
        --frame.remaining;
        break;
      }
      if (frame.list != term::list_iterator()) {
        current = &*frame.list++;
        break;
      }
      current = &term_access::end_tail(frame.list);  // the tail, hashed as a term
      stack.pop();
      break;
    }
  }
}

}  // namespace detail

// --- Public entry points -----------------------------------------------------------------

bool term::equal_boxed(const term& a, const term& b) noexcept {
  // Tuples of inline terms (the usual message) compare flat, without the walk.
  if (a.tag_ == tag::tuple) {
    const detail::heap_object* x = a.object();
    const detail::heap_object* y = b.object();
    if (x->count != y->count) return false;
    const term* xs = terms_after(x);
    const term* ys = terms_after(y);
    for (std::uint32_t i = 0; i < x->count; ++i) {
      if (xs[i].is_boxed() || ys[i].is_boxed()) {
        // The walk, not ==, so that nested tuples do not recurse here.
        if (detail::compare_terms(xs[i], ys[i], detail::order_mode::exact_equality) != 0)
          return false;
      } else if (!detail::is_identical(xs[i], ys[i])) {
        return false;
      }
    }
    return true;
  }
  return detail::compare_terms(a, b, detail::order_mode::exact_equality) == 0;
}

std::strong_ordering term::compare_total(const term& a, const term& b) noexcept {
  int order = 0;
  if (a.tag_ == tag::tuple && b.tag_ == tag::tuple) {
    // Tuples (the usual message) compare their elements directly, one level only:
    // each element pair goes through the walk, which never recurses.
    const detail::heap_object* x = a.object();
    const detail::heap_object* y = b.object();
    if (x->count != y->count) return x->count <=> y->count;
    const term* xs = terms_after(x);
    const term* ys = terms_after(y);
    for (std::uint32_t i = 0; i < x->count && order == 0; ++i) {
      if (!detail::is_identical(xs[i], ys[i]))
        order = detail::compare_terms(xs[i], ys[i], detail::order_mode::total);
    }
  } else {
    order = detail::compare_terms(a, b, detail::order_mode::total);
  }
  return order < 0 ? std::strong_ordering::less
                   : (order > 0 ? std::strong_ordering::greater : std::strong_ordering::equal);
}

std::weak_ordering compare(const term& a, const term& b) noexcept {
  const int order = detail::compare_terms(a, b, detail::order_mode::arithmetic);
  return order < 0 ? std::weak_ordering::less
                   : (order > 0 ? std::weak_ordering::greater : std::weak_ordering::equivalent);
}

std::size_t term::hash() const noexcept {
  // Tuples of inline terms (the usual key: {worker, 7}) hash flat, without the walk's
  // stack; the value is the walk's, step for step.
  if (tag_ == tag::tuple) {
    const detail::heap_object* x = object();
    const term* xs = terms_after(x);
    std::uint64_t h = detail::hash_combine(
        detail::hash_combine(detail::hash_seed, static_cast<std::uint64_t>(tag::tuple)), x->count);
    for (std::uint32_t i = 0; i < x->count; ++i) {
      if (xs[i].is_boxed()) return static_cast<std::size_t>(detail::hash_term(*this));
      h = detail::hash_scalar(xs[i], h);
    }
    return static_cast<std::size_t>(h);
  }
  return static_cast<std::size_t>(detail::hash_term(*this));
}

detail::local_identity detail::local_node_identity_now() noexcept {
  const std::uint64_t local = detail::local_node_identity.load(std::memory_order_relaxed);
  return {atom::from_index(static_cast<std::uint32_t>(local >> 32)),
          static_cast<std::uint32_t>(local)};
}

void set_local_node_identity(atom name, std::uint32_t creation) noexcept {
  detail::local_node_identity.store((std::uint64_t{name.index()} << 32) | creation,
                                    std::memory_order_relaxed);
}

}  // namespace beamline
