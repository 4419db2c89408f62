"""Double elimination plans: shape, byes without void matches, the drop-in property, and
random runs (with the grand-final reset) for every size.

The runs play each plan through the engine the services run (``matches.formats.progress``,
held in memory by ``tests.bracket_runs``)."""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matches.formats.double_elimination import (
    GRAND_FINAL_KEY,
    SECOND_GRAND_FINAL_KEY,
    needs_reset,
    plan,
)
from matches.formats.plan import GRAND_FINAL, LOSERS, WINNERS, Slot, next_power_of_two
from matches.formats.progress import DOUBLE_ELIMINATION
from matches.formats.single_elimination import plan as single_plan
from matches.formats.standings import elimination_placements
from tests.bracket_runs import run_to_the_end

sizes = st.integers(2, 256)
SMALL = list(range(2, 18))


def feeders_of(matches):
    """slot -> (source match, "winner" / "loser"); asserts no slot has two sources."""
    feeders = {}
    for m in matches:
        for outcome, slot in (("winner", m.winner_to), ("loser", m.loser_to)):
            if slot is not None:
                assert slot not in feeders, f"{slot} has two sources"
                feeders[slot] = (m, outcome)
    return feeders


def possible_occupants(matches):
    """For every side, the set of seeds that can possibly end up there (plan order)."""
    feeders = feeders_of(matches)
    occupants, output = {}, {}
    for m in matches:
        for side, seed in (("a", m.seed_a), ("b", m.seed_b)):
            slot = Slot(m.key, side)
            if seed is not None:
                occupants[slot] = {seed}
            elif slot in feeders:
                source, outcome = feeders[slot]
                occupants[slot] = output[(source.key, outcome)]
            else:
                occupants[slot] = set()
        both = occupants[Slot(m.key, "a")] | occupants[Slot(m.key, "b")]
        output[(m.key, "winner")] = both
        output[(m.key, "loser")] = set() if m.bye else both
    return feeders, occupants


def test_needs_reset_when_the_losers_bracket_side_wins():
    assert needs_reset("b") is True
    assert needs_reset("a") is False
    with pytest.raises(ValueError):
        needs_reset("c")


def test_two_participants_play_the_winners_final_then_the_grand_final():
    matches = plan(2)
    assert [m.key for m in matches] == [(WINNERS, 1, 1), GRAND_FINAL_KEY]
    final, grand_final = matches
    assert (final.seed_a, final.seed_b, final.bye) == (1, 2, False)
    assert final.winner_to == Slot(GRAND_FINAL_KEY, "a")
    assert final.loser_to == Slot(GRAND_FINAL_KEY, "b")
    assert not grand_final.bye and grand_final.winner_to is None


def test_four_participants_shape():
    keys = [m.key for m in plan(4)]
    assert keys == [
        (WINNERS, 1, 1),
        (WINNERS, 1, 2),
        (WINNERS, 2, 1),
        (LOSERS, 1, 1),
        (LOSERS, 2, 1),
        GRAND_FINAL_KEY,
    ]


def test_three_participants_the_bye_loser_leaves_a_bye_not_a_void():
    by_key = {m.key: m for m in plan(3)}
    # Seed 1 has the winners bye, so losers round 1 has one real side: a bye.
    assert by_key[(WINNERS, 1, 1)].bye and by_key[(WINNERS, 1, 1)].loser_to is None
    assert by_key[(LOSERS, 1, 1)].bye
    assert by_key[(WINNERS, 1, 2)].loser_to == Slot((LOSERS, 1, 1), "b")


def test_void_matches_are_left_out_and_their_targets_become_byes():
    # n = 9 in a bracket of 16: only 8 v 9 is a real first-round match, so losers round 1
    # positions 2..4 would be bye against bye.
    by_key = {m.key: m for m in plan(9)}
    assert [k for k in by_key if k[:2] == (LOSERS, 1)] == [(LOSERS, 1, 1)]
    assert by_key[(LOSERS, 1, 1)].bye
    assert all(by_key[(LOSERS, 2, p)].bye for p in (2, 3, 4))
    assert not by_key[(LOSERS, 2, 1)].bye


def test_the_drop_in_order_is_the_neighbouring_position():
    by_key = {m.key: m for m in plan(16)}
    drops = {p: by_key[(WINNERS, 2, p)].loser_to for p in range(1, 5)}
    assert drops == {
        1: Slot((LOSERS, 2, 2), "b"),
        2: Slot((LOSERS, 2, 1), "b"),
        3: Slot((LOSERS, 2, 4), "b"),
        4: Slot((LOSERS, 2, 3), "b"),
    }
    assert by_key[(WINNERS, 4, 1)].loser_to == Slot((LOSERS, 6, 1), "b")
    assert by_key[(LOSERS, 6, 1)].winner_to == Slot(GRAND_FINAL_KEY, "b")


def check_structure(n):
    matches = plan(n)
    size = next_power_of_two(n)
    rounds = size.bit_length() - 1
    keys = [m.key for m in matches]
    assert len(set(keys)) == len(keys)
    by_key = dict(zip(keys, matches, strict=True))

    # The winners bracket is the single-elimination bracket, plus loser_to.
    winners = [m for m in matches if m.bracket == WINNERS]
    single = single_plan(n)
    assert [(m.key, m.seed_a, m.seed_b, m.bye) for m in winners] == [
        (m.key, m.seed_a, m.seed_b, m.bye) for m in single
    ]
    assert [m.winner_to for m in winners[:-1]] == [m.winner_to for m in single[:-1]]
    assert winners[-1].winner_to == Slot(GRAND_FINAL_KEY, "a")
    assert [m.key for m in matches if m.bracket == GRAND_FINAL] == [GRAND_FINAL_KEY]

    lb_rounds = {m.round for m in matches if m.bracket == LOSERS}
    assert lb_rounds <= set(range(1, 2 * (rounds - 1) + 1))
    if rounds > 1:
        assert by_key[(LOSERS, 2 * (rounds - 1), 1)].winner_to == Slot(GRAND_FINAL_KEY, "b")

    # Every pointer lands on a planned match; no side is fed twice; no void match:
    # a real match has two filled sides, a bye exactly one, and no bye has a loser.
    feeders = feeders_of(matches)
    assert all(slot.key in by_key for slot in feeders)
    for m in matches:
        filled = sum(
            seed is not None or Slot(m.key, side) in feeders
            for side, seed in (("a", m.seed_a), ("b", m.seed_b))
        )
        assert filled == (1 if m.bye else 2), m.key
        if m.bye:
            assert m.loser_to is None
        elif m.bracket == WINNERS:
            assert m.loser_to is not None
    # Real matches: everyone but the champion loses twice, the champion at most once.
    assert sum(not m.bye for m in matches) == 2 * n - 2


@pytest.mark.parametrize("n", SMALL)
def test_structure_small(n):
    check_structure(n)


@settings(max_examples=150, deadline=None)
@given(n=sizes)
def test_structure_every_size(n):
    check_structure(n)


def fresh_drop_in_violations(n):
    """Drop-in matches (below the losers final) where the dropped player could face
    someone from the winners subtree they came through, i.e. a possible rematch."""
    matches = plan(n)
    feeders, occupants = possible_occupants(matches)
    lb_final = max((m.round for m in matches if m.bracket == LOSERS), default=0)
    violations, checked = [], 0
    for m in matches:
        source = feeders.get(Slot(m.key, "b"))
        if m.bracket != LOSERS or source is None or source[1] != "loser":
            continue
        dropped_from = source[0]
        assert dropped_from.bracket == WINNERS
        if m.round == lb_final:
            continue
        subtree = occupants[Slot(dropped_from.key, "a")] | occupants[Slot(dropped_from.key, "b")]
        checked += 1
        if occupants[Slot(m.key, "a")] & subtree:
            violations.append(m.key)
    return violations, checked


def test_fresh_drop_in_property_for_every_size():
    """Property "fresh drop-in match": below the losers final, a player dropping from the
    winners bracket can never meet, in the losers match they drop into, anyone they could
    have played in the winners bracket (everyone they played came from the subtree of the
    match they lost). Checked on the possible occupants of every side, so it holds for
    every result, not just the ones played."""
    total = 0
    for n in range(2, 257):
        violations, checked = fresh_drop_in_violations(n)
        assert violations == [], n
        total += checked
    assert total > 1000  # the property is not vacuous


@pytest.mark.parametrize("n", [4, 5, 8, 16, 64, 256])
def test_the_losers_final_cannot_avoid_a_possible_rematch(n):
    """The exception is real: the winners-final loser may meet someone they beat."""
    matches = plan(n)
    feeders, occupants = possible_occupants(matches)
    size = next_power_of_two(n)
    lb_final = (LOSERS, 2 * (size.bit_length() - 2), 1)
    source, _ = feeders[Slot(lb_final, "b")]
    subtree = occupants[Slot(source.key, "a")] | occupants[Slot(source.key, "b")]
    assert occupants[Slot(lb_final, "a")] & subtree


def check_random_run(n, seed):
    matches = plan(n)
    run = run_to_the_end(DOUBLE_ELIMINATION, n, rng=random.Random(seed))
    participants = set(range(1, n + 1))
    assert run.losses[run.champion] <= 1
    assert run.losses[run.champion] == (1 if run.reset else 0)
    assert all(run.losses[p] == 2 for p in participants - {run.champion})
    assert len(run.played) == 2 * n - 2 + run.reset
    assert set(run.eliminated_at) == participants - {run.champion}
    # Fresh drop-in, on the actual results: a dropped player's drop-in match (below the
    # losers final) is never a rematch.
    size = next_power_of_two(n)
    lb_final = 2 * (size.bit_length() - 2)
    met = set()
    dropped_into = {m.loser_to.key for m in matches if m.bracket == WINNERS and m.loser_to}
    for g in run.played:
        pair = frozenset((g.a, g.b))
        key = g.key
        if key in dropped_into and key[0] == LOSERS and key[1] != lb_final:
            assert pair not in met, (n, key, pair)
        met.add(pair)
    # Placements: champion, grand-final loser, losers-final loser, then groups by round.
    placements = elimination_placements(champion=run.champion, eliminated_at=run.eliminated_at)
    assert sorted(p for group in placements for p in group) == sorted(participants)
    assert placements[0] == [run.champion]
    assert run.eliminated_at[placements[1][0]] in (GRAND_FINAL_KEY, SECOND_GRAND_FINAL_KEY)
    assert len(placements[1]) == 1
    if n > 2:
        assert len(placements[2]) == 1
        assert run.eliminated_at[placements[2][0]] == (LOSERS, lb_final, 1)


@pytest.mark.parametrize("n", SMALL)
def test_random_runs_small(n):
    for seed in range(20):
        check_random_run(n, seed)


@settings(max_examples=150, deadline=None)
@given(n=sizes, seed=st.integers(0, 2**32))
def test_random_runs_every_size(n, seed):
    check_random_run(n, seed)


def test_the_grand_final_is_replayed_when_the_losers_side_wins():
    resets = [run_to_the_end(DOUBLE_ELIMINATION, 2, rng=random.Random(seed)) for seed in range(40)]
    assert any(r.reset for r in resets) and not all(r.reset for r in resets)
    for r in resets:
        assert len(r.played) == (3 if r.reset else 2)


@pytest.mark.parametrize("n", [*SMALL, 100, 256])
def test_when_the_better_seed_always_wins_seed_one_wins_without_a_reset(n):
    run = run_to_the_end(DOUBLE_ELIMINATION, n, rng=random.Random(1), chalk=True)
    assert run.champion == 1 and not run.reset
    assert run.losses[2] == 2
    assert {run.played[-1].a, run.played[-1].b} == {1, 2}
