#!/usr/bin/env escript
%% -*- erlang -*-
%%! +S 2:2 +P 2000000
%% supervisor_restart on Erlang/OTP, the peer of bench/otp/supervisor_restart.cpp:
%% a one_for_one supervisor with 10 permanent gen_server children; 100,000 times in
%% a row, the driver casts `crash` to the next child (round robin), the child stops
%% with reason `crash`, the supervisor restarts it, and the new child's init tells
%% the driver, which then crashes the next one. Intensity 1,000,000 per second, so
%% the limit is never reached (OTP still keeps the restart history it checks).
%% Logging is off (logger level none), as beamline's crash log is off in ours: both
%% measure restarting, not printing reports. RESULT: restarts_per_sec. 2 schedulers.
-mode(compile).
-behaviour(supervisor).
-behaviour(gen_server).
-export([init/1, handle_call/3, handle_cast/2]).

-define(CHILDREN, 10).

main(Arguments) ->
    Scale = scale_argument(Arguments),
    Crashes = scaled(Scale, 100000),
    logger:set_primary_config(level, none),
    process_flag(trap_exit, true),
    Driver = self(),
    {ok, Sup} = supervisor:start_link(?MODULE, {supervisor, Driver}),
    Pids = collect_started(?CHILDREN, #{}),
    Start = erlang:monotonic_time(nanosecond),
    {Restarts, _} = crash_loop(0, Crashes, Pids),
    Seconds = (erlang:monotonic_time(nanosecond) - Start) / 1.0e9,
    Counts = supervisor:count_children(Sup),
    Active = proplists:get_value(active, Counts),
    report("supervisor_restart", Restarts =:= Crashes andalso Active =:= ?CHILDREN, Scale,
           [{"crashes", Crashes}, {"children", ?CHILDREN}],
           [{"restarts_per_sec", Restarts / Seconds}]).

collect_started(0, Pids) -> Pids;
collect_started(Left, Pids) ->
    receive {started, Index, Pid} -> collect_started(Left - 1, Pids#{Index => Pid}) end.

crash_loop(Done, Crashes, Pids) when Done >= Crashes -> {Done, Pids};
crash_loop(Done, Crashes, Pids) ->
    Index = Done rem ?CHILDREN,
    gen_server:cast(maps:get(Index, Pids), crash),
    receive
        {started, Index, NewPid} -> crash_loop(Done + 1, Crashes, Pids#{Index => NewPid})
    end.

%% -- the supervisor and its children (one module, two behaviours) ----------------

init({supervisor, Driver}) ->
    Flags = #{strategy => one_for_one, intensity => 1000000, period => 1},
    Specs = [#{id => Index,
               start => {gen_server, start_link, [?MODULE, {worker, Index, Driver}, []]},
               restart => permanent, shutdown => 5000, type => worker}
             || Index <- lists:seq(0, ?CHILDREN - 1)],
    {ok, {Flags, Specs}};
init({worker, Index, Driver}) ->
    Driver ! {started, Index, self()},
    {ok, Index}.

handle_call(_, _From, State) -> {reply, ok, State}.

handle_cast(crash, State) -> {stop, crash, State}.

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
