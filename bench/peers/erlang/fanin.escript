#!/usr/bin/env escript
%% -*- erlang -*-
%%! +S 2:2 +P 2000000
%% W5 fanin on Erlang/OTP, the peer of bench/workloads/fanin.cpp: 100 senders each
%% send the integers 0 .. 99,999 to the main process, which sums all 10,000,000.
%% The clock runs from the first spawn to the last receive. RESULT: msgs_per_sec.
%% 2 schedulers.
-mode(compile).

main(Arguments) ->
    Scale = scale_argument(Arguments),
    Senders = 100,
    PerSender = scaled(Scale, 100000),
    Self = self(),
    Start = erlang:monotonic_time(nanosecond),
    [spawn(fun() -> send_integers(Self, 0, PerSender) end) || _ <- lists:seq(1, Senders)],
    Sum = sum_messages(Senders * PerSender, 0),
    Seconds = (erlang:monotonic_time(nanosecond) - Start) / 1.0e9,
    Expected = Senders * (PerSender * (PerSender - 1) div 2),
    report("fanin", Sum =:= Expected, Scale,
           [{"senders", Senders}, {"per_sender", PerSender}],
           [{"msgs_per_sec", Senders * PerSender / Seconds}]).

send_integers(_, Count, Count) -> ok;
send_integers(To, I, Count) -> To ! I, send_integers(To, I + 1, Count).

sum_messages(0, Sum) -> Sum;
sum_messages(Left, Sum) -> receive I -> sum_messages(Left - 1, Sum + I) end.

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
