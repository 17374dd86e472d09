#!/usr/bin/env escript
%% -*- erlang -*-
%%! +S 2:2 +P 2000000
%% W10 tcp_echo on Erlang/OTP, the peer of bench/io/tcp_echo.cpp: an echo server
%% (one process per connection, gen_tcp in passive mode, binaries, nodelay) and 100
%% client processes in one node, each doing 10,000 round trips of 64 bytes over
%% loopback. RESULT: requests_per_sec, p99_us. 2 schedulers.
-mode(compile).

-define(CONNECTIONS, 100).
-define(SIZE, 64).

main(Arguments) ->
    Scale = scale_argument(Arguments),
    Rounds = scaled(Scale, 10000),
    Options = [binary, {active, false}, {nodelay, true}, {packet, raw}],
    {ok, Listener} = gen_tcp:listen(0, [{ip, {127, 0, 0, 1}}, {reuseaddr, true},
                                        {backlog, 1024} | Options]),
    {ok, Port} = inet:port(Listener),
    spawn_link(fun() -> accept(Listener) end),
    Self = self(),
    Clients = [spawn_link(fun() -> client(Self, Port, Options, Rounds) end)
               || _ <- lists:seq(1, ?CONNECTIONS)],
    [receive {connected, C} -> ok end || C <- Clients],
    Start = erlang:monotonic_time(nanosecond),
    [C ! go || C <- Clients],
    Results = [receive {done, C, Latencies} -> Latencies end || C <- Clients],
    Seconds = (erlang:monotonic_time(nanosecond) - Start) / 1.0e9,
    All = lists:sort(lists:append(Results)),
    Count = length(All),
    P99 = case Count of
              0 -> 0;
              _ -> lists:nth(trunc((Count - 1) * 0.99) + 1, All) / 1000
          end,
    report("tcp_echo", Count =:= Rounds * ?CONNECTIONS, Scale,
           [{"connections", ?CONNECTIONS}, {"round_trips", Rounds}, {"message_bytes", ?SIZE}],
           [{"requests_per_sec", Count / Seconds}, {"p99_us", P99}]),
    halt(0).

accept(Listener) ->
    {ok, Socket} = gen_tcp:accept(Listener),
    Server = spawn(fun() -> receive go -> serve(Socket) end end),
    ok = gen_tcp:controlling_process(Socket, Server),
    Server ! go,
    accept(Listener).

serve(Socket) ->
    case gen_tcp:recv(Socket, 0) of
        {ok, Data} ->
            case gen_tcp:send(Socket, Data) of
                ok -> serve(Socket);
                _ -> gen_tcp:close(Socket)
            end;
        _ -> gen_tcp:close(Socket)
    end.

client(Parent, Port, Options, Rounds) ->
    {ok, Socket} = gen_tcp:connect({127, 0, 0, 1}, Port, Options),
    Parent ! {connected, self()},
    receive go -> ok end,
    Request = binary:copy(<<"x">>, ?SIZE),
    Latencies = round_trips(Socket, Request, Rounds, []),
    gen_tcp:close(Socket),
    Parent ! {done, self(), Latencies}.

round_trips(_, _, 0, Latencies) -> Latencies;
round_trips(Socket, Request, Left, Latencies) ->
    Sent = erlang:monotonic_time(nanosecond),
    ok = gen_tcp:send(Socket, Request),
    {ok, Request} = gen_tcp:recv(Socket, ?SIZE),
    Took = erlang:monotonic_time(nanosecond) - Sent,
    round_trips(Socket, Request, Left - 1, [Took | Latencies]).

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
