// Micro-benchmarks of the timing wheel: arm and cancel (a receive that matches
// before its timeout), and arm and expire.
#include <benchmark/benchmark.h>

#include <vector>

#include "sched/timer_wheel.hpp"

namespace {

using beamline::sched::timer_node;
using beamline::sched::timer_wheel;

void insert_remove(benchmark::State& state) {
  timer_wheel wheel(1000);
  timer_node node;
  std::uint64_t delay = static_cast<std::uint64_t>(state.range(0));
  for (auto _ : state) {
    wheel.insert(node, wheel.now() + delay);
    wheel.remove(node);
  }
}
BENCHMARK(insert_remove)->Arg(10)->Arg(10'000)->Arg(10'000'000);

void insert_and_expire(benchmark::State& state) {
  const std::size_t n = 4096;
  std::vector<timer_node> nodes(n);
  timer_wheel wheel(0);
  std::size_t fired = 0;
  for (auto _ : state) {
    for (std::size_t i = 0; i < n; ++i) wheel.insert(nodes[i], wheel.now() + 1 + (i * 7919) % 5000);
    wheel.advance(wheel.now() + 5001, [&](timer_node&) { ++fired; });
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
  benchmark::DoNotOptimize(fired);
}
BENCHMARK(insert_and_expire);

}  // namespace
