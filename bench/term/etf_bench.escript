#!/usr/bin/env escript
%% -*- erlang -*-
%%! +S 2:2
%%
%% etf_bench.escript: Erlang's own term_to_binary/1 and binary_to_term/1 on the terms
%% bench_etf wrote (bench_etf --write-terms DIR), timed as bench_etf times ours:
%% per term and operation, the batch size doubles until a batch takes 10 ms, then 15
%% batches are timed and the median time per call is printed as one JSON line.
%%
%%   etf_bench.escript DIR [--quick]
%%
%% Each line also says whether term_to_binary gives back bench_etf's bytes ("same":
%% maps over 32 entries are the expected exception, written in a different order).
-mode(compile).

main([Dir | Options]) ->
    Quick = lists:member("--quick", Options),
    Files = lists:sort(filelib:wildcard(filename:join(Dir, "*.etf"))),
    lists:foreach(fun(File) -> bench(File, Quick) end, Files);
main(_) ->
    io:format(standard_error, "usage: etf_bench.escript DIR [--quick]~n", []),
    halt(2).

bench(File, Quick) ->
    {ok, Bytes} = file:read_file(File),
    Name = filename:basename(File, ".etf"),
    Term = binary_to_term(Bytes),
    Same = term_to_binary(Term) =:= Bytes,
    Encode = time_per_call(fun(N) -> encode_loop(Term, N, 0) end, Quick),
    Decode = time_per_call(fun(N) -> decode_loop(Bytes, N, 0) end, Quick),
    [io:format("{\"system\": \"erlang\", \"term\": \"~s\", \"op\": \"~s\", \"ns\": ~.1f, "
               "\"bytes\": ~b, \"same\": ~s}~n", [Name, Op, Ns, byte_size(Bytes), Same])
     || {Op, Ns} <- [{"encode", Encode}, {"decode", Decode}]].

encode_loop(_, 0, Acc) -> Acc;
encode_loop(Term, N, Acc) -> encode_loop(Term, N - 1, Acc + byte_size(term_to_binary(Term))).

decode_loop(_, 0, Last) -> Last;
decode_loop(Bytes, N, _) -> decode_loop(Bytes, N - 1, binary_to_term(Bytes)).

batch_ns(Run, N) ->
    Start = erlang:monotonic_time(nanosecond),
    _ = Run(N),
    erlang:monotonic_time(nanosecond) - Start.

time_per_call(Run, Quick) ->
    Target = case Quick of true -> 2000000; false -> 10000000 end,
    N = calibrate(Run, 1, Target),
    Batches = case Quick of true -> 5; false -> 15 end,
    Samples = lists:sort([batch_ns(Run, N) / N || _ <- lists:seq(1, Batches)]),
    lists:nth(length(Samples) div 2 + 1, Samples).

calibrate(Run, N, Target) ->
    case batch_ns(Run, N) >= Target orelse N >= 1 bsl 30 of
        true -> N;
        false -> calibrate(Run, N * 2, Target)
    end.
