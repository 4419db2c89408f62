"""Single elimination plans: seeding, byes, wiring, and random runs for every size.

The runs play each plan through the engine the services run (``matches.formats.progress``,
held in memory by ``tests.bracket_runs``)."""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matches.formats.plan import WINNERS, Slot, next_power_of_two
from matches.formats.progress import SINGLE_ELIMINATION
from matches.formats.single_elimination import plan, seed_order
from tests.bracket_runs import run_to_the_end

sizes = st.integers(2, 256)
SMALL = list(range(2, 18))


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (1, [1]),
        (2, [1, 2]),
        (4, [1, 4, 2, 3]),
        (8, [1, 8, 4, 5, 2, 7, 3, 6]),
        (16, [1, 16, 8, 9, 4, 13, 5, 12, 2, 15, 7, 10, 3, 14, 6, 11]),
    ],
)
def test_seed_order_is_the_standard_bracket_order(size, expected):
    assert seed_order(size) == expected


@pytest.mark.parametrize("size", [0, 3, 6, 12, 100])
def test_seed_order_rejects_sizes_that_are_not_powers_of_two(size):
    with pytest.raises(ValueError):
        seed_order(size)


@pytest.mark.parametrize("n", [-1, 0, 1, 1025])
def test_plan_rejects_sizes_out_of_range(n):
    with pytest.raises(ValueError):
        plan(n)


def test_plan_takes_the_largest_field():
    matches = plan(1024)
    assert len(matches) == 1023
    assert not any(m.bye for m in matches)


def check_structure(n):
    matches = plan(n)
    size = next_power_of_two(n)
    rounds = size.bit_length() - 1
    keys = [m.key for m in matches]
    assert len(set(keys)) == len(keys)
    assert {m.bracket for m in matches} == {WINNERS}
    for r in range(1, rounds + 1):
        assert sorted(m.position for m in matches if m.round == r) == list(
            range(1, size // 2**r + 1)
        )

    first = [m for m in matches if m.round == 1]
    # Never a bye against a bye: every first-round match has a real seed.
    assert all(m.seed_a is not None or m.seed_b is not None for m in first)
    for m in matches:
        assert m.bye == (m.round == 1 and (m.seed_a is None or m.seed_b is None))
        assert m.loser_to is None
        if m.round > 1:
            assert m.seed_a is None and m.seed_b is None
    # The byes go to exactly the top seeds 1 .. P - n.
    bye_seeds = {m.seed_a if m.seed_b is None else m.seed_b for m in first if m.bye}
    assert bye_seeds == set(range(1, size - n + 1))
    seeds = [s for m in first for s in (m.seed_a, m.seed_b) if s is not None]
    assert sorted(seeds) == list(range(1, n + 1))
    # Real matches: everyone but the champion loses once.
    assert sum(not m.bye for m in matches) == n - 1

    # Wiring: p of round r feeds ceil(p/2) of round r+1, side a for odd p.
    for m in matches:
        if m.round == rounds:
            assert m.winner_to is None
        else:
            side = "a" if m.position % 2 else "b"
            assert m.winner_to == Slot((WINNERS, m.round + 1, (m.position + 1) // 2), side)
    # Seeds 1 and 2 start in different halves, so they can only meet in the final.
    if n > 2:
        half = size // 4
        top = next(m for m in first if 1 in (m.seed_a, m.seed_b))
        second = next(m for m in first if 2 in (m.seed_a, m.seed_b))
        assert top.position <= half < second.position


@pytest.mark.parametrize("n", SMALL)
def test_structure_small(n):
    check_structure(n)


@settings(max_examples=150, deadline=None)
@given(n=sizes)
def test_structure_every_size(n):
    check_structure(n)


def test_structure_all_sizes_exhaustively():
    for n in range(2, 257):
        check_structure(n)


def check_random_run(n, seed):
    run = run_to_the_end(SINGLE_ELIMINATION, n, rng=random.Random(seed))
    participants = set(range(1, n + 1))
    assert len(run.played) == n - 1
    assert run.losses[run.champion] == 0
    assert {p for p in participants if run.losses[p] == 0} == {run.champion}
    assert all(run.losses[p] == 1 for p in participants - {run.champion})
    # Everyone plays until their one loss, and never after it.
    for p in participants - {run.champion}:
        games = [g for g in run.played if p in (g.a, g.b)]
        assert games and games[-1].loser == p
        assert all(g.winner == p for g in games[:-1])
    # Byes: only in round 1 and only for the top seeds.
    size = next_power_of_two(n)
    assert sorted(p for _, p in run.byes) == list(range(1, size - n + 1))
    # Seeds 1 and 2 can meet only in the final.
    rounds = size.bit_length() - 1
    for g in run.played:
        if {g.a, g.b} == {1, 2}:
            assert g.key == (WINNERS, rounds, 1)
    assert set(run.eliminated_at) == participants - {run.champion}


@pytest.mark.parametrize("n", SMALL)
def test_random_runs_small(n):
    for seed in range(20):
        check_random_run(n, seed)


@settings(max_examples=150, deadline=None)
@given(n=sizes, seed=st.integers(0, 2**32))
def test_random_runs_every_size(n, seed):
    check_random_run(n, seed)


@pytest.mark.parametrize("n", [*SMALL, 31, 64, 100, 255, 256])
def test_when_the_better_seed_always_wins_the_top_seeds_survive_each_round(n):
    run = run_to_the_end(SINGLE_ELIMINATION, n, rng=random.Random(0), chalk=True)
    size = next_power_of_two(n)
    assert run.champion == 1
    for r in range(2, size.bit_length()):
        in_round = {p for g in run.played if g.key[1] == r for p in (g.a, g.b)}
        assert in_round == set(range(1, size // 2 ** (r - 1) + 1))
    final = run.played[-1]
    assert {final.a, final.b} == {1, 2}
