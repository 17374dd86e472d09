#!/usr/bin/env escript
%% -*- erlang -*-
%%! +S 2:2 +P 2000000
%% gen_call on Erlang/OTP, the peer of bench/otp/gen_call.cpp: 100,000 sequential
%% gen_server:call(Server, {ping, K}) from the main process to a local gen_server
%% (started with gen_server:start_link, default 5 s timeout), each answered with K;
%% the server counts the calls. RESULT: us_per_call. 2 schedulers.
-mode(compile).
-behaviour(gen_server).
-export([init/1, handle_call/3, handle_cast/2]).

main(Arguments) ->
    Scale = scale_argument(Arguments),
    Calls = scaled(Scale, 100000),
    {ok, Server} = gen_server:start_link(?MODULE, [], []),
    Start = erlang:monotonic_time(nanosecond),
    Sum = call_loop(Server, 1, Calls, 0),
    Us = (erlang:monotonic_time(nanosecond) - Start) / Calls / 1000,
    Served = gen_server:call(Server, count),
    report("gen_call", Sum =:= Calls * (Calls + 1) div 2 andalso Served =:= Calls, Scale,
           [{"calls", Calls}], [{"us_per_call", Us}]).

call_loop(_, K, Calls, Sum) when K > Calls -> Sum;
call_loop(Server, K, Calls, Sum) ->
    call_loop(Server, K + 1, Calls, Sum + gen_server:call(Server, {ping, K})).

%% -- the server ------------------------------------------------------------------

init([]) -> {ok, 0}.

handle_call({ping, K}, _From, Count) -> {reply, K, Count + 1};
handle_call(count, _From, Count) -> {reply, Count, Count}.

handle_cast(_, Count) -> {noreply, Count}.

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
