"""Prize shares and roster splits: exact sums, remainders to first place / the captain."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matches.formats.payouts import prize_shares, split_among_roster


def test_shares_follow_the_split():
    shares = prize_shares(pool=1000, split=[50, 30, 20], placements=[[1], [2], [3], [4]])
    assert shares == {1: 500, 2: 300, 3: 200}


def test_a_tie_shares_the_places_it_covers():
    # 3rd-4th share 20% + 10%; 5th-8th share nothing (beyond the split).
    shares = prize_shares(
        pool=1000, split=[50, 20, 20, 10], placements=[[1], [2], [3, 4], [5, 6, 7, 8]]
    )
    assert shares == {1: 500, 2: 200, 3: 150, 4: 150}


def test_rounding_remainder_goes_to_first_place():
    shares = prize_shares(pool=101, split=[60, 40], placements=[[1], [2], [3]])
    assert shares == {1: 61, 2: 40}
    shares = prize_shares(pool=100, split=[40, 30, 30], placements=[[1], [2], [3, 4, 5]])
    # 3rd-5th share 30% of 100 = 30 -> 10 each; 1st gets 40 + nothing left.
    assert shares == {1: 40, 2: 30, 3: 10, 4: 10, 5: 10}
    shares = prize_shares(pool=10, split=[50, 50], placements=[[1], [2, 3, 4]])
    # 2nd-4th share 50% of 10 = 5 -> 1 each (rounded down); 1st gets 5 + 2.
    assert shares == {1: 7, 2: 1, 3: 1, 4: 1}


def test_unused_places_go_to_first_place():
    shares = prize_shares(pool=1000, split=[50, 30, 20], placements=[[1], [2]])
    assert shares == {1: 700, 2: 300}
    assert prize_shares(pool=999, split=[70, 30], placements=[[4]]) == {4: 999}


def test_zero_shares_are_left_out():
    assert prize_shares(pool=1, split=[50, 50], placements=[[1], [2]]) == {1: 1}
    assert prize_shares(pool=0, split=[100], placements=[[1], [2]]) == {}
    assert prize_shares(pool=0, split=[100], placements=[]) == {}


def test_prize_shares_rejects_bad_input():
    with pytest.raises(ValueError):
        prize_shares(pool=-1, split=[100], placements=[[1]])
    with pytest.raises(ValueError):
        prize_shares(pool=10, split=[60, 30], placements=[[1]])
    with pytest.raises(ValueError):
        prize_shares(pool=10, split=[110, -10], placements=[[1]])
    with pytest.raises(ValueError):
        prize_shares(pool=10, split=[100], placements=[[1], [1]])
    with pytest.raises(ValueError):
        prize_shares(pool=10, split=[100], placements=[[1], []])
    with pytest.raises(ValueError):
        prize_shares(pool=10, split=[100], placements=[])


@st.composite
def splits(draw):
    """Whole percentages summing to 100, 1 to 8 places (zeros allowed)."""
    cuts = sorted(draw(st.lists(st.integers(0, 100), max_size=7)))
    bounds = [0, *cuts, 100]
    return [hi - lo for lo, hi in zip(bounds, bounds[1:], strict=False)]


@st.composite
def placement_groups(draw):
    people = draw(st.lists(st.integers(1, 10**6), min_size=1, max_size=30, unique=True))
    groups, i = [], 0
    while i < len(people):
        size = draw(st.integers(1, 4))
        groups.append(people[i : i + size])
        i += size
    return groups


@settings(max_examples=500, deadline=None)
@given(pool=st.integers(0, 10**12), split=splits(), placements=placement_groups())
def test_prize_shares_properties(pool, split, placements):
    shares = prize_shares(pool=pool, split=split, placements=placements)
    assert sum(shares.values()) == pool
    assert all(amount > 0 for amount in shares.values())
    first = placements[0][0]
    fair, place = {}, 0
    for group in placements:
        percent = sum(split[place : place + len(group)])
        if place >= len(split):
            assert percent == 0  # places beyond the split get nothing
        place += len(group)
        for p in group:
            fair[p] = pool * percent // (100 * len(group))  # rounded down
            if p != first:
                assert shares.get(p, 0) == fair[p]  # ties share evenly
    # First place gets its share plus the remainder: the rounding (under one cent per
    # participant) and the percentages of paid places nobody occupies.
    remainder = pool - sum(fair.values())
    assert shares.get(first, 0) == fair[first] + remainder
    unused = sum(split[place:])
    assert pool * unused // 100 <= remainder < pool * unused // 100 + len(fair) + 1


def test_roster_split_remainder_goes_to_the_captain():
    assert split_among_roster(amount=100, members=[1, 2, 3], captain=2) == {1: 33, 2: 34, 3: 33}
    assert split_among_roster(amount=2, members=[1, 2, 3], captain=3) == {3: 2}
    assert split_among_roster(amount=0, members=[1], captain=1) == {}


def test_roster_split_rejects_bad_input():
    with pytest.raises(ValueError):
        split_among_roster(amount=10, members=[1, 2], captain=3)
    with pytest.raises(ValueError):
        split_among_roster(amount=10, members=[1, 1], captain=1)
    with pytest.raises(ValueError):
        split_among_roster(amount=-1, members=[1], captain=1)


@settings(max_examples=500, deadline=None)
@given(
    amount=st.integers(0, 10**12),
    members=st.lists(st.integers(1, 10**6), min_size=1, max_size=16, unique=True),
    data=st.data(),
)
def test_roster_split_properties(amount, members, data):
    captain = data.draw(st.sampled_from(members))
    shares = split_among_roster(amount=amount, members=members, captain=captain)
    assert sum(shares.values()) == amount
    each = amount // len(members)
    for m in members:
        if m != captain:
            assert shares.get(m, 0) == each
    assert 0 <= shares.get(captain, 0) - each < len(members)
