// pipeline: Go's pipeline pattern on beamline processes and channels.
//
//   generate ──> square ─┐
//            ├─> square ─┼─> merge ──> main
//            └─> square ─┘
//
// A generator sends 1, 2, 3, ... on a channel; three square stages read from it
// (fan-out: each value goes to whichever stage is free) and send the squares on
// channels of their own, which one merge process reads with select (fan-in). The
// main process takes the first results it needs and then cancels the whole
// pipeline by closing `done`: every stage selects on `done` beside its send, so
// each one sees the close, stops, and closes its output, and the stop travels
// down the pipeline. Nothing is left waiting.
//
//   build/release/bin/pipeline [--schedulers N] [results wanted]
#include <beamline/beamline.hpp>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <optional>

namespace bl = beamline;

namespace {

// Closed by main to cancel; nothing is ever sent on it.
using done_chan = bl::chan<bool>;

// Sends v on out unless done closes first; false if cancelled.
bl::task<bool> send_or_cancel(bl::chan<long> out, long v, done_chan done) {
  co_return co_await bl::select(bl::on_send(out, v, [] { return true; }),
                                bl::on_receive(done, [](std::optional<bool>) { return false; }));
}

bl::process generate(bl::chan<long> out, done_chan done) {
  for (long i = 1;; ++i)
    if (!co_await send_or_cancel(out, i, done)) break;
  out.close();
}

bl::process square(bl::chan<long> in, bl::chan<long> out, done_chan done) {
  while (auto v = co_await in.receive())
    if (!co_await send_or_cancel(out, *v * *v, done)) break;
  out.close();
}

// Fan-in: everything from the stages' channels onto one, until all are closed.
bl::process merge(std::array<bl::chan<long>, 3> ins, bl::chan<long> out, done_chan done) {
  int open = static_cast<int>(ins.size());
  while (open > 0) {
    std::optional<long> v;
    int from = -1;
    auto take = [&](int i) {
      return [&, i](std::optional<long> got) {
        v = got;
        from = i;
      };
    };
    co_await bl::select(bl::on_receive(ins[0], take(0)), bl::on_receive(ins[1], take(1)),
                        bl::on_receive(ins[2], take(2)));
    if (!v) {  // that stage is done: switch its case off (the nil channel)
      ins[static_cast<std::size_t>(from)] = bl::chan<long>();
      --open;
      continue;
    }
    if (!co_await send_or_cancel(out, *v, done)) break;
  }
  out.close();
}

bl::process run_pipeline(long wanted) {
  auto numbers = bl::make_chan<long>();
  done_chan done = bl::make_chan<bool>();
  std::array<bl::chan<long>, 3> squares{bl::make_chan<long>(), bl::make_chan<long>(),
                                        bl::make_chan<long>()};
  auto merged = bl::make_chan<long>(16);
  std::array<bl::pid, 5> stages{};
  stages[0] = bl::spawn(generate, numbers, done);
  for (std::size_t i = 0; i < squares.size(); ++i)
    stages[i + 1] = bl::spawn(square, numbers, squares[i], done);
  stages[4] = bl::spawn(merge, squares, merged, done);
  for (const bl::pid& stage : stages) bl::monitor(stage);

  long taken = 0;
  while (taken < wanted) {
    std::optional<long> v = co_await merged.receive();
    if (!v) break;
    ++taken;
  }
  done.close();  // cancel: every stage stops at its next send
  // Drain what was already on its way, so that no stage waits to hand it over.
  while (co_await merged.receive()) {
  }
  for (std::size_t i = 0; i < stages.size(); ++i) co_await bl::receive<bl::down_message>();
  std::printf("took %ld squares, cancelled: all %zu stages stopped\n", taken, stages.size());
}

}  // namespace

int main(int argc, char** argv) {
  bl::node node(bl::node_options::from_args(argc, argv));
  long wanted = 1000;
  for (int i = 1; i < argc; ++i)
    if (argv[i][0] != '-' && (i == 1 || argv[i - 1][0] != '-')) wanted = std::atol(argv[i]);
  node.spawn(run_pipeline, wanted);
  return node.run();
}
