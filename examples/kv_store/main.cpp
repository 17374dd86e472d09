// kv_store: a key-value store as a gen_server, filled by a parallel loader made of
// tasks, then queried.
//
// The store is one process that owns an std::unordered_map: every request is a
// typed call or cast, handled one at a time, so the map needs no lock. The loader
// reads 16 "shards" (generated here; files in real life) with bl::async_stream, at
// most one task per scheduler at a time; each task parses its shard and sends it
// to the store as one batch. The store also answers Erlang-shaped term calls
// ({get, Key}), as a plain process or an Erlang node would send them.
//
//   build/release/bin/kv_store [--schedulers N] [records per shard]
#include <beamline/otp.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace bl = beamline;
namespace gs = bl::gen_server;
using namespace std::chrono_literals;

namespace {

using record = std::pair<std::string, std::string>;

class kv_store {
 public:
  // Requests: plain aggregates, built where they are sent.
  struct put {
    std::string key, value;
  };
  struct put_many {
    std::vector<record> records;
  };
  struct get {
    std::string key;
  };
  struct erase {
    std::string key;
  };
  struct size {};

  void handle_cast(put p) { map_[std::move(p.key)] = std::move(p.value); }
  std::size_t handle_call(put_many batch) {
    for (auto& [k, v] : batch.records) map_[std::move(k)] = std::move(v);
    return map_.size();
  }
  std::optional<std::string> handle_call(get g) const {
    auto it = map_.find(g.key);
    if (it == map_.end()) return std::nullopt;
    return it->second;
  }
  bool handle_call(erase e) { return map_.erase(e.key) > 0; }
  std::size_t handle_call(size) const { return map_.size(); }

  // Erlang's shape: {get, Key} -> {ok, Value} | not_found.
  bl::term handle_call(const bl::term& request) const {
    if (request.is_tuple() && request.size() == 2 && request[0] == bl::term(bl::atom("get"))) {
      auto it = map_.find(request[1].as_string());
      if (it != map_.end()) return bl::term::tuple({bl::atom("ok"), bl::term::string(it->second)});
    }
    return bl::atom("not_found");
  }

 private:
  std::unordered_map<std::string, std::string> map_;
};

// "Parses" one shard: deterministic records, with some work per record.
std::vector<record> parse_shard(int shard, long records) {
  std::vector<record> out;
  out.reserve(static_cast<std::size_t>(records));
  for (long i = 0; i < records; ++i) {
    long id = shard * records + i;
    unsigned long h = static_cast<unsigned long>(id) * 2654435761ul;
    for (int round = 0; round < 50; ++round) h = (h ^ (h >> 13)) * 0x5bd1e995ul;
    out.emplace_back(std::string("user:") + std::to_string(id),
                     std::string("score=") + std::to_string(h % 1000));
  }
  return out;
}

bl::process main_process(long records_per_shard) {
  bl::server<kv_store> store = (co_await gs::start_link<kv_store>(bl::atom("kv"))).server();
  std::printf("kv store %s started\n", store.ref().resolve()->to_string().c_str());

  // The parallel loader: one task per shard, a bounded number at once.
  std::vector<int> shards;
  for (int s = 0; s < 16; ++s) shards.push_back(s);
  auto start = std::chrono::steady_clock::now();
  auto loaded = co_await bl::async_stream(
      shards,
      [records_per_shard](int shard) -> bl::task<std::size_t> {
        bl::server<kv_store> kv(bl::atom("kv"));
        co_return co_await kv.call(kv_store::put_many{parse_shard(shard, records_per_shard)}, 30s);
      },
      {.timeout = 60s});
  double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  long failed = 0;
  for (const auto& r : loaded) failed += r.is_ok() ? 0 : 1;
  std::printf("loaded 16 shards of %ld records in %.1f ms with async_stream (%ld failed)\n",
              records_per_shard, ms, failed);
  std::printf("store size: %zu\n", co_await store.call(kv_store::size{}));

  // Queries: typed calls, a cast, and an Erlang-shaped term call.
  std::optional<std::string> v = co_await store.call(kv_store::get{"user:0"});
  std::printf("get user:0 -> %s\n", v ? v->c_str() : "(none)");
  store.cast(kv_store::put{"user:0", "score=updated"});
  v = co_await store.call(kv_store::get{"user:0"});
  std::printf("after a cast, get user:0 -> %s\n", v ? v->c_str() : "(none)");
  bool erased = co_await store.call(kv_store::erase{"user:1"});
  std::printf("erase user:1 -> %s\n", erased ? "true" : "false");
  bl::term request = bl::term::tuple({bl::atom("get"), bl::term::string("user:2")});
  bl::term answer = co_await gs::call(bl::atom("kv"), std::move(request));
  std::printf("term call {get, \"user:2\"} -> %s\n", answer.to_string().c_str());

  // Many clients at once: each looks up its own keys in parallel tasks.
  std::vector<bl::async_task<long>> clients;
  for (int c = 0; c < 8; ++c) {
    clients.push_back(bl::async(
        [records_per_shard](int client) -> bl::task<long> {
          bl::server<kv_store> kv(bl::atom("kv"));
          long found = 0;
          for (long i = 0; i < 1000; ++i) {
            long id = (client * 7919 + i * 104729) % (16 * records_per_shard);
            if (co_await kv.call(kv_store::get{"user:" + std::to_string(id)})) ++found;
          }
          co_return found;
        },
        c));
  }
  long found = 0;
  for (long f : co_await bl::await_many(std::move(clients), 30s)) found += f;
  std::printf("8 client tasks made 8000 lookups: %ld found\n", found);

  co_await gs::stop(store);
  std::printf("store stopped\n");
}

}  // namespace

int main(int argc, char** argv) {
  bl::node_options options = bl::node_options::from_args(argc, argv);
  long records = 20000;
  for (int i = 1; i < argc; ++i)
    if (argv[i][0] != '-' && (i == 1 || argv[i - 1][0] != '-')) records = std::atol(argv[i]);
  bl::node node(options);
  node.spawn(main_process, records);
  return node.run();
}
