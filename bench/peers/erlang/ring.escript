#!/usr/bin/env escript
%% -*- erlang -*-
%%! +S 2:2 +P 2000000
%% W3 ring on Erlang/OTP, the peer of bench/workloads/ring.cpp: 10,000 processes
%% in a ring (the main process leads), a token counting down from 1,000,000 hops
%% goes round 100 times; a member that sees the count reach zero passes it on and
%% exits, so the ring unwinds behind it. RESULT: ns_per_hop. 2 schedulers.
-mode(compile).

main(Arguments) ->
    Scale = scale_argument(Arguments),
    Size = 10000,
    Hops = scaled(Scale, 1000000),
    Next = build_ring(Size - 1, self()),
    Start = erlang:monotonic_time(nanosecond),
    Next ! Hops - 1,
    Counted = lead(Next, 1),
    NsPerHop = (erlang:monotonic_time(nanosecond) - Start) / Hops,
    %% The leader handles one hop in Size: Hops div Size + 1 receives and its send.
    report("ring", Counted =:= Hops div Size + 1, Scale,
           [{"processes", Size}, {"hops", Hops}], [{"ns_per_hop", NsPerHop}]).

build_ring(0, Next) -> Next;
build_ring(Left, Next) -> build_ring(Left - 1, spawn(fun() -> member(Next) end)).

member(Next) ->
    receive
        Left ->
            Next ! Left - 1,
            if Left =< 0 -> ok; true -> member(Next) end
    end.

lead(Next, Counted) ->
    receive
        Left ->
            Next ! Left - 1,
            if Left =< 0 -> Counted + 1; true -> lead(Next, Counted + 1) end
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
