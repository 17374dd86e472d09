// supervisor_restart: a one_for_one supervisor with 10 permanent gen_server children;
// 100,000 times in a row the driver casts `crash` to the next child (round robin),
// the child stops with reason `crash`, the supervisor restarts it, and the new
// child's constructor (its init) tells the driver, which then crashes the next one.
// Intensity 1,000,000 per second: never reached. RESULT: restarts_per_sec. The peer
// is bench/peers/erlang/supervisor_restart.escript.
#include <vector>

#include "beamline/otp.hpp"
#include "bench_support.hpp"

namespace bl = beamline;
namespace sup = bl::supervisor;

namespace {

constexpr int children = 10;

struct started {
  int index;
  bl::pid pid;
};

struct member {
  struct crash {};
  member(int index, bl::pid driver) { bl::send(driver, started{index, bl::self()}); }
  bl::gen_server::result handle_cast(crash) { return bl::gen_server::stopping(bl::atom("crash")); }
};

}  // namespace

int main(int argc, char** argv) {
  auto args = bench::parse(argc, argv);  // crash logging off, as the peer's logger
  const long crashes = bench::scaled(args, 100'000);
  long restarts = 0, active = 0;
  double per_sec = 0;
  bl::node node(args.node);
  node.spawn([&]() -> bl::process {
    bl::trap_exit(true);
    std::vector<sup::child_spec> specs;
    for (int i = 0; i < children; ++i) specs.push_back(sup::worker<member>(i, i, bl::self()));
    auto s = co_await sup::start_link({.intensity = 1'000'000, .period = std::chrono::seconds(1)},
                                      std::move(specs));
    std::vector<bl::server<member>> pids(children);
    for (int i = 0; i < children; ++i) {
      started st = co_await bl::receive<started>();
      pids[static_cast<std::size_t>(st.index)] = bl::server<member>(st.pid);
    }
    auto start = bench::clock_type::now();
    for (long done = 0; done < crashes; ++done) {
      const int index = static_cast<int>(done % children);
      pids[static_cast<std::size_t>(index)].cast(member::crash{});
      started st = co_await bl::receive(bl::when(
          [index](const started& x) { return x.index == index; }, [](started x) { return x; }));
      pids[static_cast<std::size_t>(index)] = bl::server<member>(st.pid);
      ++restarts;
    }
    double seconds = bench::ms_between(start, bench::clock_type::now()) / 1e3;
    per_sec = static_cast<double>(restarts) / seconds;
    active = (co_await sup::count_children(s.pid())).active;
    co_await bl::gen_server::stop(s.pid());
  });
  node.run();
  bench::report("supervisor_restart", restarts == crashes && active == children, args,
                {{"crashes", std::to_string(crashes)}, {"children", std::to_string(children)}},
                {{"restarts_per_sec", per_sec}});
}
