#!/usr/bin/env escript
%% The Erlang side of bench/names/names.py: this node (named by ERL_FLAGS) measures
%% Erlang's own global and pg exactly as bench_global measures beamline's.
%%
%%   erl_bench.escript run NAMES LOOKUPS NODE...
%%       connects to each NODE, global:sync(), then registers NAMES global names
%%       ({bench, I}, a process each) one after the other, looks one up LOOKUPS
%%       times, joins NAMES processes to pg groups and looks one group up LOOKUPS
%%       times.
%%   erl_bench.escript merge NAMES NODE
%%       registers NAMES names alone, then connects to NODE and times global:sync().
%% Prints one line: RESULT {...} (JSON).
-mode(compile).

main(["run", NamesS, LookupsS | Nodes]) ->
    Names = list_to_integer(NamesS),
    Lookups = list_to_integer(LookupsS),
    [true = net_kernel:connect_node(list_to_atom(N)) || N <- Nodes],
    ok = global:sync(),
    T0 = now_us(),
    Took = register_all(Names),
    Total = now_us() - T0,
    Sorted = lists:sort(Took),
    Probe = {bench, Names div 2},
    T1 = now_us(),
    lookup_loop(Probe, Lookups),
    LookupNs = (now_us() - T1) * 1000 / Lookups,
    {ok, _} = pg:start_link(),
    Members = [spawn(fun holder/0) || _ <- lists:seq(1, Names)],
    T2 = now_us(),
    join_all(0, Members),
    JoinUs = now_us() - T2,
    T3 = now_us(),
    pg_loop(Probe, Lookups),
    PgNs = (now_us() - T3) * 1000 / Lookups,
    result([{nodes, length(nodes()) + 1},
            {global_registrations, Names},
            {global_register_per_s, Names / (Total / 1.0e6)},
            {global_register_mean_us, Total / Names},
            {global_register_p50_us, pct(Sorted, 0.5)},
            {global_register_p99_us, pct(Sorted, 0.99)},
            {global_lookup_ns, LookupNs},
            {pg_join_per_s, Names / (JoinUs / 1.0e6)},
            {pg_join_mean_us, JoinUs / Names},
            {pg_lookup_ns, PgNs}]);
main(["merge", NamesS, Node]) ->
    Names = list_to_integer(NamesS),
    T0 = now_us(),
    register_all(Names),
    Alone = now_us() - T0,
    T1 = now_us(),
    true = net_kernel:connect_node(list_to_atom(Node)),
    ok = global:sync(),
    Converged = now_us() - T1,
    result([{merge_names, Names},
            {merge_register_alone_ms, Alone / 1000},
            {merge_converged_ms, Converged / 1000},
            {names_known_after, length(global:registered_names())}]).

holder() -> receive _ -> ok end.

register_all(N) -> register_all(0, N, []).
register_all(N, N, Acc) -> Acc;
register_all(I, N, Acc) ->
    P = spawn(fun holder/0),
    T0 = now_us(),
    yes = global:register_name({bench, I}, P),
    register_all(I + 1, N, [now_us() - T0 | Acc]).

lookup_loop(_, 0) -> ok;
lookup_loop(Name, N) ->
    true = is_pid(global:whereis_name(Name)),
    lookup_loop(Name, N - 1).

join_all(_, []) -> ok;
join_all(I, [P | Ps]) -> ok = pg:join({bench, I}, P), join_all(I + 1, Ps).

pg_loop(_, 0) -> ok;
pg_loop(Group, N) -> [_] = pg:get_members(Group), pg_loop(Group, N - 1).

pct(Sorted, P) -> lists:nth(1 + trunc(P * (length(Sorted) - 1)), Sorted).

now_us() -> erlang:monotonic_time(microsecond).

result(Fields) ->
    Body = lists:join(", ", [io_lib:format("\"~s\": ~.3f", [K, float(V)]) || {K, V} <- Fields]),
    io:format("RESULT {\"system\": \"erlang\", ~s}~n", [Body]),
    halt(0).
