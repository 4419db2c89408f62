"""Round robin by the circle method: every pair once, nobody twice in a round; and whole
events played by the engine the services run (``tests.bracket_runs``)."""

import random
from collections import Counter
from itertools import combinations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matches.formats.plan import GROUP
from matches.formats.progress import ROUND_ROBIN, placements
from matches.formats.round_robin import plan, rounds_count
from tests.bracket_runs import Bracket, play


def check_round_robin(n):
    matches = plan(n)
    expected_rounds = n - 1 if n % 2 == 0 else n
    assert rounds_count(n) == expected_rounds
    assert {m.round for m in matches} == set(range(1, expected_rounds + 1))
    assert all(m.bracket == GROUP and not m.bye and m.winner_to is None for m in matches)
    keys = [m.key for m in matches]
    assert len(set(keys)) == len(keys)

    pairs = {(m.seed_a, m.seed_b) for m in matches}
    assert len(pairs) == len(matches)  # no pair twice
    assert pairs == set(combinations(range(1, n + 1), 2))  # every pair
    assert all(m.seed_a < m.seed_b for m in matches)

    games = Counter(s for m in matches for s in (m.seed_a, m.seed_b))
    assert games == dict.fromkeys(range(1, n + 1), n - 1)
    by_round = {}
    for m in matches:
        by_round.setdefault(m.round, []).append(m)
    sat_out = Counter()
    for in_round in by_round.values():
        playing = [s for m in in_round for s in (m.seed_a, m.seed_b)]
        assert len(playing) == len(set(playing)), "someone plays twice in a round"
        assert sorted(m.position for m in in_round) == list(range(1, n // 2 + 1))
        sat_out.update(set(range(1, n + 1)) - set(playing))
    # Odd n: each participant sits out exactly one round; even n: nobody sits out.
    assert sat_out == (dict.fromkeys(range(1, n + 1), 1) if n % 2 else {})


@pytest.mark.parametrize("n", range(2, 18))
def test_round_robin_small(n):
    check_round_robin(n)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 256))
def test_round_robin_every_size(n):
    check_round_robin(n)


def test_round_robin_of_four_exactly():
    assert [(m.round, m.position, m.seed_a, m.seed_b) for m in plan(4)] == [
        (1, 1, 1, 4),
        (1, 2, 2, 3),
        (2, 1, 1, 3),
        (2, 2, 2, 4),
        (3, 1, 1, 2),
        (3, 2, 3, 4),
    ]


@pytest.mark.parametrize("n", [-3, 0, 1, 1025])
def test_round_robin_rejects_sizes_out_of_range(n):
    with pytest.raises(ValueError):
        plan(n)


def check_round_robin_through_the_engine(n, seed):
    """A whole round robin played by the engine the services run, in a random order with
    draws: it is over exactly with its last result (``play`` checks), and the placements
    follow the points (win 2, draw 1, counted here)."""
    bracket = Bracket(format=ROUND_ROBIN, participants=n)
    run = play(bracket, rng=random.Random(seed), draws=0.2)
    assert len(run.played) == n * (n - 1) // 2
    scores = Counter()
    for game in run.played:
        if game.winner is None:
            scores.update((game.a, game.b))
        else:
            scores[game.winner] += 2
    order = [
        p
        for group in placements(
            format=ROUND_ROBIN, matches=bracket.matches.values(), seeds=bracket.seeds
        )
        for p in group
    ]
    assert sorted(order) == list(range(1, n + 1))
    assert [scores[p] for p in order] == sorted((scores[p] for p in order), reverse=True)


@pytest.mark.parametrize("n", range(2, 10))
def test_round_robin_through_the_engine_small(n):
    for seed in range(3):
        check_round_robin_through_the_engine(n, seed)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(2, 64), seed=st.integers(0, 2**32))
def test_round_robin_through_the_engine(n, seed):
    check_round_robin_through_the_engine(n, seed)
