#!/usr/bin/env escript
%% The Erlang side of tests/dist/global_interop_test.py, run as a hidden node (ERL_FLAGS
%% name it, set its cookie and -hidden), so that it looks at the cluster's `global`
%% without taking part in it. Beamline nodes are asked through their `names` process
%% (global_names_node's contract), Erlang nodes through rpc. Each check waits at most
%% 15 s for the cluster to settle.
%%
%%   global_peer.escript agree G Expect NODE...
%%       until every NODE resolves the global name G to the same value, which is
%%       `undefined` (Expect undefined) or a live pid (Expect defined); prints
%%       "agree ok G HolderNode".
%%   global_peer.escript register NODE G
%%       registers a new process of NODE under G; prints "register G yes|no".
%%   global_peer.escript race G NODE...
%%       every NODE registers a process under G at once; exactly one must get yes
%%       and every NODE must then resolve G to its process; prints "race ok G HolderNode".
%%   global_peer.escript die G NODE
%%       sends `die` to G's holder as NODE resolves it and waits for its end; prints
%%       "die ok Reason".
%%   global_peer.escript garbage NODE
%%       sends malformed global messages to NODE's global_name_server, then checks
%%       that it still answers; prints "garbage ok".
%%   global_peer.escript members Scope Group Count NODE...
%%       until every NODE sees Count members of the pg group Group of scope Scope
%%       (atoms); prints "members ok Count".
%%   global_peer.escript connect NODE TO
%%       makes NODE connect to TO (net_kernel:connect_node on NODE), then waits until
%%       global on NODE has synced; prints "connect ok".
-mode(compile).

main(["agree", G, Expect | Nodes]) ->
    Ns = [list_to_atom(N) || N <- Nodes],
    Name = list_to_atom(G),
    wait(fun() -> agreed(Name, Expect, Ns) end,
         fun() -> {agree, G, Expect, [{N, whereis_on(N, Name)} || N <- Ns]} end),
    {ok, Holder} = agreed(Name, Expect, Ns),
    io:format("agree ok ~s ~s~n", [G, holder_node(Holder)]),
    halt(0);
main(["register", Node, G]) ->
    {R, _} = register_on(list_to_atom(Node), list_to_atom(G)),
    io:format("register ~s ~s~n", [G, R]),
    halt(0);
main(["race", G | Nodes]) ->
    Ns = [list_to_atom(N) || N <- Nodes],
    Name = list_to_atom(G),
    Self = self(),
    [spawn(fun() -> Self ! {raced, N, register_on(N, Name)} end) || N <- Ns],
    Results = [receive {raced, N, R} -> R after 30000 -> error({no_answer, N}) end || N <- Ns],
    case [P || {yes, P} <- Results] of
        [Winner] ->
            wait(fun() -> agreed(Name, "defined", Ns) =:= {ok, Winner} end, {race_agree, Winner}),
            io:format("race ok ~s ~s~n", [G, node(Winner)]),
            halt(0);
        Winners ->
            io:format("race failed: ~p yes answers: ~p~n", [length(Winners), Results]),
            halt(1)
    end;
main(["die", G, Node]) ->
    case whereis_on(list_to_atom(Node), list_to_atom(G)) of
        P when is_pid(P) ->
            Ref = monitor(process, P),
            P ! die,
            receive {'DOWN', Ref, process, P, Why} -> io:format("die ok ~p~n", [Why]), halt(0)
            after 10000 -> io:format("die: ~p did not end~n", [P]), halt(1)
            end;
        Other -> io:format("die: nobody holds ~s: ~p~n", [G, Other]), halt(1)
    end;
main(["garbage", Node]) ->
    N = list_to_atom(Node),
    To = {global_name_server, N},
    Junk = [42, {}, {a}, {'$gen_cast', 7},
            {'$gen_cast', {init_connect, {8, 1}, not_a_node_name, x}},
            {'$gen_cast', {init_connect, nonsense, 'fake@nowhere', x}},
            {'$gen_cast', {exchange, 'x@nowhere', not_a_list, [], 1}},
            {'$gen_cast', {resolved, 1, 2, 3, 4, 5, 6}},
            {'$gen_cast', {new_nodes, 'x@nowhere', [{insert, bad}, {delete}], [], [{bad}], []}},
            {'$gen_cast', {lock_set, self(), true, not_a_list, 1}},
            {'$gen_cast', {in_sync, 17, true}},
            {lost_connection, 1, 2, 3, 4}, {remove_connection, 5}, {cancel_connect, x, y},
            {init_connect_ack, 1, 2, 3}, {nodeup, "x"}],
    [To ! J || J <- Junk],
    %% The server still answers: a lock with a malformed id is refused.
    false = gen_server:call(To, {set_lock, not_a_tuple}, 5000),
    io:format("garbage ok~n"),
    halt(0);
main(["members", Scope, Group, Count | Nodes]) ->
    Ns = [list_to_atom(N) || N <- Nodes],
    {S, G, C} = {list_to_atom(Scope), list_to_atom(Group), list_to_integer(Count)},
    Counts = fun() -> [{N, members_on(N, S, G)} || N <- Ns] end,
    wait(fun() -> lists:all(fun({_, M}) -> is_list(M) andalso length(M) =:= C end, Counts()) end,
         fun() -> {members, Scope, Group, Count, Counts()} end),
    io:format("members ok ~p~n", [C]),
    halt(0);
main(["connect", Node, To]) ->
    N = list_to_atom(Node),
    true = rpc:call(N, net_kernel, connect_node, [list_to_atom(To)]),
    io:format("connect ok~n"),
    halt(0).

%% {ok, Value} when every node gives the same value and it is as expected.
agreed(Name, Expect, Nodes) ->
    case lists:usort([whereis_on(N, Name) || N <- Nodes]) of
        [undefined] when Expect =:= "undefined" -> {ok, undefined};
        [P] when is_pid(P), Expect =:= "defined" ->
            case rpc:call(node(P), erlang, is_process_alive, [P]) of
                false -> false;
                _ -> {ok, P}  % beamline nodes do not answer is_process_alive
            end;
        _ -> false
    end.

holder_node(undefined) -> "undefined";
holder_node(P) -> atom_to_list(node(P)).

whereis_on(Node, Name) ->
    case is_beamline(Node) of
        true ->
            {names, Node} ! {self(), whereis, Name},
            receive {whereis, Name, P} -> P after 5000 -> no_answer end;
        false ->
            rpc:call(Node, global, whereis_name, [Name])
    end.

members_on(Node, Scope, Group) ->
    case is_beamline(Node) of
        true ->
            {names, Node} ! {self(), members, Scope, Group},
            receive {members, Scope, Group, Pids} -> Pids after 5000 -> no_answer end;
        false ->
            rpc:call(Node, pg, get_members, [Scope, Group])
    end.

register_on(Node, Name) ->
    case is_beamline(Node) of
        true ->
            {names, Node} ! {self(), register, Name},
            receive {registered, Name, R, P} -> {R, P} after 30000 -> error(no_answer) end;
        false ->
            P = spawn(Node, timer, sleep, [infinity]),
            {rpc:call(Node, global, register_name, [Name, P]), P}
    end.

is_beamline(Node) -> lists:prefix("b", atom_to_list(Node)).

wait(F, What) -> wait(F, What, 15000).
wait(_F, What, T) when T =< 0 ->
    io:format("timeout: ~p~n", [if is_function(What) -> What(); true -> What end]),
    halt(1);
wait(F, What, T) ->
    case catch F() of
        {ok, _} -> ok;
        true -> ok;
        _ -> timer:sleep(100), wait(F, What, T - 100)
    end.
