#!/usr/bin/env escript
%% erl_peer.escript: the Erlang side of the distribution interop tests
%% (interop_test.py starts it with ERL_FLAGS="-name ... -setcookie ...").
%%
%%   erl_peer.escript client NODE   every check below against NODE's `echo`
%%                                  (echo_node's contract); prints "ok <case>" per
%%                                  check, exits 1 at the first failure
%%   erl_peer.escript ping NODE     prints the result of net_adm:ping(NODE)
%%   erl_peer.escript watch NODE    links to and monitors a child of NODE's `echo`,
%%                                  monitors NODE, prints "watching", then expects
%%                                  noconnection for both and nodedown once NODE is
%%                                  killed; prints "ok ..." for each, "watch ok"
%%   erl_peer.escript service NODE  checks examples/elixir_service on NODE: rpc of
%%                                  heavy:primes/1, calls to svc, a crash seen by a
%%                                  monitor, the supervisor's new svc; "service ok"
%%   erl_peer.escript dynamic NODE  run as a node without a name (-name undefined@HOST):
%%                                  connects to NODE, which names it (named: status),
%%                                  checks the name and an echo call; "dynamic ok"
%%   erl_peer.escript serve         registers `echo` with the same contract as
%%                                  echo_node (so beamline's probe can check the
%%                                  initiator's side against a real Erlang node),
%%                                  prints "serving", runs until stdin closes
-mode(compile).

main(["client", Node0]) ->
    Node = list_to_atom(Node0),
    try
        client(Node),
        io:format("all ok~n"),
        halt(0)
    catch Class:Reason:Stack ->
        io:format("FAIL ~p:~p~n~p~n", [Class, Reason, Stack]),
        halt(1)
    end;
main(["ping", Node0]) ->
    io:format("~p~n", [net_adm:ping(list_to_atom(Node0))]),
    halt(0);
main(["watch", Node0]) ->
    Node = list_to_atom(Node0),
    process_flag(trap_exit, true),
    Child = gen_server:call({echo, Node}, {spawn_linked_child}),
    link(Child),
    Mon = erlang:monitor(process, Child),
    erlang:monitor_node(Node, true),
    io:format("watching~n"),
    receive {'EXIT', Child, noconnection} -> ok("link noconnection")
    after 60000 -> io:format("FAIL no link exit~n"), halt(1)
    end,
    receive {'DOWN', Mon, process, Child, noconnection} -> ok("monitor noconnection")
    after 5000 -> io:format("FAIL no DOWN~n"), halt(1)
    end,
    receive {nodedown, Node} -> ok("nodedown")
    after 5000 -> io:format("FAIL no nodedown~n"), halt(1)
    end,
    io:format("watch ok~n"),
    halt(0);
main(["service", Node0]) ->
    Node = list_to_atom(Node0),
    try
        check("primes by rpc", rpc:call(Node, heavy, primes, [100000]) =:= 9592),
        check("primes badarg", case rpc:call(Node, heavy, primes, [x]) of
                                   {badrpc, {'EXIT', {badarg, _}}} -> true;
                                   Other -> Other
                               end),
        check("svc primes", gen_server:call({svc, Node}, {primes, 1000}) =:= 168),
        #{calls := Calls} = gen_server:call({svc, Node}, stats),
        check("svc stats", Calls =:= 2),
        Ref = erlang:monitor(process, {svc, Node}),
        check("svc crash", try gen_server:call({svc, Node}, crash) of
                               Reply -> {reply, Reply}
                           catch exit:{asked_to_crash, _} -> true
                           end),
        receive {'DOWN', Ref, process, {svc, Node}, asked_to_crash} -> ok("crash seen by a monitor")
        after 5000 -> erlang:error(no_down)
        end,
        timer:sleep(100),
        #{calls := 1, restarts := Restarts} = gen_server:call({svc, Node}, stats),
        check("svc restarted", Restarts =:= 1),
        io:format("service ok~n"),
        halt(0)
    catch Class:Reason:Stack ->
        io:format("FAIL ~p:~p~n~p~n", [Class, Reason, Stack]),
        halt(1)
    end;
main(["dynamic", Node0]) ->
    Node = list_to_atom(Node0),
    try
        %% (net_adm:ping asks with node(), which has no name yet: OTP's own peers
        %% answer pang too; connect_node is how such a node connects.)
        check("connect_node", net_kernel:connect_node(Node) =:= true),
        [Name, Host] = string:split(atom_to_list(node()), "@"),
        check("named by the peer", Name =/= "undefined" andalso Host =:= "127.0.0.1"),
        %% A node without a name of its own is hidden (net_kernel makes it so).
        check("the peer knows the name",
              rpc:call(Node, erlang, nodes, [hidden]) =:= [node()]),
        check("call echo", gen_server:call({echo, Node}, {echo, dyn}) =:= dyn),
        io:format("dynamic ok ~s~n", [node()]),
        halt(0)
    catch Class:Reason:Stack ->
        io:format("FAIL ~p:~p~n~p~n", [Class, Reason, Stack]),
        halt(1)
    end;
main(["serve"]) ->
    Echo = spawn(fun echo/0),
    register(echo, Echo),
    io:format("serving ~p~n", [node()]),
    _ = io:get_line(""),
    halt(0).

ok(Case) -> io:format("ok ~s~n", [Case]).

check(Case, true) -> ok(Case);
check(Case, Other) -> erlang:error({Case, Other}).

client(Node) ->
    check("ping", net_adm:ping(Node) =:= pong),
    check("nodes", lists:member(Node, nodes())),
    %% global and pg keep working with the beamline node in the cluster.
    check("global:sync", global:sync() =:= ok),
    Me = self(),
    check("global:set_lock on the node", global:set_lock({bl_res, Me}, [Node]) =:= true),
    spawn(fun() -> Me ! {locked, global:set_lock({bl_res, other}, [Node], 0)} end),
    receive {locked, L1} -> check("a lock held there is refused", L1 =:= false)
    after 5000 -> erlang:error(no_lock_answer)
    end,
    check("global:del_lock there", global:del_lock({bl_res, Me}, [Node]) =:= true),
    spawn(fun() -> Me ! {locked, global:set_lock({bl_res, other}, [Node], 0)} end),
    receive {locked, L2} -> check("free again after del_lock", L2 =:= true)
    after 5000 -> erlang:error(no_lock_answer)
    end,
    check("global:trans over every node", global:trans({bl_trans, Me}, fun() -> done end) =:= done),
    check("global:register_name", global:register_name(bl_interop, Me) =:= yes),
    check("global:whereis_name", global:whereis_name(bl_interop) =:= Me),
    _ = global:unregister_name(bl_interop),
    {ok, _} = pg:start_link(),
    ok = pg:join(bl_group, Me),
    check("pg:get_members", pg:get_members(bl_group) =:= [Me]),
    Terms = [hello, '', 'ünïcode', 0, 255, 256, -1, 1 bsl 31, -(1 bsl 31) - 1,
             1 bsl 64, -(1 bsl 200), 3.5, -0.0, 1.0e300, <<>>, <<1, 2, 3>>,
             binary:copy(<<"x">>, 100000), <<1:3>>, [], "abc", [1, 2 | 3],
             lists:seq(1, 300), {}, {a, {b, [c]}}, list_to_tuple(lists:seq(1, 300)),
             #{}, #{a => 1, <<"k">> => [x], {t} => #{}},
             maps:from_list([{I, I} || I <- lists:seq(1, 40)]), self(), make_ref(),
             fun lists:map/2, fun(X) -> X + 1 end, [<<"mixed">>, 1.5, {x}, #{y => z}]],
    lists:foreach(
      fun(T) ->
              {echo, Node} ! {self(), T},
              receive Got -> check("echo " ++ lists:flatten(io_lib:format("~0P", [T, 4])),
                                   Got =:= T)
              after 5000 -> erlang:error({no_echo, T})
              end
      end, Terms),
    check("rpc:call", rpc:call(Node, echo_node, echo, [{1, <<"two">>}]) =:= {1, <<"two">>}),
    check("erpc:call", erpc:call(Node, echo_node, echo, [[a | b]]) =:= [a | b]),
    check("rpc:call error", case rpc:call(Node, echo_node, fail, []) of
                                {badrpc, {'EXIT', {failed_on_purpose, _}}} -> true;
                                Other1 -> Other1
                            end),
    check("erpc:call error", try erpc:call(Node, echo_node, fail, []) of
                                 Other2 -> Other2
                             catch error:{exception, failed_on_purpose, _} -> true
                             end),
    check("rpc:call undef", case rpc:call(Node, no_such_module, f, [1]) of
                                {badrpc, {'EXIT', {undef, _}}} -> true;
                                Other3 -> Other3
                            end),
    check("erpc:cast", erpc:cast(Node, echo_node, echo, [x]) =:= ok),
    {Spawned, SpawnRef} = spawn_monitor(Node, echo_node, echo, [x]),
    receive {'DOWN', SpawnRef, process, Spawned, normal} -> ok("spawn_monitor/4 of an exported function")
    after 5000 -> erlang:error(no_down_from_spawned)
    end,
    {Undef, UndefRef} = spawn_monitor(Node, no_such_module, f, []),
    receive {'DOWN', UndefRef, process, Undef, {undef, _}} -> ok("spawn_monitor/4 of nothing exits undef")
    after 5000 -> erlang:error(no_undef_down)
    end,
    check("call echo", gen_server:call({echo, Node}, {echo, {1, [2], <<"3">>}}) =:= {1, [2], <<"3">>}),
    Big = binary:copy(<<"y">>, 1000000),
    check("call echo 1 MB", gen_server:call({echo, Node}, {echo, Big}) =:= Big),
    %% A call that gives up at once: the reply, sent later to the call's alias,
    %% must be dropped (the beamline node replies through [alias | Ref], ALIAS_SEND).
    check("call timeout 0", try gen_server:call({echo, Node}, {echo, late}, 0) of
                                R0 -> {reply, R0}
                            catch exit:{timeout, _} -> true
                            end),
    check("call after it", gen_server:call({echo, Node}, {echo, next}) =:= next),
    receive Stray -> erlang:error({late_reply_arrived, Stray})
    after 300 -> ok("late reply dropped")
    end,
    Ref = erlang:monitor(process, {no_such_name, Node}),
    receive {'DOWN', Ref, process, {no_such_name, Node}, noproc} -> ok("monitor missing name")
    after 5000 -> erlang:error(no_noproc_down)
    end,
    check("call missing name", catch_exit(fun() -> gen_server:call({no_such_name, Node}, x, 5000) end)),
    process_flag(trap_exit, true),
    Child = gen_server:call({echo, Node}, {spawn_linked_child}),
    check("child is remote", is_pid(Child) andalso node(Child) =:= Node),
    link(Child),
    Child ! die,
    receive {'EXIT', Child, died} -> ok("link exit died")
    after 5000 -> erlang:error(no_link_exit)
    end,
    Child2 = gen_server:call({echo, Node}, {spawn_linked_child}),
    M2 = erlang:monitor(process, Child2),
    exit(Child2, kill),
    receive {'DOWN', M2, process, Child2, killed} -> ok("monitor exit2 kill")
    after 5000 -> erlang:error(no_killed_down)
    end,
    M3 = erlang:monitor(process, Child2),
    receive {'DOWN', M3, process, Child2, noproc} -> ok("monitor dead pid")
    after 5000 -> erlang:error(no_noproc_for_dead_pid)
    end,
    link(Child2),
    receive {'EXIT', Child2, noproc} -> ok("link dead pid")
    after 5000 -> erlang:error(no_noproc_for_dead_link)
    end,
    Child3 = gen_server:call({echo, Node}, {spawn_linked_child}),
    link(Child3),
    unlink(Child3),
    Child3 ! die,
    M4 = erlang:monitor(process, Child3),
    receive {'DOWN', M4, process, Child3, _} -> ok("unlinked child ended")
    after 5000 -> erlang:error(no_down_after_unlink)
    end,
    receive {'EXIT', Child3, _} = E -> erlang:error({exit_after_unlink, E})
    after 200 -> ok("no exit after unlink")
    end,
    Child4 = gen_server:call({echo, Node}, {spawn_linked_child}),
    M5 = erlang:monitor(process, Child4),
    true = erlang:demonitor(M5, [flush]),
    Child4 ! die,
    receive {'DOWN', M5, _, _, _} = D -> erlang:error({down_after_demonitor, D})
    after 300 -> ok("demonitor")
    end,
    M6 = erlang:monitor(process, {echo, Node}),
    check("call stop", gen_server:call({echo, Node}, {stop, bye}) =:= ok),
    receive {'DOWN', M6, process, {echo, Node}, bye} -> ok("monitor by name sees the reason")
    after 5000 -> erlang:error(no_down_by_name)
    end,
    M7 = erlang:monitor(process, {echo, Node}),
    receive {'DOWN', M7, process, {echo, Node}, noproc} -> ok("echo is gone")
    after 5000 -> erlang:error(echo_still_there)
    end,
    check("call after stop", catch_exit(fun() -> gen_server:call({echo, Node}, {echo, 1}, 5000) end)),
    check("node stays up", net_adm:ping(Node) =:= pong),
    ok.

catch_exit(F) ->
    try F() of
        Other -> {unexpected, Other}
    catch
        exit:{noproc, _} -> true;
        exit:{{nodedown, _}, _} -> nodedown;
        exit:Reason -> {exit, Reason}
    end.

%% The server side (serve mode): the same contract as echo_node.
echo() ->
    receive
        {'$gen_call', From, Request} ->
            case Request of
                {echo, T} -> gen_server:reply(From, T), echo();
                {spawn_linked_child} ->
                    gen_server:reply(From, spawn(fun child/0)), echo();
                {stop, Reason} -> gen_server:reply(From, ok), exit(Reason);
                _ -> gen_server:reply(From, {error, {unknown_request, Request}}), echo()
            end;
        {From, T} when is_pid(From) -> From ! T, echo();
        _ -> echo()
    end.

child() ->
    receive die -> exit(died) end.
