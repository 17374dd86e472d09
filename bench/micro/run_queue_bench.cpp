// Micro-benchmarks of the run queue: the owner's push/pop, and stealing.
#include <benchmark/benchmark.h>

#include "sched/run_queue.hpp"

namespace {

using beamline::sched::run_queue;
struct item {
  int id;
};

void push_pop(benchmark::State& state) {
  run_queue<item> q;
  item it{0};
  for (auto _ : state) {
    q.push_back(&it);
    benchmark::DoNotOptimize(q.pop_front());
  }
}
BENCHMARK(push_pop);

void steal_half_of_full_queue(benchmark::State& state) {
  run_queue<item> victim, thief;
  item items[256];
  for (auto _ : state) {
    state.PauseTiming();
    while (thief.pop_front() != nullptr) {
    }
    while (victim.pop_front() != nullptr) {
    }
    for (auto& i : items) victim.push_back(&i);
    state.ResumeTiming();
    benchmark::DoNotOptimize(victim.steal_half_into(thief));
  }
}
BENCHMARK(steal_half_of_full_queue);

}  // namespace
