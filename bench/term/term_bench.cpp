// term_bench: the costs that matter when terms carry messages and exit reasons:
// making, copying, comparing, hashing, printing, parsing and matching small tuples
// like {ok, 42, <0.93.0>}, with inline terms (atoms, integers) as the baseline.
//
//   build/release/bin/bench_term_micro [--benchmark_format=json]
#include <benchmark/benchmark.h>

#include <vector>

#include "beamline/pattern.hpp"
#include "beamline/term.hpp"

namespace bl = beamline;

namespace {

using bl::term;

const bl::pid self{93, 0, 0, 0};

term small_tuple() {
  return term::tuple(bl::atoms::ok, 42, self);
}

void construct_atom(benchmark::State& state) {
  for (auto _ : state) {
    term t(bl::atoms::ok);
    benchmark::DoNotOptimize(t);
  }
}
BENCHMARK(construct_atom);

void construct_integer(benchmark::State& state) {
  std::int64_t i = 0;
  for (auto _ : state) {
    term t(++i);
    benchmark::DoNotOptimize(t);
  }
}
BENCHMARK(construct_integer);

void construct_small_tuple(benchmark::State& state) {
  for (auto _ : state) {
    term t = small_tuple();
    benchmark::DoNotOptimize(t);
  }
}
BENCHMARK(construct_small_tuple);

void construct_exit_signal(benchmark::State& state) {  // {'EXIT', Pid, {shutdown, killed}}
  for (auto _ : state) {
    term t =
        term::tuple(bl::atoms::EXIT, self, term::tuple(bl::atoms::shutdown, bl::atoms::killed));
    benchmark::DoNotOptimize(t);
  }
}
BENCHMARK(construct_exit_signal);

void copy_atom(benchmark::State& state) {
  const term source(bl::atoms::ok);
  for (auto _ : state) {
    term copy = source;
    benchmark::DoNotOptimize(copy);
  }
}
BENCHMARK(copy_atom);

// One copy and its destruction: a relaxed increment and a decrement.
void copy_small_tuple(benchmark::State& state) {
  const term source = small_tuple();
  for (auto _ : state) {
    term copy = source;
    benchmark::DoNotOptimize(copy);
  }
}
BENCHMARK(copy_small_tuple);

// The same, with every thread copying one shared tuple (the count's cache line
// bounces between cores).
void copy_shared_small_tuple(benchmark::State& state) {
  static const term shared = small_tuple();
  for (auto _ : state) {
    term copy = shared;
    benchmark::DoNotOptimize(copy);
  }
}
BENCHMARK(copy_shared_small_tuple)->Threads(1)->Threads(2);

void move_small_tuple(benchmark::State& state) {
  term a = small_tuple();
  for (auto _ : state) {
    term b = std::move(a);
    a = std::move(b);
    benchmark::DoNotOptimize(a);
  }
}
BENCHMARK(move_small_tuple);

void equal_small_tuples(benchmark::State& state) {  // two objects, equal contents
  const term a = small_tuple();
  const term b = small_tuple();
  for (auto _ : state) benchmark::DoNotOptimize(a == b);
}
BENCHMARK(equal_small_tuples);

void order_small_tuples(benchmark::State& state) {
  const term a = small_tuple();
  const term b = term::tuple(bl::atoms::ok, 43, self);
  for (auto _ : state) benchmark::DoNotOptimize(a < b);
}
BENCHMARK(order_small_tuples);

void compare_integers(benchmark::State& state) {
  const term a(41);
  const term b(42);
  for (auto _ : state) benchmark::DoNotOptimize(a < b);
}
BENCHMARK(compare_integers);

void hash_small_tuple(benchmark::State& state) {
  const term t = small_tuple();
  for (auto _ : state) benchmark::DoNotOptimize(t.hash());
}
BENCHMARK(hash_small_tuple);

void print_small_tuple(benchmark::State& state) {
  const term t = small_tuple();
  for (auto _ : state) benchmark::DoNotOptimize(t.to_string());
}
BENCHMARK(print_small_tuple);

void parse_small_tuple(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(term::parse("{ok,42,<0.93.0>}"));
}
BENCHMARK(parse_small_tuple);

void match_pattern(benchmark::State& state) {  // what a receive guard does
  const bl::pattern p("{ok, _, _}");
  const term t = small_tuple();
  for (auto _ : state) benchmark::DoNotOptimize(p.matches(t));
}
BENCHMARK(match_pattern);

void match_pattern_with_bindings(benchmark::State& state) {
  const bl::pattern p("{ok, N, Pid}");
  const term t = small_tuple();
  for (auto _ : state) benchmark::DoNotOptimize(p.match(t));
}
BENCHMARK(match_pattern_with_bindings);

void tuple_element_access(benchmark::State& state) {
  const term t = small_tuple();
  for (auto _ : state) benchmark::DoNotOptimize(t[1].as_int());
}
BENCHMARK(tuple_element_access);

void map_find(benchmark::State& state) {
  std::vector<std::pair<term, term>> entries;
  for (std::int64_t i = 0; i < state.range(0); ++i)
    entries.emplace_back(bl::atom("key" + std::to_string(i)), i);
  const term m = term::map(entries);
  const term key = bl::atom("key" + std::to_string(state.range(0) / 2));
  for (auto _ : state) benchmark::DoNotOptimize(m.find(key));
}
BENCHMARK(map_find)->Arg(8)->Arg(1000);

void iterate_list(benchmark::State& state) {
  std::vector<term> elements;
  for (int i = 0; i < 1000; ++i) elements.emplace_back(i);
  const term list = term::list(elements);
  for (auto _ : state) {
    std::int64_t sum = 0;
    for (const term& e : list.as_list()) sum += e.as_int();
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(iterate_list);

}  // namespace
