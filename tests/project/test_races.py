"""Races that answered 500, each replayed in the exact interleaving that made it fail.

On PostgreSQL with real threads, each with its own connection: one action is run inside a
transaction held open at the point that matters (``HeldOpen``), the other is started
against it, and the test waits until PostgreSQL reports it waiting for a lock before it
lets the first commit. The lock order they obey is ``tournaments.locks``.
"""

import pytest
from django.db.models import Sum

from matches.errors import MatchClosed
from matches.models import Match
from matches.services import match_report, match_reset, match_resolve
from tests.concurrency import Background, HeldOpen, wait_for_lock_waiters
from tests.matches.test_api import cup as started_tournament
from tests.wallets.test_ledger import assert_invariants
from tournaments.errors import AlreadyRegistered
from tournaments.models import Participant, ParticipantMember, Tournament
from tournaments.services import (
    team_accept,
    team_create,
    team_invite,
    tournament_create,
    tournament_join,
)
from wallets.models import Account, Posting

pytestmark = pytest.mark.django_db(transaction=True)

FEE = 100

cup = started_tournament  # the fixture of tests/matches/test_api.py


def free_cup(organizer, *, team_size=1):
    return tournament_create(
        organizer=organizer,
        name="Free cup",
        format="single_elimination",
        max_participants=8,
        team_size=team_size,
    )


# --- Joins of a free tournament sharing a player ------------------------------------------


def test_free_solo_joins_of_one_player_at_once_answer_409(make_user, client_for):
    tournament = free_cup(make_user())
    player = make_user()
    first = HeldOpen(lambda: tournament_join(tournament_id=tournament.pk, user=player))
    second = Background(
        lambda: client_for(player).post(f"/api/tournaments/{tournament.pk}/join", {}, format="json")
    )
    wait_for_lock_waiters(1)
    first.commit()

    response = second.result()
    assert response.status_code == 409, response
    assert response.json()["code"] == "already_registered"
    assert Participant.objects.filter(tournament=tournament).count() == 1
    tournament.refresh_from_db()
    assert tournament.participant_count == 1
    assert list(tournament.events.values_list("version", flat=True)) == [1]


def test_free_team_joins_sharing_a_player_at_once_answer_409(make_user, client_for):
    tournament = free_cup(make_user(), team_size=2)
    shared = make_user()
    teams = []
    for _ in range(2):
        captain = make_user()
        team = team_create(user=captain, name=f"Team of {captain.username}")
        team_invite(team_id=team.pk, by_user=captain, username=shared.username)
        team_accept(team_id=team.pk, user=shared)
        teams.append((captain, team))

    (captain_1, team_1), (captain_2, team_2) = teams
    first = HeldOpen(
        lambda: tournament_join(tournament_id=tournament.pk, user=captain_1, team_id=team_1.pk)
    )
    second = Background(
        lambda: client_for(captain_2).post(
            f"/api/tournaments/{tournament.pk}/join", {"team": team_2.pk}, format="json"
        )
    )
    wait_for_lock_waiters(1)
    first.commit()

    response = second.result()
    assert response.status_code == 409, response
    assert response.json()["code"] == "already_registered"
    assert shared.username in response.json()["detail"]
    assert ParticipantMember.objects.filter(tournament_id=tournament.pk).count() == 2


def test_a_free_join_waits_for_a_held_one_then_is_refused_in_the_service(make_user):
    tournament = free_cup(make_user())
    player = make_user()
    first = HeldOpen(lambda: tournament_join(tournament_id=tournament.pk, user=player))
    second = Background(lambda: tournament_join(tournament_id=tournament.pk, user=player))
    wait_for_lock_waiters(1)
    first.commit()
    assert isinstance(second.result(), AlreadyRegistered)


# --- Leave against start ----------------------------------------------------------------------


def test_leave_queued_behind_start_is_refused_without_a_deadlock(make_user, client_for):
    """Start used to lock the tournament, then the participants; leave the other way round.

    A third session holds the tournament row so that start queues first and leave second,
    the order in which they deadlocked."""
    organizer = make_user()
    tournament = tournament_create(
        organizer=organizer, name="Cup", format="single_elimination", max_participants=4,
        entry_fee=FEE,
    )  # fmt: skip
    players = [make_user(funds=FEE) for _ in range(3)]
    for player in players:
        tournament_join(tournament_id=tournament.pk, user=player)
    leaver = players[0]

    holder = HeldOpen(lambda: Tournament.objects.select_for_update().get(pk=tournament.pk))
    start = Background(
        lambda: client_for(organizer).post(
            f"/api/tournaments/{tournament.pk}/start", {}, format="json"
        )
    )
    wait_for_lock_waiters(1)
    leave = Background(
        lambda: client_for(leaver).post(
            f"/api/tournaments/{tournament.pk}/leave", {}, format="json"
        )
    )
    wait_for_lock_waiters(2)
    holder.commit()

    started, left = start.result(), leave.result()
    assert started.status_code == 200, started
    assert left.status_code == 409, left
    assert left.json()["code"] == "registration_closed"
    assert Match.objects.filter(tournament=tournament).exists()
    assert Account.objects.get(user=leaver).balance == 0  # its fee stays in the pool
    assert Account.objects.get(pk=tournament.escrow_id).balance == 3 * FEE
    assert_invariants()


# --- Two results that each complete the tournament -----------------------------------------


def test_two_resolves_of_the_final_complete_it_once(cup):
    driver = cup(2, format="single_elimination")
    final = Match.objects.get(tournament=driver.tournament)
    a, b = final.participant_a_id, final.participant_b_id

    first = HeldOpen(
        lambda: match_resolve(match_id=final.pk, user=driver.organizer, winner_id=a, scores=[2, 0])
    )
    second = Background(
        lambda: driver.organizer_post({"id": final.pk}, "resolve", {"winner": b, "scores": [0, 2]})
    )
    wait_for_lock_waiters(1)
    first.commit()

    response = second.result()
    assert response.status_code == 409, response
    assert response.json()["code"] == "match_closed"
    tournament = driver.refreshed()
    assert tournament.status == Tournament.Status.COMPLETED
    assert Posting.objects.filter(kind="prize", tournament_id=tournament.pk).count() == 1
    winner = Participant.objects.get(pk=a).captain
    assert Account.objects.get(user=winner).balance == 2 * FEE
    assert tournament.events.filter(name="tournament.completed").count() == 1
    assert_invariants()


def test_two_resolves_of_the_final_complete_it_once_when_prizes_are_paid_in_the_background(
    cup, settings
):
    settings.PAYOUTS_INLINE_MAX = 0  # the completion records prize awards for the workers
    driver = cup(2, format="single_elimination")
    final = Match.objects.get(tournament=driver.tournament)
    a = final.participant_a_id

    first = HeldOpen(lambda: match_resolve(match_id=final.pk, user=driver.organizer, winner_id=a))
    second = Background(
        lambda: match_resolve(match_id=final.pk, user=driver.organizer, winner_id=a)
    )
    wait_for_lock_waiters(1)
    first.commit()

    assert isinstance(second.result(), MatchClosed)
    assert driver.refreshed().payouts_pending == 0  # the eager chunk paid the one award
    assert Posting.objects.filter(kind="prize", tournament_id=driver.tournament.pk).count() == 1
    assert_invariants()


def test_the_last_two_round_robin_results_at_once_complete_the_tournament(cup):
    """Each of the last two results used to see the other's match still open (neither had
    committed), so neither completed the tournament and it stayed in progress for good."""
    driver = cup(4, format="round_robin")
    matches = list(Match.objects.filter(tournament=driver.tournament).order_by("pk"))
    *played, last_but_one, last = matches
    for match in played:
        match_resolve(match_id=match.pk, user=driver.organizer, winner_id=match.participant_a_id)

    first = HeldOpen(
        lambda: match_resolve(
            match_id=last_but_one.pk, user=driver.organizer, winner_id=last_but_one.participant_a_id
        )
    )
    second = Background(
        lambda: match_resolve(
            match_id=last.pk, user=driver.organizer, winner_id=last.participant_a_id
        )
    )
    wait_for_lock_waiters(1)
    first.commit()

    assert isinstance(second.result(), Match)
    tournament = driver.refreshed()
    assert tournament.status == Tournament.Status.COMPLETED
    assert tournament.events.filter(name="tournament.completed").count() == 1
    escrow = Account.objects.get(pk=tournament.escrow_id)
    assert escrow.balance == 0
    assert_invariants()


def test_the_last_two_results_of_a_swiss_round_pair_the_next_round_once(cup):
    driver = cup(4, format="swiss", swiss_rounds=2)
    first_round = list(Match.objects.filter(tournament=driver.tournament).order_by("pk"))
    assert len(first_round) == 2

    first = HeldOpen(
        lambda: match_resolve(
            match_id=first_round[0].pk,
            user=driver.organizer,
            winner_id=first_round[0].participant_a_id,
        )
    )
    second = Background(
        lambda: match_resolve(
            match_id=first_round[1].pk,
            user=driver.organizer,
            winner_id=first_round[1].participant_a_id,
        )
    )
    wait_for_lock_waiters(1)
    first.commit()

    assert isinstance(second.result(), Match)
    second_round = Match.objects.filter(tournament=driver.tournament, round=2)
    assert second_round.count() == 2
    assert {m.status for m in second_round} == {Match.Status.READY}


# --- A swiss reset against a report in the next round ---------------------------------------


def swiss_in_its_second_round(cup):
    """A swiss of 4 over 2 rounds with round 1 played: the driver, a round-1 match, a
    round-2 match and the captain of that match's side a."""
    driver = cup(4, format="swiss", swiss_rounds=2)
    for match in Match.objects.filter(tournament=driver.tournament, round=1):
        match_resolve(match_id=match.pk, user=driver.organizer, winner_id=match.participant_a_id)
    round_1 = Match.objects.filter(tournament=driver.tournament, round=1).first()
    round_2 = Match.objects.filter(tournament=driver.tournament, round=2).first()
    reporter = Participant.objects.get(pk=round_2.participant_a_id).captain
    return driver, round_1, round_2, reporter


def test_swiss_reset_waits_for_a_report_in_the_next_round_and_refuses(cup):
    """The reset used to delete the next round without locking it; the report on one of
    its matches then failed the foreign key at commit."""
    driver, round_1, round_2, reporter = swiss_in_its_second_round(cup)

    report = HeldOpen(
        lambda: match_report(match_id=round_2.pk, user=reporter, winner_id=round_2.participant_a_id)
    )
    reset = Background(lambda: driver.organizer_post({"id": round_1.pk}, "reset"))
    wait_for_lock_waiters(1)
    report.commit()

    response = reset.result()
    assert response.status_code == 409, response
    assert response.json()["code"] == "downstream_played"
    round_2.refresh_from_db()
    assert round_2.status == Match.Status.AWAITING_CONFIRMATION
    assert round_2.reports.count() == 1


def test_a_report_waiting_for_a_swiss_reset_finds_its_match_gone(cup):
    driver, round_1, round_2, reporter = swiss_in_its_second_round(cup)

    reset = HeldOpen(lambda: match_reset(match_id=round_1.pk, user=driver.organizer))
    report = Background(
        lambda: driver.client_for(reporter).post(
            f"/api/matches/{round_2.pk}/report",
            {"winner": round_2.participant_a_id},
            format="json",
        )
    )
    wait_for_lock_waiters(1)
    reset.commit()

    response = report.result()
    assert response.status_code == 404, response
    assert not Match.objects.filter(tournament=driver.tournament, round=2).exists()


# --- Money after all of it ------------------------------------------------------------------


def test_money_is_where_it_was_after_refused_races(make_user):
    """Refused concurrent joins leave every balance as it was (the charged one aside)."""
    organizer = make_user()
    tournament = tournament_create(
        organizer=organizer, name="Cup", format="swiss", max_participants=8, entry_fee=FEE
    )
    player = make_user(funds=3 * FEE)
    first = HeldOpen(lambda: tournament_join(tournament_id=tournament.pk, user=player))
    second = Background(lambda: tournament_join(tournament_id=tournament.pk, user=player))
    wait_for_lock_waiters(1)
    first.commit()
    assert isinstance(second.result(), AlreadyRegistered)
    assert Account.objects.get(user=player).balance == 2 * FEE
    assert Account.objects.filter(kind="escrow").aggregate(s=Sum("balance"))["s"] == FEE
    assert_invariants()
