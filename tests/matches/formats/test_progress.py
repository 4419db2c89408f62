"""The progress engine (``matches.formats.progress``) on its own: undoing results, refusing
an undo that a later result depends on, placements, and bad input.

Whole brackets played to the end are proved in the tests of each format; these play them
part way (``tests.bracket_runs`` holds the matches in memory, as the services hold them in
rows) and then undo, as the organizer's reset and override do.
"""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matches.formats.double_elimination import GRAND_FINAL_KEY, SECOND_GRAND_FINAL_KEY
from matches.formats.plan import GRAND_FINAL, GROUP, LOSERS, WINNERS
from matches.formats.progress import (
    COMPLETED,
    DOUBLE_ELIMINATION,
    PENDING,
    READY,
    ROUND_ROBIN,
    SINGLE_ELIMINATION,
    SWISS,
    BracketProgress,
    ResultBuiltUpon,
    eliminations,
    placements,
    start_plan,
)
from tests.bracket_runs import Bracket, Progress, play, result_enter, result_undo

FORMATS = [SINGLE_ELIMINATION, DOUBLE_ELIMINATION, ROUND_ROBIN, SWISS]


def ready_matches(bracket):
    return sorted((m for m in bracket.matches.values() if m.status == READY), key=lambda m: m.pk)


def play_some(bracket, rng, steps):
    """Enter ``steps`` random results (fewer if the bracket runs out of ready matches)."""
    for _ in range(steps):
        ready = ready_matches(bracket)
        if not ready:
            return
        match = rng.choice(ready)
        result_enter(bracket, match, rng.choice((match.participant_a_id, match.participant_b_id)))


def check_undo_restores(format, n, seed, steps):
    rng = random.Random(seed)
    bracket = Bracket(format=format, participants=n)
    play_some(bracket, rng, steps)
    ready = ready_matches(bracket)
    if not ready:
        return False
    match = rng.choice(ready)
    before = bracket.state()
    result_enter(bracket, match, rng.choice((match.participant_a_id, match.participant_b_id)))
    assert bracket.state() != before
    undo = result_undo(bracket, match)
    assert bracket.state() == before
    assert undo.events[match.pk] == "match.reset"
    return True


@pytest.mark.parametrize("format", FORMATS)
@pytest.mark.parametrize("n", [2, 3, 4, 5, 8, 9])
def test_undoing_the_latest_result_gives_back_the_bracket_it_changed(format, n):
    """Byes it completed are open again, the sides it filled are empty, the second grand
    final or the swiss round it made is gone, and nothing else moved."""
    undone = sum(
        check_undo_restores(format, n, seed, steps)
        for seed in range(6)
        for steps in range(0, 2 * n, max(1, n // 3))
    )
    assert undone > 0


@settings(max_examples=100, deadline=None)
@given(
    format=st.sampled_from(FORMATS),
    n=st.integers(2, 64),
    seed=st.integers(0, 2**32),
    steps=st.integers(0, 130),
)
def test_undoing_the_latest_result_gives_back_the_bracket_every_size(format, n, seed, steps):
    check_undo_restores(format, n, seed, steps)


def test_the_second_grand_final_comes_and_goes_with_the_result_that_made_it():
    bracket = Bracket(format=DOUBLE_ELIMINATION, participants=4)
    play(bracket, rng=random.Random(3), chalk=True)  # seed 1 wins everything: no reset
    first = bracket.at(GRAND_FINAL_KEY)
    assert SECOND_GRAND_FINAL_KEY not in bracket.by_key

    # The organizer overrides it: the losers-bracket side won. A second final, ready.
    undo = result_undo(bracket, first)
    assert not undo.finished
    progress = result_enter(bracket, first, first.participant_b_id)
    second = bracket.at(SECOND_GRAND_FINAL_KEY)
    assert (second.status, second.participant_a_id, second.participant_b_id) == (
        READY,
        first.participant_a_id,
        first.participant_b_id,
    )
    assert first.next_match_id == second.pk
    assert not progress.finished

    # Overridden the same way again (undo and redo in one action): the same second final
    # is kept, not deleted and made again.
    override = Progress(bracket)
    override.revert(first, keep_reports=True)
    override.complete(first, first.participant_b_id, None)
    override.conclude()
    assert bracket.at(SECOND_GRAND_FINAL_KEY) is second
    assert override.deleted == [] and override.events[second.pk] == "match.updated"

    # Overridden the other way: the second final goes, and the tournament is over.
    override = Progress(bracket)
    override.revert(first, keep_reports=True)
    override.complete(first, first.participant_a_id, None)
    override.conclude()
    assert SECOND_GRAND_FINAL_KEY not in bracket.by_key
    assert override.deleted == [second.pk] and second.pk not in override.events
    assert override.finished and first.next_match_id is None


def test_an_undo_is_refused_once_a_later_result_depends_on_it():
    bracket = Bracket(format=SINGLE_ELIMINATION, participants=4)
    semis = ready_matches(bracket)
    for semi in semis:
        result_enter(bracket, semi, semi.participant_a_id)
    final = bracket.at((WINNERS, 2, 1))
    result_enter(bracket, final, final.participant_a_id)
    with pytest.raises(ResultBuiltUpon, match="has a result"):
        result_undo(bracket, semis[0])
    assert ResultBuiltUpon.code == "downstream_played"

    # A swiss round paired on a result, with results of its own.
    bracket = Bracket(format=SWISS, participants=4)
    for match in ready_matches(bracket):
        result_enter(bracket, match, match.participant_a_id)
    first_round = [m for m in bracket.matches.values() if m.round == 1]
    second_round = ready_matches(bracket)
    assert [m.round for m in second_round] == [2, 2]
    result_enter(bracket, second_round[0], second_round[0].participant_b_id)
    with pytest.raises(ResultBuiltUpon, match="later round"):
        result_undo(bracket, first_round[0])

    # A second grand final with a result.
    bracket = Bracket(format=DOUBLE_ELIMINATION, participants=2)
    (final,) = ready_matches(bracket)
    result_enter(bracket, final, final.participant_a_id)
    first = bracket.at(GRAND_FINAL_KEY)
    result_enter(bracket, first, first.participant_b_id)
    second = bracket.at(SECOND_GRAND_FINAL_KEY)
    result_enter(bracket, second, second.participant_a_id)
    with pytest.raises(ResultBuiltUpon, match="second grand final"):
        result_undo(bracket, first)


def test_a_swiss_undo_before_the_next_round_is_played_pairs_it_again():
    bracket = Bracket(format=SWISS, participants=4)
    first_round = ready_matches(bracket)
    for match in first_round:
        result_enter(bracket, match, match.participant_a_id)
    paired = {m.pk for m in bracket.matches.values() if m.round == 2}
    assert len(paired) == 2
    # The first round's result is changed: round 2 is deleted, then paired on the new one.
    override = Progress(bracket)
    override.revert(first_round[0], keep_reports=True)
    override.complete(first_round[0], first_round[0].participant_b_id, None)
    override.conclude()
    assert sorted(override.deleted) == sorted(paired)
    again = [m for m in bracket.matches.values() if m.round == 2]
    assert len(again) == 2 and not {m.pk for m in again} & paired
    assert all(m.status == READY for m in again)
    assert not override.finished


def test_placements_and_eliminations_of_a_chalk_bracket():
    bracket = Bracket(format=SINGLE_ELIMINATION, participants=8)
    play(bracket, rng=random.Random(0), chalk=True)
    matches = list(bracket.matches.values())
    assert placements(format=SINGLE_ELIMINATION, matches=matches, seeds=bracket.seeds) == [
        [1],
        [2],
        [3, 4],
        [5, 6, 7, 8],
    ]
    assert eliminations(format=SINGLE_ELIMINATION, matches=matches)[2] == (WINNERS, 3, 1)

    bracket = Bracket(format=DOUBLE_ELIMINATION, participants=4)
    play(bracket, rng=random.Random(0), chalk=True)
    matches = list(bracket.matches.values())
    out = eliminations(format=DOUBLE_ELIMINATION, matches=matches)
    # A winners-bracket defeat only sends a player down.
    assert out == {2: GRAND_FINAL_KEY, 3: (LOSERS, 2, 1), 4: (LOSERS, 1, 1)}
    assert placements(format=DOUBLE_ELIMINATION, matches=matches, seeds=bracket.seeds) == [
        [1],
        [2],
        [3],
        [4],
    ]


def test_placements_part_way_put_those_still_in_first():
    bracket = Bracket(format=SINGLE_ELIMINATION, participants=4)
    semi = ready_matches(bracket)[0]
    result_enter(bracket, semi, semi.participant_b_id)  # seed 4 beats seed 1
    assert placements(
        format=SINGLE_ELIMINATION, matches=bracket.matches.values(), seeds=bracket.seeds
    ) == [[2, 3, 4], [1]]


def test_the_first_grand_final_lost_by_the_winners_side_eliminates_nobody():
    bracket = Bracket(format=DOUBLE_ELIMINATION, participants=2)
    (final,) = ready_matches(bracket)
    result_enter(bracket, final, 1)
    first = bracket.at(GRAND_FINAL_KEY)
    result_enter(bracket, first, 2)
    assert eliminations(format=DOUBLE_ELIMINATION, matches=bracket.matches.values()) == {}
    second = bracket.at(SECOND_GRAND_FINAL_KEY)
    assert result_enter(bracket, second, 2).finished
    assert eliminations(format=DOUBLE_ELIMINATION, matches=bracket.matches.values()) == {
        1: (GRAND_FINAL, 2, 1)
    }


def test_the_start_plans_every_format_and_only_those():
    assert [m.key for m in start_plan(format=SWISS, participants=3)] == [
        (GROUP, 1, 1),
        (GROUP, 1, 2),
    ]
    assert len(start_plan(format=ROUND_ROBIN, participants=4)) == 6
    with pytest.raises(ValueError, match="format"):
        start_plan(format="ladder", participants=4)
    with pytest.raises(ValueError, match="format"):
        Bracket(format="ladder", participants=4)


def test_the_engine_cannot_be_used_without_a_store():
    with pytest.raises(TypeError):
        BracketProgress(format=SINGLE_ELIMINATION, swiss_rounds=None)


def test_a_bracket_starts_with_its_byes_played():
    bracket = Bracket(format=SINGLE_ELIMINATION, participants=5)
    byes = [m for m in bracket.matches.values() if m.is_bye]
    assert len(byes) == 3 and all(m.status == COMPLETED for m in byes)
    assert sorted(m.winner_id for m in byes) == [1, 2, 3]
    # Seed 1 waits for the winner of 4 v 5; seeds 2 and 3 meet at once.
    waiting, ready = bracket.at((WINNERS, 2, 1)), bracket.at((WINNERS, 2, 2))
    assert (waiting.status, waiting.participant_a_id, waiting.participant_b_id) == (
        PENDING,
        1,
        None,
    )
    assert (ready.status, ready.participant_a_id, ready.participant_b_id) == (READY, 2, 3)
