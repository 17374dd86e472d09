#!/usr/bin/env escript
%% -*- erlang -*-
%%! +S 2:2 +P 2000000
%% W1 skynet on Erlang/OTP, the peer of bench/workloads/skynet.cpp: a root spawns
%% 10 children, each 10 more, down to 1,000,000 leaves (at --scale 1; the tree stays
%% a power of ten, so scale picks the depth); leaf i sends i to its parent, parents
%% sum their 10 children and send up. Prints `checksum ok|WRONG` and last
%% `RESULT {json}` with wall_ms. Runs on 2 schedulers (the %%! line above).
-mode(compile).

main(Arguments) ->
    Scale = scale_argument(Arguments),
    Leaves = power_of_ten_at_most(scaled(Scale, 1000000)),
    Start = erlang:monotonic_time(nanosecond),
    Self = self(),
    spawn(fun() -> skynet(Self, 0, Leaves) end),
    Sum = receive Value -> Value end,
    WallMs = (erlang:monotonic_time(nanosecond) - Start) / 1.0e6,
    report("skynet", Sum =:= Leaves * (Leaves - 1) div 2, Scale,
           [{"leaves", Leaves}], [{"wall_ms", WallMs}]).

skynet(Parent, Number, 1) ->
    Parent ! Number;
skynet(Parent, Number, Size) ->
    Child = Size div 10,
    Self = self(),
    [spawn(fun() -> skynet(Self, Number + Index * Child, Child) end)
     || Index <- lists:seq(0, 9)],
    Parent ! sum_children(10, 0).

sum_children(0, Sum) -> Sum;
sum_children(Left, Sum) -> receive Value -> sum_children(Left - 1, Sum + Value) end.

power_of_ten_at_most(Limit) -> power_of_ten_at_most(Limit, 1).
power_of_ten_at_most(Limit, Leaves) when Leaves * 10 =< Limit -> power_of_ten_at_most(Limit, Leaves * 10);
power_of_ten_at_most(_, Leaves) -> Leaves.

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
