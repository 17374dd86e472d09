// gen_call: 100,000 sequential calls from one process to a local gen_server, each
// {ping, K} answered with K (the server counts them). RESULT: us_per_call (typed
// requests, the C++ API) and us_per_call_term (bl::term requests in Erlang's wire
// shapes, the interop path). The peer is bench/peers/erlang/gen_call.escript.
#include "beamline/otp.hpp"
#include "bench_support.hpp"

namespace bl = beamline;

namespace {

struct echo {
  struct ping {
    long k;
  };
  long handle_call(ping p) {
    ++calls;
    return p.k;
  }
  bl::term handle_call(bl::term request) {
    ++calls;
    return request[1];  // {ping, K} -> K
  }
  long calls = 0;
  struct count {};
  long handle_call(count) { return calls; }
};

}  // namespace

int main(int argc, char** argv) {
  auto args = bench::parse(argc, argv);
  const long calls = bench::scaled(args, 100'000);
  long typed_sum = 0, term_sum = 0, served = 0;
  double typed_us = 0, term_us = 0;
  bl::node node(args.node);
  node.spawn([&]() -> bl::process {
    bl::server<echo> server = (co_await bl::gen_server::start_link<echo>({})).server();
    auto start = bench::clock_type::now();
    for (long k = 1; k <= calls; ++k) typed_sum += co_await server.call(echo::ping{k});
    typed_us =
        bench::ms_between(start, bench::clock_type::now()) * 1e3 / static_cast<double>(calls);

    const bl::atom ping("ping");
    start = bench::clock_type::now();
    for (long k = 1; k <= calls; ++k) {
      // (Built apart from the co_await: g++ 12 cannot keep an initializer list's
      // array across a suspension in one full-expression.)
      bl::term request = bl::term::tuple({ping, k});
      term_sum += (co_await bl::gen_server::call(server, std::move(request))).as_int();
    }
    term_us = bench::ms_between(start, bench::clock_type::now()) * 1e3 / static_cast<double>(calls);

    served = co_await server.call(echo::count{});
    co_await bl::gen_server::stop(server);
  });
  node.run();
  const long expected = calls * (calls + 1) / 2;
  bench::report("gen_call", typed_sum == expected && term_sum == expected && served == 2 * calls,
                args, {{"calls", std::to_string(calls)}},
                {{"us_per_call", typed_us}, {"us_per_call_term", term_us}});
}
