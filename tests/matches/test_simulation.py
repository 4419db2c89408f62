"""Every format played to the end through the services, with random results and odd sizes.

The rules are proved by hypothesis in ``tests/matches/formats/`` on the engine the services run
(``matches.formats.progress``, with its matches in memory); this proves the database side
of it: byes settled at start, winners and losers moved into the right slots, swiss rounds
paired as the previous one completes, the tournament completed exactly when the format
says, the prize pool paid out to the last unit, and, for every run, that the rows end
exactly as the same results leave the bracket in memory.
"""

import random

import pytest

from matches.formats import progress
from matches.formats.plan import GRAND_FINAL, GROUP, LOSERS, WINNERS
from matches.formats.progress import key_of, placements
from matches.models import Match, MatchReport
from matches.services import match_report, tournament_start
from tests.bracket_runs import Bracket, play
from tests.wallets.test_ledger import assert_invariants
from tournaments.models import Participant, Tournament, TournamentEvent
from tournaments.services import tournament_create, tournament_join
from wallets.models import Account

pytestmark = pytest.mark.django_db

FEE = 7  # odd, so the percentages do not divide the pool evenly and rounding is exercised
DRAW_FORMATS = {"round_robin", "swiss"}
SIZES = {
    "single_elimination": [2, 3, 5, 8, 13],
    "double_elimination": [2, 3, 4, 5, 6, 7, 9, 12, 17],
    "round_robin": [2, 3, 6],
    "swiss": [2, 3, 7, 10],
}


def play_to_the_end(tournament, rng):
    """Both captains of every ready match report the same random result until none is left."""
    for _ in range(10_000):
        ready = list(
            Match.objects.filter(tournament=tournament, status=Match.Status.READY).select_related(
                "participant_a__captain", "participant_b__captain"
            )
        )
        if not ready:
            return
        for match in ready:
            sides = [match.participant_a_id, match.participant_b_id]
            draw = tournament.format in DRAW_FORMATS and rng.random() < 0.2
            winner = None if draw else rng.choice(sides)
            for participant in (match.participant_a, match.participant_b):
                match_report(match_id=match.pk, user=participant.captain, winner_id=winner)
    raise AssertionError("the tournament never ran out of ready matches")


@pytest.mark.parametrize(
    "format,n", [(format, n) for format, sizes in SIZES.items() for n in sizes]
)
def test_random_results_always_finish_and_pay_the_whole_pool(make_user, format, n):
    rng = random.Random(f"{format}-{n}")
    organizer = make_user()
    players = [make_user(funds=FEE) for _ in range(n)]
    tournament = tournament_create(
        organizer=organizer,
        name=f"{format} {n}",
        format=format,
        max_participants=n,
        entry_fee=FEE,
        prize_split=[50, 30, 20],
    )
    for player in players:
        tournament_join(tournament_id=tournament.pk, user=player)
    tournament_start(
        tournament_id=tournament.pk, user=organizer, seeding=rng.choice(["registration", "random"])
    )

    play_to_the_end(tournament, rng)

    tournament.refresh_from_db()
    assert tournament.status == Tournament.Status.COMPLETED
    matches = list(Match.objects.filter(tournament=tournament))
    if format == "double_elimination":
        # Only the second grand final may stay unplayed, and only when it was not needed.
        unplayed = [m for m in matches if m.status == Match.Status.PENDING]
        assert [(m.bracket, m.round) for m in unplayed] in ([], [("grand_final", 2)])
    else:
        assert all(m.status == Match.Status.COMPLETED for m in matches)
    if format == "swiss":
        played = [m for m in matches if not m.is_bye]
        pairs = [frozenset((m.participant_a_id, m.participant_b_id)) for m in played]
        assert len(pairs) == len(set(pairs)), "a swiss pair met twice"
    assert MatchReport.objects.filter(match__tournament=tournament).count() == 2 * sum(
        1 for m in matches if not m.is_bye and m.status == Match.Status.COMPLETED
    )
    escrow = Account.objects.get(pk=tournament.escrow_id)
    assert escrow.balance == 0
    balances = sorted(Account.objects.filter(user__in=players).values_list("balance", flat=True))
    assert sum(balances) == n * FEE
    assert balances[-1] >= (n * FEE) // 2  # the champion's share, with the rounding remainder
    assert_invariants()
    assert_the_rows_are_the_bracket_in_memory(tournament, n)


def assert_the_rows_are_the_bracket_in_memory(tournament, n):
    """The same results, entered in another order into a bracket held in memory
    (``tests.bracket_runs``), leave the same matches as the rows, and the same placements
    as the ``tournament.completed`` event: the database adds storage, not rules."""
    seed_of = dict(Participant.objects.filter(tournament=tournament).values_list("pk", "seed"))

    def seeded(participant_id):
        return None if participant_id is None else seed_of[participant_id]

    rows = {
        (m.bracket, m.round, m.position): (
            seeded(m.participant_a_id),
            seeded(m.participant_b_id),
            m.status,
            seeded(m.winner_id),
            m.is_bye,
        )
        for m in Match.objects.filter(tournament=tournament)
    }
    bracket = Bracket(
        format=tournament.format, participants=n, swiss_rounds=tournament.swiss_rounds
    )
    play(bracket, rng=random.Random(n), decide=lambda match: rows[key_of(match)][3])
    in_memory = {
        key_of(m): (m.participant_a_id, m.participant_b_id, m.status, m.winner_id, m.is_bye)
        for m in bracket.matches.values()
    }
    assert in_memory == rows
    completed = TournamentEvent.objects.get(tournament=tournament, name="tournament.completed")
    assert [[seed_of[pk] for pk in group] for group in completed.data["placements"]] == (
        placements(format=tournament.format, matches=bracket.matches.values(), seeds=bracket.seeds)
    )


def test_the_engine_speaks_the_rows_formats_and_statuses():
    """``matches.formats.progress`` works on ``Match`` rows directly: it must name formats,
    brackets and statuses as the models do."""
    assert set(progress.FORMATS) == set(Tournament.Format.values)
    assert set(progress.GROUP_FORMATS) == {Tournament.Format.ROUND_ROBIN, Tournament.Format.SWISS}
    statuses = (
        progress.PENDING,
        progress.READY,
        progress.AWAITING_CONFIRMATION,
        progress.COMPLETED,
        progress.DISPUTED,
    )
    assert set(statuses) == set(Match.Status.values)
    assert set(progress.PLAYED) == set(Match.Status.values) - {"pending", "ready"}
    assert {WINNERS, LOSERS, GRAND_FINAL, GROUP} == set(Match.Bracket.values)
