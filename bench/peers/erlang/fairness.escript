#!/usr/bin/env escript
%% -*- erlang -*-
%%! +S 2:2 +P 2000000
%% W6 fairness on Erlang/OTP, the peer of bench/workloads/fairness.cpp: 4 hog
%% processes spin in a tail-recursive loop that only bumps their slot of a
%% `counters` array; first alone for 2 s (the solo rate), then beside a ping-pong
%% pair (the main process and a partner) doing 1,000 timed round trips with a
%% `receive after 1` between them, for at most 20 s. RESULT: p50_us, p99_us, max_us,
%% completed, hog_progress (hog iterations/s during the round trips / solo rate),
%% sleep_late_us (mean lateness of the 1 ms sleeps). 2 schedulers (the %%! line).
%%
%% The counters are `write_concurrency` ones: each scheduler bumps its own
%% cache-line-padded copy, so two hogs on two schedulers do not share a line (ours
%% pads its counters too). A watchdog process at high priority reports what was done
%% and halts the VM after the solo phase + 25 s, as ours does, should the round
%% trips starve (on the BEAM they do not: reductions preempt the hogs).
-mode(compile).

-define(HOGS, 4).
-define(COMPLETED, ?HOGS + 1).  % the counters slot that counts round trips done

main(Arguments) ->
    Scale = scale_argument(Arguments),
    RoundTrips = scaled(Scale, 1000),
    SoloMs = round(2000 * min(1.0, Scale * 10)),
    Counters = counters:new(?HOGS + 1, [write_concurrency]),
    Watchdog = spawn_watchdog(Scale, RoundTrips, Counters, SoloMs + 25000),
    [spawn(fun() -> hog(Counters, Index) end) || Index <- lists:seq(1, ?HOGS)],
    %% Phase 1: the hogs alone.
    receive after 100 -> ok end,  % let them start
    T0 = erlang:monotonic_time(nanosecond),
    I0 = hog_iterations(Counters),
    receive after SoloMs -> ok end,
    T1 = erlang:monotonic_time(nanosecond),
    I1 = hog_iterations(Counters),
    SoloRate = (I1 - I0) / ((T1 - T0) / 1.0e9),
    %% Phase 2: timed round trips beside the hogs.
    Partner = spawn(fun pong/0),
    Deadline = erlang:monotonic_time(nanosecond) + 20000000000,
    R0 = erlang:monotonic_time(nanosecond),
    J0 = hog_iterations(Counters),
    {RttsUs, LateTotalUs} = ping(Partner, Counters, 0, RoundTrips, Deadline, [], 0.0),
    R1 = erlang:monotonic_time(nanosecond),
    J1 = hog_iterations(Counters),
    RunRate = (J1 - J0) / ((R1 - R0) / 1.0e9),
    Partner ! {self(), -1},
    receive -1 -> ok end,
    Watchdog ! done,
    Completed = length(RttsUs),
    Sorted = lists:sort(RttsUs),
    report("fairness", Completed =:= RoundTrips, Scale, [{"hogs", ?HOGS}, {"round_trips", RoundTrips}],
           [{"p50_us", percentile(Sorted, 0.50)},
            {"p99_us", percentile(Sorted, 0.99)},
            {"max_us", case Sorted of [] -> 0.0; _ -> lists:last(Sorted) end},
            {"completed", Completed},
            {"hog_progress", case SoloRate > 0 of true -> RunRate / SoloRate; false -> 0.0 end},
            {"sleep_late_us", case Completed > 0 of true -> LateTotalUs / Completed; false -> 0.0 end}]).
    %% Returning from main halts the VM, hogs and all.

%% Calls nothing but the counter bump: no receive, no yield.
hog(Counters, Index) ->
    counters:add(Counters, Index, 1),
    hog(Counters, Index).

hog_iterations(Counters) ->
    lists:sum([counters:get(Counters, Index) || Index <- lists:seq(1, ?HOGS)]).

pong() ->
    receive
        {From, N} ->
            From ! N,
            if N < 0 -> ok; true -> pong() end
    end.

ping(_, _, Done, RoundTrips, _, Rtts, Late) when Done =:= RoundTrips -> {Rtts, Late};
ping(Partner, Counters, Done, RoundTrips, Deadline, Rtts, Late) ->
    case erlang:monotonic_time(nanosecond) < Deadline of
        false ->
            {Rtts, Late};
        true ->
            Start = erlang:monotonic_time(nanosecond),
            Partner ! {self(), Done},
            receive Done -> ok end,
            RttUs = (erlang:monotonic_time(nanosecond) - Start) / 1000,
            counters:add(Counters, ?COMPLETED, 1),
            SleepStart = erlang:monotonic_time(nanosecond),
            receive after 1 -> ok end,
            LateUs = (erlang:monotonic_time(nanosecond) - SleepStart) / 1000 - 1000.0,
            ping(Partner, Counters, Done + 1, RoundTrips, Deadline, [RttUs | Rtts], Late + LateUs)
    end.

%% The element at rank floor(P * N) of the sorted list (0-based), as ours.
percentile([], _) -> 0.0;
percentile(Sorted, P) ->
    N = length(Sorted),
    lists:nth(min(N - 1, trunc(P * N)) + 1, Sorted).

%% After LimitMs, unless told `done`: report the round trips done so far, checksum
%% WRONG, and halt without waiting for the hogs.
spawn_watchdog(Scale, RoundTrips, Counters, LimitMs) ->
    spawn_opt(fun() ->
                      receive
                          done -> ok
                      after LimitMs ->
                              report("fairness", false, Scale, [{"hogs", ?HOGS}, {"round_trips", RoundTrips}],
                                     [{"p50_us", 0}, {"p99_us", 0}, {"max_us", 0},
                                      {"completed", counters:get(Counters, ?COMPLETED)},
                                      {"hog_progress", 0}, {"sleep_late_us", 0}]),
                              halt(0)
                      end
              end, [{priority, high}]).

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
