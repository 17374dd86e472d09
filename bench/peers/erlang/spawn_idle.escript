#!/usr/bin/env escript
%% -*- erlang -*-
%%! +S 2:2 +P 2000000
%% W2 spawn_idle on Erlang/OTP, the peer of bench/workloads/spawn_idle.cpp: spawn
%% 1,000,000 processes that each wait in receive; measure the time until every one
%% has run to its receive (the run queues have drained) and the RSS of the VM per
%% process; then send each a message and time until all have exited. RESULT:
%% spawn_ms, bytes_per_process, teardown_ms. Runs on 2 schedulers (the %%! line).
-mode(compile).

main(Arguments) ->
    Scale = scale_argument(Arguments),
    N = scaled(Scale, 1000000),
    ProcessesBefore = erlang:system_info(process_count),
    %% The pid list costs one cons cell (two words) per process on our heap: count
    %% it as ours, not the children's (bench_support does the same for its vector).
    RssBefore = resident_bytes() + N * 2 * erlang:system_info(wordsize),
    Start = erlang:monotonic_time(nanosecond),
    Pids = [spawn(fun idle/0) || _ <- lists:seq(1, N)],
    %% Wait at the lowest priority, as ours does, so the children run first.
    process_flag(priority, low),
    wait_until_run_queues_empty(),
    process_flag(priority, normal),
    SpawnMs = milliseconds_since(Start),
    receive after 50 -> ok end,
    RssAfter = resident_bytes(),
    TeardownStart = erlang:monotonic_time(nanosecond),
    [Pid ! 0 || Pid <- Pids],
    wait_until_process_count(ProcessesBefore),
    TeardownMs = milliseconds_since(TeardownStart),
    Ok = length(Pids) =:= N andalso erlang:system_info(process_count) =:= ProcessesBefore,
    report("spawn_idle", Ok, Scale, [{"processes", N}],
           [{"spawn_ms", SpawnMs}, {"bytes_per_process", (RssAfter - RssBefore) / N},
            {"teardown_ms", TeardownMs}]).

idle() -> receive _ -> ok end.

%% Every child has run to its receive once no scheduler has anything left to run.
wait_until_run_queues_empty() ->
    case erlang:statistics(total_run_queue_lengths) of
        0 -> ok;
        _ -> erlang:yield(), wait_until_run_queues_empty()
    end.

%% Polls every millisecond (a sleep, so the children get both schedulers).
wait_until_process_count(Count) ->
    case erlang:system_info(process_count) > Count of
        true -> receive after 1 -> wait_until_process_count(Count) end;
        false -> ok
    end.

milliseconds_since(Start) -> (erlang:monotonic_time(nanosecond) - Start) / 1.0e6.

resident_bytes() ->
    {ok, Statm} = file:read_file("/proc/self/statm"),
    [_Size, Resident | _] = string:lexemes(binary_to_list(Statm), " \n"),
    list_to_integer(Resident) * 4096.

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
