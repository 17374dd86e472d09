#!/usr/bin/env escript
%% -*- erlang -*-
%%! +S 2:2
%% W8 and W9 on Erlang/OTP (BENCHMARKS.md): the same two programs as
%% bench_dist_server and bench_dist_client, so that every pairing can be measured.
%%
%%   dist_peer.escript server --name NAME --cookie C
%%   dist_peer.escript client --name NAME --cookie C --to NODE w8|w9 [--scale F]
%%
%% server: registers `calls` (a gen_server answering {echo, X} with X) and `sink`
%% (counts {From, {msg, _}}, sends From ! {ack, Count} every 10,000th; {From, reset}
%% zeroes the count and answers From ! reset_ok), prints "serving NAME", runs until
%% stdin closes. client: W8 sends 1,000,000 {self(), {msg, I}} to {sink, NODE} with at
%% most two windows of 10,000 unacknowledged; W9 makes 100,000 sequential
%% gen_server:call({calls, NODE}, {echo, I}); prints the RESULT line. 2 schedulers.
-mode(compile).
-behaviour(gen_server).
-export([init/1, handle_call/3, handle_cast/2]).

main(["server" | Args]) ->
    start_distribution(Args),
    {ok, _} = gen_server:start({local, calls}, ?MODULE, [], []),
    register(sink, spawn(fun() -> sink(0) end)),
    io:format("serving ~s~n", [node()]),
    _ = io:get_line(""),
    halt(0);
main(["client" | Args]) ->
    start_distribution(Args),
    To = list_to_atom(option("--to", Args)),
    Scale = scale_argument(Args),
    pong = net_adm:ping(To),
    case lists:member("w8", Args) of
        true -> w8(To, Scale);
        false -> w9(To, Scale)
    end,
    halt(0).

start_distribution(Args) ->
    {ok, _} = net_kernel:start([list_to_atom(option("--name", Args)), longnames]),
    erlang:set_cookie(node(), list_to_atom(option("--cookie", Args))).

option(Name, [Name, Value | _]) -> Value;
option(Name, [_ | Rest]) -> option(Name, Rest).

%% -- the server ------------------------------------------------------------------

init([]) -> {ok, 0}.
handle_call({echo, X}, _From, S) -> {reply, X, S}.
handle_cast(_, S) -> {noreply, S}.

sink(Count) ->
    receive
        {From, reset} -> From ! reset_ok, sink(0);
        {From, {msg, _}} ->
            New = Count + 1,
            case New rem 10000 of
                0 -> From ! {ack, New};
                _ -> ok
            end,
            sink(New)
    end.

%% -- the client ------------------------------------------------------------------

w8(To, Scale) ->
    Total = max(1, round(1000000 * Scale)) div 10000 * 10000,
    {sink, To} ! {self(), reset},
    receive reset_ok -> ok after 10000 -> erlang:error(no_reset) end,
    Start = erlang:monotonic_time(nanosecond),
    Acked = w8_send(To, 0, 0, Total),
    Seconds = (erlang:monotonic_time(nanosecond) - Start) / 1.0e9,
    report("w8", Acked =:= Total, Scale, [{"messages", Total}], [{"msgs_per_sec", Total / Seconds}]).

w8_send(_To, Sent, Acked, Total) when Sent >= Total -> wait_acks(Acked, Total);
w8_send(To, Sent, Acked, Total) when Sent - Acked >= 20000 ->
    receive {ack, N} -> w8_send(To, Sent, N, Total) after 30000 -> Acked end;
w8_send(To, Sent, Acked, Total) ->
    Me = self(),
    lists:foreach(fun(I) -> {sink, To} ! {Me, {msg, I}} end, lists:seq(Sent, Sent + 9999)),
    w8_send(To, Sent + 10000, Acked, Total).

wait_acks(Acked, Total) when Acked >= Total -> Acked;
wait_acks(Acked, Total) ->
    receive {ack, N} -> wait_acks(N, Total) after 30000 -> Acked end.

w9(To, Scale) ->
    Calls = max(1, round(100000 * Scale)),
    Start = erlang:monotonic_time(nanosecond),
    {Sum, Times} = w9_loop(To, 1, Calls, 0, []),
    Us = (erlang:monotonic_time(nanosecond) - Start) / Calls / 1000,
    Sorted = lists:sort(Times),
    P99 = lists:nth(min(length(Sorted), length(Sorted) * 99 div 100 + 1), Sorted) / 1000,
    report("w9", Sum =:= Calls * (Calls + 1) div 2, Scale, [{"calls", Calls}],
           [{"us_per_call", Us}, {"p99_us", P99}]).

w9_loop(_To, I, Calls, Sum, Times) when I > Calls -> {Sum, Times};
w9_loop(To, I, Calls, Sum, Times) ->
    T0 = erlang:monotonic_time(nanosecond),
    X = gen_server:call({calls, To}, {echo, I}),
    T = erlang:monotonic_time(nanosecond) - T0,
    w9_loop(To, I + 1, Calls, Sum + X, [T | Times]).

%% -- the contract shared by every workload (bench/workloads/bench_support.hpp) --

scale_argument(["--scale", Text | _]) -> to_number(Text);
scale_argument([_ | Rest]) -> scale_argument(Rest);
scale_argument([]) -> 1.0.

to_number(Text) ->
    case string:to_float(Text) of
        {Float, ""} -> Float;
        _ -> float(list_to_integer(Text))
    end.

report(Workload, ChecksumOk, Scale, Parameters, Figures) ->
    io:format("checksum ~s~n", [case ChecksumOk of true -> "ok"; false -> "WRONG" end]),
    Fields = [io_lib:format(",\"~s\":~b", [Key, Value]) || {Key, Value} <- Parameters]
          ++ [io_lib:format(",\"~s\":~.3f", [Key, float(Value)]) || {Key, Value} <- Figures],
    io:format("RESULT {\"workload\":\"~s\",\"system\":\"erlang\",\"checksum_ok\":~s,"
              "\"schedulers\":~b,\"scale\":~f~s}~n",
              [Workload, ChecksumOk, erlang:system_info(schedulers_online), float(Scale), Fields]).
