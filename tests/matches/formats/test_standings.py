"""Standings tables (tiebreak order) and elimination placements."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matches.formats.plan import GRAND_FINAL, LOSERS, WINNERS
from matches.formats.standings import (
    Result,
    Standing,
    elimination_placements,
    elimination_standings,
    points,
    table,
    table_placements,
)


def order(rows):
    return [r.participant for r in rows]


def seeds_for(*participants):
    return {p: i for i, p in enumerate(participants, start=1)}


def test_points_are_two_a_win_one_a_draw_and_a_bye_is_a_win():
    rows = table(
        participants=[10, 20, 30],
        seeds=seeds_for(10, 20, 30),
        results=[Result(10, 20, winner=10), Result(20, 30, winner=None)],
        byes={30: 1},
    )
    by = {r.participant: r for r in rows}
    assert (by[10].wins, by[10].losses, by[10].draws, by[10].points) == (1, 0, 0, 2)
    assert (by[20].wins, by[20].losses, by[20].draws, by[20].points) == (0, 1, 1, 1)
    assert (by[30].wins, by[30].losses, by[30].draws, by[30].points) == (1, 0, 1, 3)
    assert order(rows) == [30, 10, 20]
    # A bye adds nothing to Buchholz: 30's only opponent is 20 (1 point).
    assert by[30].tiebreaks == {"head_to_head": 0, "buchholz": 1, "seed": 3}


def test_head_to_head_decides_a_two_way_tie_before_buchholz_and_seed():
    # 1 and 2 both finish on 4 points and 2 beat 1, although 1 has the better seed and the
    # better Buchholz (1 also beat 3, who has points; 2's other win was over 6, who has none).
    results = [
        Result(1, 2, winner=2),
        Result(1, 3, winner=1),
        Result(1, 5, winner=1),
        Result(2, 6, winner=2),
        Result(3, 4, winner=3),
    ]
    everyone = [1, 2, 3, 4, 5, 6]
    rows = table(participants=everyone, seeds=seeds_for(*everyone), results=results)
    by = {r.participant: r for r in rows}
    assert by[1].points == by[2].points == 4
    assert by[2].tiebreaks["head_to_head"] == 2 and by[1].tiebreaks["head_to_head"] == 0
    assert by[1].tiebreaks["buchholz"] == 6 and by[2].tiebreaks["buchholz"] == 4
    assert order(rows)[:3] == [2, 1, 3]
    assert [r.rank for r in rows] == [1, 2, 3, 4, 5, 6]


def test_head_to_head_counts_only_games_among_the_tied_group():
    # Three level on 4 points, each beat one of the others: head-to-head is level (2 each)
    # and Buchholz decides, then seed.
    results = [
        Result(1, 2, winner=2),
        Result(2, 3, winner=3),
        Result(3, 1, winner=1),
        Result(1, 4, winner=1),
        Result(2, 4, winner=2),
        Result(3, 4, winner=3),
    ]
    rows = table(participants=[4, 3, 2, 1], seeds=seeds_for(1, 2, 3, 4), results=results)
    by = {r.participant: r for r in rows}
    assert {by[p].points for p in (1, 2, 3)} == {4}
    assert {by[p].tiebreaks["head_to_head"] for p in (1, 2, 3)} == {2}
    assert {by[p].tiebreaks["buchholz"] for p in (1, 2, 3)} == {8}
    assert order(rows) == [1, 2, 3, 4]


def test_buchholz_decides_when_head_to_head_is_level():
    # 1 and 2 drew each other and both beat one more opponent: 1 beat 3 (who then beat 4),
    # 2 beat 4 (who beat nobody). Level on points and head-to-head; 1's opponents scored
    # more, so 1 is ahead although 2 has the better seed.
    results = [
        Result(1, 2, winner=None),
        Result(1, 3, winner=1),
        Result(2, 4, winner=2),
        Result(3, 4, winner=3),
    ]
    seeds = {1: 2, 2: 1, 3: 3, 4: 4}  # 2 is the better seed
    rows = table(participants=[1, 2, 3, 4], seeds=seeds, results=results)
    by = {r.participant: r for r in rows}
    assert by[1].points == by[2].points == 3
    assert by[1].tiebreaks["head_to_head"] == by[2].tiebreaks["head_to_head"] == 1
    assert by[1].tiebreaks["buchholz"] > by[2].tiebreaks["buchholz"]
    assert order(rows)[:2] == [1, 2]


def test_seed_decides_last():
    # 1 and 2 never met, have the same points and the same Buchholz.
    results = [Result(1, 3, winner=1), Result(2, 4, winner=2)]
    seeds = {1: 4, 2: 3, 3: 2, 4: 1}
    rows = table(participants=[1, 2, 3, 4], seeds=seeds, results=results)
    assert order(rows) == [2, 1, 4, 3]
    assert [r.tiebreaks["seed"] for r in rows] == [3, 4, 1, 2]


def test_table_rejects_inconsistent_input():
    with pytest.raises(ValueError, match="seed"):
        table(participants=[1, 2], seeds={1: 1}, results=[])
    with pytest.raises(ValueError, match="distinct"):
        table(participants=[1, 2], seeds={1: 1, 2: 1}, results=[])
    with pytest.raises(ValueError, match="unknown"):
        table(participants=[1, 2], seeds={1: 1, 2: 2}, results=[Result(1, 3, winner=1)])
    with pytest.raises(ValueError, match="unknown"):
        table(participants=[1, 2], seeds={1: 1, 2: 2}, results=[], byes={5: 1})
    with pytest.raises(ValueError):
        Result(1, 1, winner=None)
    with pytest.raises(ValueError):
        Result(1, 2, winner=3)


@st.composite
def events(draw):
    n = draw(st.integers(2, 24))
    participants = draw(st.permutations(range(100, 100 + n)))
    pairs = [(a, b) for i, a in enumerate(participants) for b in participants[i + 1 :]]
    chosen = draw(st.lists(st.sampled_from(pairs), max_size=60))
    results = [Result(a, b, winner=draw(st.sampled_from([a, b, None]))) for a, b in chosen]
    byes = draw(st.dictionaries(st.sampled_from(participants), st.integers(0, 2)))
    seeds = dict(zip(participants, draw(st.permutations(range(1, n + 1))), strict=True))
    return participants, seeds, results, byes


@settings(max_examples=200, deadline=None)
@given(event=events())
def test_table_is_a_total_order_consistent_with_its_tiebreaks(event):
    participants, seeds, results, byes = event
    rows = table(participants=participants, seeds=seeds, results=results, byes=byes)
    assert [r.rank for r in rows] == list(range(1, len(participants) + 1))
    assert sorted(order(rows)) == sorted(participants)
    for r in rows:
        assert r.points == 2 * r.wins + r.draws
        assert r.wins + r.losses + r.draws == byes.get(r.participant, 0) + sum(
            r.participant in (x.a, x.b) for x in results
        )
    keys = [
        (-r.points, -r.tiebreaks["head_to_head"], -r.tiebreaks["buchholz"], r.tiebreaks["seed"])
        for r in rows
    ]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert table_placements(rows) == [[p] for p in order(rows)]
    # The points swiss pairs by are the table's.
    assert points(participants=participants, results=results, byes=byes) == {
        r.participant: r.points for r in rows
    }


def test_table_placements_orders_by_rank():
    rows = [
        Standing(participant=7, rank=2, wins=0, losses=1, draws=0, points=0),
        Standing(participant=9, rank=1, wins=1, losses=0, draws=0, points=2),
    ]
    assert table_placements(rows) == [[9], [7]]


def test_single_elimination_placements_of_eight():
    eliminated_at = {
        2: (WINNERS, 3, 1),
        3: (WINNERS, 2, 2),
        4: (WINNERS, 2, 1),
        5: (WINNERS, 1, 2),
        6: (WINNERS, 1, 4),
        7: (WINNERS, 1, 3),
        8: (WINNERS, 1, 1),
    }
    assert elimination_placements(champion=1, eliminated_at=eliminated_at) == [
        [1],
        [2],
        [3, 4],
        [5, 6, 7, 8],
    ]


def test_double_elimination_placements_rank_the_grand_final_above_the_losers_bracket():
    eliminated_at = {
        2: (GRAND_FINAL, 2, 1),  # lost the reset
        3: (LOSERS, 4, 1),
        4: (LOSERS, 3, 1),
        5: (LOSERS, 2, 1),
        6: (LOSERS, 2, 2),
        7: (LOSERS, 1, 1),
        8: (LOSERS, 1, 2),
    }
    seeds = {p: 9 - p for p in range(1, 9)}  # reversed seeds order each group
    assert elimination_placements(champion=1, eliminated_at=eliminated_at, seeds=seeds) == [
        [1],
        [2],
        [3],
        [4],
        [6, 5],
        [8, 7],
    ]


def test_elimination_placements_reject_inconsistent_input():
    with pytest.raises(ValueError, match="champion"):
        elimination_placements(champion=1, eliminated_at={1: (WINNERS, 1, 1)})
    with pytest.raises(ValueError, match="mixed"):
        elimination_placements(champion=1, eliminated_at={2: (WINNERS, 1, 1), 3: (LOSERS, 1, 1)})
    with pytest.raises(ValueError, match="elimination"):
        elimination_placements(champion=1, eliminated_at={2: ("group", 1, 1)})


def test_points_are_counted_for_everyone_and_refuse_strangers():
    assert points(participants=[1, 2, 3], results=[Result(1, 2, winner=None)], byes={3: 1}) == {
        1: 1,
        2: 1,
        3: 2,
    }
    with pytest.raises(ValueError, match="unknown"):
        points(participants=[1, 2], results=[Result(1, 3, winner=3)])
    with pytest.raises(ValueError, match="unknown"):
        points(participants=[1, 2], results=[], byes={4: 1})


def test_elimination_standings_part_way_put_those_still_in_first_by_seed():
    seeds = {10: 3, 20: 1, 30: 4, 40: 2}
    # 40 (seed 2) lost in round 1; the other three are still in.
    assert elimination_standings(seeds=seeds, eliminated_at={40: (WINNERS, 1, 2)}) == [
        [20, 10, 30],
        [40],
    ]
    # Over: the champion alone, as elimination_placements has it.
    eliminated_at = {10: (WINNERS, 2, 1), 30: (WINNERS, 1, 1), 40: (WINNERS, 1, 2)}
    assert elimination_standings(seeds=seeds, eliminated_at=eliminated_at) == (
        elimination_placements(champion=20, eliminated_at=eliminated_at, seeds=seeds)
    )
    assert elimination_standings(seeds={}, eliminated_at={}) == []


def test_elimination_standings_reject_inconsistent_input():
    with pytest.raises(ValueError, match="no seed"):
        elimination_standings(seeds={1: 1}, eliminated_at={2: (WINNERS, 1, 1)})
    with pytest.raises(ValueError, match="mixed"):
        elimination_standings(
            seeds={1: 1, 2: 2, 3: 3}, eliminated_at={2: (WINNERS, 1, 1), 3: (LOSERS, 1, 1)}
        )
