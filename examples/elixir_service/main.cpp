// elixir_service: heavy native work as a node of an Elixir (or Erlang) cluster.
//
//   build/release/bin/elixir_service --name cpp@127.0.0.1 --cookie secret
//
// The node exports heavy:primes/1 (how many primes there are below N, computed in
// C++) to :rpc.call and :erpc.call, and runs `svc`, a supervised gen_server that
// Elixir calls with GenServer.call({:svc, :"cpp@127.0.0.1"}, request):
//   {:primes, n}  -> the count of primes below n
//   :stats        -> %{calls: calls this incarnation has answered, restarts: ...}
//   :crash        -> the server crashes; its supervisor starts a new one
// docs/distribution.md has a transcript of an iex session using it. It runs until
// killed.
#include <beamline/beamline.hpp>
#include <beamline/otp.hpp>

#include <cstdio>
#include <vector>

namespace bl = beamline;
namespace gs = bl::gen_server;
namespace sup = bl::supervisor;
using namespace std::chrono_literals;

namespace {

// The primes below n, by a sieve: the native work the Elixir side hands over.
long count_primes(long n) {
  if (n < 3) return 0;
  std::vector<bool> composite(static_cast<std::size_t>(n), false);
  long count = 0;
  for (long i = 2; i < n; ++i) {
    if (composite[static_cast<std::size_t>(i)]) continue;
    ++count;
    for (long j = i * i; j < n; j += i) composite[static_cast<std::size_t>(j)] = true;
  }
  return count;
}

bl::term primes(const bl::term& arguments) {
  // heavy:primes(N): one argument, an integer from 0 to 10^9.
  if (arguments.is_nil() || !arguments.tail().is_nil() || !arguments.head().is_integer() ||
      arguments.head().as_int() < 0 || arguments.head().as_int() > 1'000'000'000)
    throw bl::error(bl::atom("badarg"), "heavy:primes takes an integer from 0 to 10^9");
  return count_primes(arguments.head().as_int());
}

std::atomic<long> starts{0};

struct svc {
  long calls = 0;

  svc() { ++starts; }

  bl::term handle_call(const bl::term& request) {
    ++calls;
    if (request.is_tuple() && request.size() == 2 && request[0] == bl::term(bl::atom("primes")))
      return primes(bl::term::list({request[1]}));
    if (request == bl::term(bl::atom("stats")))
      return bl::term::map({{bl::atom("calls"), calls}, {bl::atom("restarts"), starts.load() - 1}});
    if (request == bl::term(bl::atom("crash")))
      throw bl::error(bl::atom("asked_to_crash"), "svc: a client asked it to crash");
    return bl::term::tuple(
        {bl::atom("error"), bl::term::tuple({bl::atom("unknown_request"), request})});
  }
};

bl::process application() {
  bl::start_result top = co_await sup::start_link(
      {.strategy = sup::strategy::one_for_one, .intensity = 5, .period = 10s},
      sup::children(sup::worker<svc>(bl::atom("svc"), gs::start_options(bl::atom("svc")))),
      bl::atom("svc_sup"));
  if (!top) {
    std::fprintf(stderr, "elixir_service: the supervisor did not start: %s\n",
                 top.to_term().to_string().c_str());
    bl::stop_node();
    co_return;
  }
  std::printf("elixir_service: %s is up (svc and heavy:primes/1)\n",
              std::string(bl::dist::node_name().name()).c_str());
  std::fflush(stdout);
  for (;;) co_await bl::sleep(1h);  // the supervisor's parent: it lives as long as the node
}

}  // namespace

int main(int argc, char** argv) {
  try {
    bl::node_options options = bl::node_options::from_args(argc, argv);
    bl::node node(options);
    std::optional<bl::dist::options> dist = bl::dist::options::from_args(argc, argv);
    if (!dist) {
      std::fprintf(stderr, "usage: elixir_service --name NAME@HOST --cookie COOKIE\n");
      return 2;
    }
    bl::dist::start(node, *dist);
    bl::dist::export_function("heavy", "primes", primes);
    node.spawn(application);
    return node.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "elixir_service: %s\n", e.what());
    return 1;
  }
}
