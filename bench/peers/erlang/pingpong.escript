#!/usr/bin/env escript
%% -*- erlang -*-
%%! +S 2:2 +P 2000000
%% W4 pingpong on Erlang/OTP, the peer of bench/workloads/pingpong.cpp: the main
%% process and a partner, 1,000,000 round trips of {From, N} answered with N + 1.
%% RESULT: ns_per_round_trip. 2 schedulers.
-mode(compile).

main(Arguments) ->
    Scale = scale_argument(Arguments),
    Rounds = scaled(Scale, 1000000),
    Partner = spawn(fun pong/0),
    Start = erlang:monotonic_time(nanosecond),
    Counter = ping(Partner, Rounds, 0),
    Ns = (erlang:monotonic_time(nanosecond) - Start) / Rounds,
    Partner ! {self(), -1},
    receive _ -> ok end,
    report("pingpong", Counter =:= Rounds, Scale, [{"round_trips", Rounds}],
           [{"ns_per_round_trip", Ns}]).

ping(_, 0, Counter) -> Counter;
ping(Partner, Left, Counter) ->
    Partner ! {self(), Counter},
    receive Next -> ping(Partner, Left - 1, Next) end.

pong() ->
    receive
        {From, N} ->
            From ! N + 1,
            if N < 0 -> ok; true -> pong() end
    end.

%% -- the contract shared by every workload (bench/workloads/bench_support.hpp) --

scale_argument(["--scale", Text | _]) -> to_number(Text);
scale_argument([_ | Rest]) -> scale_argument(Rest);
scale_argument([]) -> 1.0.

to_number(Text) ->
    case string:to_float(Text) of
        {Float, ""} -> Float;
        _ -> float(list_to_integer(Text))
    end.

scaled(Scale, N) -> max(1, round(N * Scale)).

report(Workload, ChecksumOk, Scale, Parameters, Figures) ->
    io:format("checksum ~s~n", [case ChecksumOk of true -> "ok"; false -> "WRONG" end]),
    Fields = [io_lib:format(",\"~s\":~b", [Key, Value]) || {Key, Value} <- Parameters]
          ++ [io_lib:format(",\"~s\":~.3f", [Key, float(Value)]) || {Key, Value} <- Figures],
    io:format("RESULT {\"workload\":\"~s\",\"system\":\"erlang\",\"checksum_ok\":~s,"
              "\"schedulers\":~b,\"scale\":~f~s}~n",
              [Workload, ChecksumOk, erlang:system_info(schedulers_online), float(Scale), Fields]).
