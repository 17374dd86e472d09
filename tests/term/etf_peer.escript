#!/usr/bin/env escript
%% -*- erlang -*-
%%! +pc unicode
%%
%% etf_peer.escript: the Erlang side of etf_erlang_test (tests/term/etf_erlang_test.cpp).
%%
%%   etf_peer.escript check IN OUT
%%     IN holds terms beamline encoded, as records
%%       <<Minor:8, Compression:8, Size:32, Bytes:Size/binary, TextSize:32, Text/binary>>
%%     where Text is the term in Erlang syntax, or empty when it has none (pids...).
%%     For each, binary_to_term(Bytes) and write to OUT
%%       <<DefaultSame:8, DeterministicSame:8, TextSame:8, Size:32, Printed/binary>>
%%     DefaultSame: term_to_binary with the same options gives back Bytes exactly;
%%     DeterministicSame: the same with [deterministic]; TextSame: 1 if the term =:=
%%     the parsed Text, 0 if not, 2 without Text; Printed: io_lib:format("~tp").
%%     A record that fails to decode gets DefaultSame = 255 and the error as Printed.
%%     Then one more block, <<Size:32, Text/binary>>, of three lines about the decoded
%%     terms in order: the indices of lists:sort of {Term, Index} (the term order), and
%%     for each term and the next one, 1 or 0 for =:= and for ==.
%%
%%   etf_peer.escript generate SEED COUNT OUT
%%     Makes COUNT random terms (rand seeded with SEED: exsss) and writes records
%%       <<Minor:8, Compression:8, Size:32, Default/binary, DSize:32,
%%         Deterministic/binary, PSize:32, Printed/binary>>
%%     Default is term_to_binary(T, Options), Deterministic the same with
%%     [deterministic], Printed io_lib:format("~tp", [T]) on one line.
-mode(compile).

main(["check", In, Out]) ->
    {ok, Data} = file:read_file(In),
    {Results, Terms} = check(Data, [], []),
    ok = file:write_file(Out, [Results, order(Terms)]);
main(["generate", Seed, Count, Out]) ->
    rand:seed(exsss, list_to_integer(Seed)),
    Records = [generate_one() || _ <- lists:seq(1, list_to_integer(Count))],
    ok = file:write_file(Out, Records);
main(_) ->
    io:format(standard_error, "usage: etf_peer.escript check IN OUT | generate SEED COUNT OUT~n", []),
    halt(2).

%% --- check -----------------------------------------------------------------------

check(<<>>, Acc, Terms) ->
    {lists:reverse(Acc), lists:reverse(Terms)};
check(<<Minor:8, Compression:8, Size:32, Bytes:Size/binary, TextSize:32, Text:TextSize/binary,
        Rest/binary>>, Acc, Terms) ->
    Decoded = try [binary_to_term(Bytes)] catch _:_ -> [] end,
    Result = try binary_to_term(Bytes) of
                 T ->
                     Options = options(Minor, Compression),
                     Default = bool(term_to_binary(T, Options) =:= Bytes),
                     Deterministic = bool(term_to_binary(T, [deterministic | Options]) =:= Bytes),
                     TextSame = case Text of
                                    <<>> -> 2;
                                    _ -> bool(parse(Text) =:= T)
                                end,
                     Printed = unicode:characters_to_binary(print(T)),
                     <<Default:8, Deterministic:8, TextSame:8, (byte_size(Printed)):32,
                       Printed/binary>>
             catch
                 Class:Reason ->
                     Error = list_to_binary(io_lib:format("~p:~p", [Class, Reason])),
                     <<255:8, 0:8, 0:8, (byte_size(Error)):32, Error/binary>>
             end,
    check(Rest, [Result | Acc], Decoded ++ Terms).

order(Terms) ->
    Indexed = lists:zip(Terms, lists:seq(0, length(Terms) - 1)),
    Sorted = lists:join($,, [integer_to_list(I) || {_, I} <- lists:sort(Indexed)]),
    Pairs = case Terms of [] -> []; _ -> lists:zip(lists:droplast(Terms), tl(Terms)) end,
    Exact = [case A =:= B of true -> $1; false -> $0 end || {A, B} <- Pairs],
    Arithmetic = [case A == B of true -> $1; false -> $0 end || {A, B} <- Pairs],
    Text = iolist_to_binary([Sorted, $\n, Exact, $\n, Arithmetic, $\n]),
    [<<(byte_size(Text)):32>>, Text].

options(Minor, 0) -> [{minor_version, Minor}];
options(Minor, Level) -> [{minor_version, Minor}, {compressed, Level}].

bool(true) -> 1;
bool(false) -> 0.

parse(Text) ->
    {ok, Tokens, _} = erl_scan:string(unicode:characters_to_list(Text) ++ "."),
    {ok, Term} = erl_parse:parse_term(Tokens),
    Term.

print(T) -> io_lib:format("~*tp", [100000000, T]).

%% --- generate --------------------------------------------------------------------

generate_one() ->
    T = term(4),
    Minor = rand:uniform(2),
    Compression = case rand:uniform(6) of 1 -> 6; 2 -> 1; _ -> 0 end,
    Options = options(Minor, Compression),
    Default = term_to_binary(T, Options),
    Deterministic = term_to_binary(T, [deterministic | Options]),
    Printed = unicode:characters_to_binary(print(T)),
    [<<Minor:8, Compression:8, (byte_size(Default)):32>>, Default,
     <<(byte_size(Deterministic)):32>>, Deterministic,
     <<(byte_size(Printed)):32>>, Printed].

pick(List) -> lists:nth(rand:uniform(length(List)), List).

term(0) -> scalar();
term(Depth) ->
    case rand:uniform(14) of
        1 -> list_to_tuple(elements(Depth));
        2 -> elements(Depth);
        3 -> elements(Depth) ++ scalar();  % improper unless the tail is a list
        4 -> maps:from_list([{key(), term(Depth - 1)} || _ <- lists:seq(1, rand:uniform(5) - 1)]);
        5 -> case rand:uniform(6) of       % a map bigger than 32 entries: a hash trie
                 1 -> maps:from_list([{key(), term(Depth - 1)} || _ <- lists:seq(1, 33 + rand:uniform(30))]);
                 _ -> #{}
             end;
        6 -> case rand:uniform(8) of       % LARGE_TUPLE_EXT
                 1 -> list_to_tuple([scalar() || _ <- lists:seq(1, 256 + rand:uniform(50))]);
                 _ -> {}
             end;
        7 -> X = term(Depth - 1), fun() -> X end;
        8 -> X = term(Depth - 1), Y = scalar(), fun(Z) -> {X, Y, Z} end;
        _ -> scalar()
    end.

elements(Depth) -> [term(Depth - 1) || _ <- lists:seq(1, rand:uniform(5) - 1)].

key() ->
    case rand:uniform(3) of
        1 -> integer();
        2 -> float();
        3 -> scalar()
    end.

scalar() ->
    case rand:uniform(16) of
        1 -> atom();
        2 -> atom();
        3 -> integer();
        4 -> integer();
        5 -> float();
        6 -> binary();
        7 -> bitstring();
        8 -> string();
        9 -> [rand:uniform(2000) || _ <- lists:seq(1, rand:uniform(4))];
        10 -> pid();
        11 -> port();
        12 -> reference();
        13 -> pick([fun lists:map/2, fun erlang:'+'/2, fun 'a b':'a-b'/0, fun m:f/255]);
        14 -> pick([[], {}, #{}, <<>>, "", true, false]);
        15 -> case rand:uniform(30) of  % STRING_EXT up to 65535 elements, then LIST_EXT
                  1 -> lists:duplicate(pick([65535, 65536]), 7);
                  _ -> lists:seq(1, rand:uniform(300))
              end;
        16 -> integer()
    end.

atom() ->
    case rand:uniform(6) of
        1 -> list_to_atom([pick("abcxyzAZ_@ 09\x{e9}'\\\x{3bb}") || _ <- lists:seq(1, rand:uniform(12) - 1)]);
        2 -> list_to_atom(lists:duplicate(255, pick([$a, 16#e9, 16#3bb, 16#1f600])));
        _ -> pick([ok, error, 'EXIT', '', 'hello world', '\x{e9}', '\x{3bb}', '\x{df}a', '\n', 'nonode@nohost',
                   undefined, '\x{c4}', 'a\x{10FFFF}', '$gen_call'])
    end.

integer() ->
    case rand:uniform(7) of
        1 -> rand:uniform(256) - 1;
        2 -> rand:uniform(1000) - 500;
        3 -> pick([-1 bsl 31, (1 bsl 31) - 1, 1 bsl 31, -(1 bsl 31) - 1, 1 bsl 63, -(1 bsl 63),
                   (1 bsl 63) - 1, -(1 bsl 63) - 1, 1 bsl 64, 0]);
        4 -> rand:uniform(1 bsl 62) - (1 bsl 61);
        5 -> (rand:uniform(1 bsl 200)) * pick([1, -1]);
        6 -> (1 bsl (2000 + rand:uniform(200))) * pick([1, -1]) + rand:uniform(1000);
        7 -> rand:uniform(1 bsl 40) * pick([1, -1])
    end.

float() ->
    case rand:uniform(3) of
        1 -> pick([0.0, -0.0, 1.0, 0.1, 1.0e100, 5.0e-324, 1.7976931348623157e308, -2.5, 1.0e15,
                   1.0e16, 9007199254740992.0]);
        _ -> random_float()
    end.

random_float() ->
    case <<(rand:uniform(1 bsl 64) - 1):64>> of
        <<F:64/float>> -> F;
        _ -> random_float()  % an infinity or NaN
    end.

binary() ->
    case rand:uniform(6) of
        1 -> rand:bytes(100 + rand:uniform(1000));
        2 -> <<"\x{3bb}\x{e9}\x{20ac}ok"/utf8>>;
        _ -> rand:bytes(rand:uniform(20) - 1)
    end.

bitstring() ->
    Bits = rand:uniform(7),
    <<(rand:bytes(rand:uniform(10) - 1))/binary, (rand:uniform(1 bsl Bits) - 1):Bits>>.

string() ->
    [pick("az \"\\\n\t\e'$0\x{e9}") || _ <- lists:seq(1, rand:uniform(8))].

pid() ->
    case rand:uniform(4) of
        1 -> self();
        2 -> list_to_pid("<0." ++ integer_to_list(rand:uniform(5000)) ++ "." ++
                         integer_to_list(rand:uniform(3) - 1) ++ ">");
        _ -> binary_to_term(<<131, 88, (node_atom())/binary, (rand:uniform(1 bsl 32) - 1):32,
                              (rand:uniform(1 bsl 32) - 1):32, (creation()):32>>)
    end.

port() ->
    case rand:uniform(3) of
        1 -> hd(erlang:ports());
        2 -> binary_to_term(<<131, 89, (node_atom())/binary, (rand:uniform(1 bsl 28) - 1):32,
                              (creation()):32>>);
        3 -> binary_to_term(<<131, 120, (node_atom())/binary, (rand:uniform(1 bsl 50)):64,
                              (creation()):32>>)
    end.

reference() ->
    case rand:uniform(3) of
        1 -> make_ref();
        _ -> Words = pick([1, 2, 3, 4, 5]),
             binary_to_term(<<131, 90, Words:16, (node_atom())/binary, (creation()):32,
                              << <<(rand:uniform(1 bsl 32) - 1):32>> || _ <- lists:seq(1, Words)>>/binary>>)
    end.

node_atom() ->
    Name = pick([<<"a@host">>, <<"other@127.0.0.1">>, <<"\x{3bb}@host"/utf8>>]),
    <<119, (byte_size(Name)):8, Name/binary>>.

creation() -> pick([1, 2, 3, 16#6b05f8bc, 16#ffffffff]).
