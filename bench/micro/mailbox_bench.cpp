// Micro-benchmarks of the mailbox: a push into the inbox, a take of the whole
// chain, and a full send-and-receive between two processes of one worker.
#include <benchmark/benchmark.h>

#include <tuple>

#include "beamline/beamline.hpp"
#include "beamline/detail/mailbox.hpp"

namespace {

namespace bl = beamline;
using namespace bl::detail;

void inbox_push_and_take(benchmark::State& state) {
  process_slot slot;
  const int batch = static_cast<int>(state.range(0));
  for (auto _ : state) {
    for (int i = 0; i < batch; ++i)
      inbox_push(slot, make_signal<std::tuple<int>>(signal_kind::message, i));
    for (signal* s = inbox_take_all(slot); s != nullptr;) {
      signal* next = s->next;
      destroy(s);
      s = next;
    }
  }
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(inbox_push_and_take)->Arg(1)->Arg(64);

// One process sends itself n messages and receives them: the whole path of a
// message without a context switch.
void send_and_receive_to_self(benchmark::State& state) {
  static constexpr long n = 100000;
  for (auto _ : state) {
    bl::node_options o;
    o.schedulers = 1;
    bl::node node(o);
    node.spawn([]() -> bl::process {
      for (long i = 0; i < n; ++i) {
        bl::send(bl::self(), i);
        benchmark::DoNotOptimize(co_await bl::receive<long>());
      }
    });
    node.run();
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(send_and_receive_to_self)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
