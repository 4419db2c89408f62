"""A one-sided report left unanswered past the deadline is confirmed as reported."""

from datetime import timedelta

import pytest
from django.utils import timezone

from matches.models import Match, MatchReport
from matches.services import match_report, match_reset, tournament_start
from matches.tasks import matches_confirm_overdue
from tournaments.models import TournamentEvent
from tournaments.services import tournament_create, tournament_join

pytestmark = pytest.mark.django_db


@pytest.fixture
def semifinal(make_user):
    organizer = make_user()
    tournament = tournament_create(
        organizer=organizer, name="Deadlines", format="single_elimination", max_participants=4
    )
    for _ in range(4):
        tournament_join(tournament_id=tournament.pk, user=make_user())
    tournament_start(tournament_id=tournament.pk, user=organizer)
    match = (
        Match.objects.filter(tournament=tournament, round=1)
        .select_related("participant_a__captain", "participant_b__captain", "tournament")
        .first()
    )
    return match, organizer


def report_minutes_ago(match, minutes, *, winner_id=None):
    match_report(
        match_id=match.pk,
        user=match.participant_a.captain,
        winner_id=winner_id or match.participant_b_id,
        scores=[1, 2],
    )
    MatchReport.objects.filter(match=match).update(at=timezone.now() - timedelta(minutes=minutes))


def test_an_unanswered_report_is_confirmed_as_reported_after_the_deadline(semifinal):
    match, _ = semifinal
    report_minutes_ago(match, 16)

    assert matches_confirm_overdue() == 1

    match.refresh_from_db()
    assert (match.status, match.winner_id, match.scores) == (
        "completed",
        match.participant_b_id,
        [1, 2],
    )
    final = Match.objects.get(pk=match.next_match_id)
    assert match.participant_b_id in (final.participant_a_id, final.participant_b_id)
    completed = TournamentEvent.objects.filter(
        tournament=match.tournament, name="match.completed"
    ).values_list("data__match__id", flat=True)
    assert list(completed) == [match.pk]


def test_a_report_within_the_deadline_is_left_alone(semifinal):
    match, _ = semifinal
    report_minutes_ago(match, 14)

    assert matches_confirm_overdue() == 0
    assert Match.objects.get(pk=match.pk).status == "awaiting_confirmation"


def test_the_deadline_comes_from_the_settings(semifinal, settings):
    settings.MATCH_CONFIRMATION_TIMEOUT = timedelta(minutes=2)
    match, _ = semifinal
    report_minutes_ago(match, 3)

    assert matches_confirm_overdue() == 1


def test_a_dispute_is_never_confirmed_by_the_deadline(semifinal):
    match, _ = semifinal
    report_minutes_ago(match, 30)
    match_report(
        match_id=match.pk, user=match.participant_b.captain, winner_id=match.participant_a_id
    )

    assert matches_confirm_overdue() == 0
    assert Match.objects.get(pk=match.pk).status == "disputed"


def test_a_second_sweep_confirms_nothing_twice_and_the_organizer_can_still_reset(semifinal):
    match, organizer = semifinal
    report_minutes_ago(match, 16)
    assert matches_confirm_overdue() == 1
    events = TournamentEvent.objects.filter(tournament=match.tournament).count()

    assert matches_confirm_overdue() == 0
    assert TournamentEvent.objects.filter(tournament=match.tournament).count() == events

    reset = match_reset(match_id=match.pk, user=organizer)
    assert reset.status == "ready"
    assert not MatchReport.objects.filter(match=match).exists()
