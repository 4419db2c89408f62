"""The hand-built renderers (tournaments.render, matches.render) give exactly the JSON of the
REST serializers that define the shapes, for every object type and state, by every path:
one object, the loaded lists of the REST views, and the row reads of the snapshot."""

import json
from datetime import UTC, datetime

import pytest
from rest_framework.renderers import JSONRenderer

from matches.models import Match, MatchReport
from matches.render import bracket_rendered
from matches.selectors import bracket_list, match_get
from matches.serializers import MatchSerializer, match_data, matches_data
from project.encoding import json_bytes
from tests.test_matches_api import FEE, cup  # noqa: F401 - the fixture
from tournaments.models import Participant, TeamMember
from tournaments.render import participants_rendered
from tournaments.selectors import tournament_get
from tournaments.serializers import (
    ParticipantSerializer,
    TournamentDetailSerializer,
    TournamentSerializer,
    participant_data,
    tournament_data,
    tournament_detail_data,
)
from tournaments.services import team_create, tournament_create, tournament_join, tournament_leave

pytestmark = pytest.mark.django_db


def same_json(fast, slow) -> None:
    """Both encode to the same JSON document: the fast path with orjson, the serializer's
    data as the REST framework renders it."""
    assert json.loads(json_bytes(fast)) == json.loads(JSONRenderer().render(slow))


@pytest.fixture
def played(cup):  # noqa: F811 - the fixture imported above
    """A double elimination of 8 with matches in every state: completed (scores and none),
    awaiting confirmation, disputed, ready, pending."""
    driver = cup(8, format="double_elimination", prize_split=(70, 30))
    first, second, third, fourth = driver.playable()
    driver.play(first, first["participant_a"], scores=[2, 1])
    driver.play(second, second["participant_b"])
    assert driver.report(third, third["participant_a"]).status_code == 200
    driver.report(fourth, fourth["participant_a"], by=fourth["participant_a"])
    driver.report(fourth, fourth["participant_b"], by=fourth["participant_b"], scores=[0, 3])
    statuses = set(
        Match.objects.filter(tournament=driver.tournament).values_list("status", flat=True)
    )
    assert statuses == {"completed", "awaiting_confirmation", "disputed", "ready", "pending"}
    return driver


def test_matches_in_every_state(played):
    # One report made on a whole second: its text has no fraction.
    report = MatchReport.objects.filter(match__tournament=played.tournament).first()
    MatchReport.objects.filter(pk=report.pk).update(at=datetime(2026, 12, 2, 21, 45, tzinfo=UTC))
    tournament = tournament_get(tournament_id=played.tournament.pk)
    matches = list(bracket_list(tournament=tournament))
    for match in matches:
        same_json(match_data(match), MatchSerializer(match).data)
        same_json(match_data(match_get(match_id=match.pk)), MatchSerializer(match).data)
    same_json(matches_data(matches), MatchSerializer(matches, many=True).data)
    same_json(
        bracket_rendered(tournament_id=tournament.pk), MatchSerializer(matches, many=True).data
    )


def test_a_round_robin_with_a_draw(cup):  # noqa: F811
    driver = cup(4, format="round_robin")
    match = driver.playable()[0]
    driver.play(match, None, scores=[1, 1])
    matches = list(bracket_list(tournament=driver.tournament))
    same_json(
        bracket_rendered(tournament_id=driver.tournament.pk),
        MatchSerializer(matches, many=True).data,
    )


def test_tournaments_in_every_status_and_their_participants(played, make_user):
    in_progress = tournament_get(tournament_id=played.tournament.pk)
    assert in_progress.started_at is not None
    registering = tournament_create(
        organizer=make_user(), name="Open", format="swiss", max_participants=8, swiss_rounds=3
    )
    for tournament in (in_progress, tournament_get(tournament_id=registering.pk)):
        same_json(tournament_data(tournament), TournamentSerializer(tournament).data)
        same_json(tournament_detail_data(tournament), TournamentDetailSerializer(tournament).data)
        same_json(
            participants_rendered(tournament_id=tournament.pk),
            ParticipantSerializer(tournament.loaded_participants, many=True).data,
        )


def test_teams_with_rosters_and_participants_who_left(make_user):
    tournament = tournament_create(
        organizer=make_user(),
        name="Teams",
        format="single_elimination",
        team_size=3,
        max_participants=4,
        entry_fee=FEE,
    )
    captains = []
    for i in range(3):
        captain = make_user(funds=FEE)
        team = team_create(user=captain, name=f"Team {i}")
        TeamMember.objects.bulk_create(
            TeamMember(team=team, user=make_user(funds=FEE)) for _ in range(2)
        )
        tournament_join(tournament_id=tournament.pk, user=captain, team_id=team.pk)
        captains.append(captain)
    tournament_leave(tournament_id=tournament.pk, user=captains[1])
    solo = tournament_create(organizer=make_user(), name="Solo", format="swiss", max_participants=4)
    tournament_join(tournament_id=solo.pk, user=make_user())

    for cup_id in (tournament.pk, solo.pk):
        loaded = tournament_get(tournament_id=cup_id)
        for participant in loaded.loaded_participants:
            same_json(participant_data(participant), ParticipantSerializer(participant).data)
        same_json(
            participants_rendered(tournament_id=cup_id),
            ParticipantSerializer(loaded.loaded_participants, many=True).data,
        )
    assert Participant.objects.filter(tournament=tournament, status="left").count() == 1
    assert len(participants_rendered(tournament_id=tournament.pk)) == 2
