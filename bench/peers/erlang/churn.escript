#!/usr/bin/env escript
%% -*- erlang -*-
%%! +S 2:2 +P 2000000
%% W7 churn on Erlang/OTP, the peer of bench/workloads/churn.cpp: 1,000,000
%% processes spawned with spawn_monitor in batches (at most 10,000 alive, refilled
%% when half have gone), each exits at once; every 'DOWN' is collected.
%% RESULT: wall_ms. 2 schedulers.
-mode(compile).

-define(MAX_ALIVE, 10000).

main(Arguments) ->
    Scale = scale_argument(Arguments),
    Total = scaled(Scale, 1000000),
    Start = erlang:monotonic_time(nanosecond),
    Downs = churn(Total, 0, 0),
    WallMs = (erlang:monotonic_time(nanosecond) - Start) / 1.0e6,
    report("churn", Downs =:= Total, Scale, [{"processes", Total}], [{"wall_ms", WallMs}]).

churn(Total, _Spawned, Downs) when Downs >= Total -> Downs;
churn(Total, Spawned, Downs) ->
    Batch = min(?MAX_ALIVE - (Spawned - Downs), Total - Spawned),
    spawn_batch(Batch),
    Target = min(Total, Downs + ?MAX_ALIVE div 2),  % refill at half
    churn(Total, Spawned + Batch, collect_downs(Downs, Target)).

spawn_batch(0) -> ok;
spawn_batch(Left) -> spawn_monitor(fun short_lived/0), spawn_batch(Left - 1).

short_lived() -> ok.

collect_downs(Target, Target) -> Target;
collect_downs(Downs, Target) ->
    receive {'DOWN', _Reference, process, _Pid, _Reason} -> collect_downs(Downs + 1, Target) end.

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
