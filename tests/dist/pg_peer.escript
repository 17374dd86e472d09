#!/usr/bin/env escript
%% The Erlang side of tests/dist/pg_interop_test.py (started with ERL_FLAGS naming the
%% node and its cookie). Every check waits at most 10 s for pg's messages to travel.
%%
%%   pg_peer.escript count NODE GROUP N
%%       until the pg_node NODE's probe reports N members of GROUP; "count ok".
%%   pg_peer.escript interop NODE BEAMLINE_MEMBERS
%%       runs pg here beside the pg_node NODE (whose cluster has BEAMLINE_MEMBERS
%%       members of `workers`): sees them; joins a process twice, which NODE sees; a
%%       scope monitor here sees a member NODE adds; the process's death is seen
%%       on NODE; a member NODE stops is gone here. Prints "phase1 ok", then waits
%%       until only members of other nodes than NODE are left (the test kills NODE)
%%       and prints "cleanup ok".
-mode(compile).

main(["count", Node, Group, N]) ->
    To = list_to_atom(Node),
    true = net_kernel:connect_node(To),
    wait(fun() -> length(remote_members(To, list_to_atom(Group))) =:= list_to_integer(N) end,
         {count, Group, N}),
    io:format("count ok~n"),
    halt(0);
main(["interop", Node, BeamlineMembers]) ->
    To = list_to_atom(Node),
    N = list_to_integer(BeamlineMembers),
    {ok, _} = pg:start_link(),
    true = net_kernel:connect_node(To),
    %% The beamline members are seen here, each a pid of a beamline node.
    wait(fun() -> length(pg:get_members(workers)) =:= N end, {beamline_members, N}),
    true = lists:all(fun(P) -> node(P) =/= node() end, pg:get_members(workers)),
    %% A process of this node, joined twice (and to a tuple group), is seen there.
    Self = self(),
    E1 = spawn(fun() -> receive stop -> ok end end),
    ok = pg:join(workers, [E1, E1]),
    ok = pg:join({erl, group}, E1),
    wait(fun() -> length(remote_members(To, workers)) =:= N + 2 end, {seen_there, N + 2}),
    %% A scope monitor here sees a member that the beamline node adds.
    {Ref, Groups} = pg:monitor_scope(),
    N = length(maps:get(workers, Groups)) - 2,
    To2 = {probe, To},
    To2 ! {Self, spawn_join, late},
    Late = receive {joined, late, P} -> P after 10000 -> error(no_joined) end,
    receive {Ref, join, late, [Late]} -> ok after 10000 -> error(no_join_notification) end,
    %% E1's death is seen there.
    exit(E1, kill),
    wait(fun() -> length(remote_members(To, workers)) =:= N end, {death_seen_there, N}),
    %% A member that the beamline node stops is gone here (and the monitor says so).
    To2 ! {Self, stop_one, late},
    receive {stopped, late, Late} -> ok after 10000 -> error(no_stopped) end,
    receive {Ref, leave, late, [Late]} -> ok after 10000 -> error(no_leave_notification) end,
    [] = pg:get_members(late),
    io:format("phase1 ok~n"),
    %% The test kills the beamline node: its members leave.
    wait(fun() -> lists:all(fun(P) -> node(P) =/= To end, pg:get_members(workers)) end,
         node_gone, 20000),
    io:format("cleanup ok~n"),
    halt(0).

remote_members(To, Group) ->
    {probe, To} ! {self(), members, Group},
    receive {members, Group, Pids} -> Pids after 5000 -> error(no_members_reply) end.

wait(Condition, What) -> wait(Condition, What, 10000).
wait(Condition, What, Ms) when Ms =< 0 ->
    io:format("timed out waiting for ~p~n", [What]),
    halt(1);
wait(Condition, What, Ms) ->
    case Condition() of
        true -> ok;
        false -> timer:sleep(50), wait(Condition, What, Ms - 50)
    end.
