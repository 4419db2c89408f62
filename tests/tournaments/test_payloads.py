"""tournaments.payloads, the domain's tournament and participant payloads, give exactly the
JSON of the REST serializers that document them: for every tournament status and every
kind of participant, by every path (one object, the loaded lists of the REST views, the row
reads of the snapshot), and as stored in the event log."""

import json

import pytest
from django.db.models import Prefetch
from rest_framework.renderers import JSONRenderer

from project.encoding import json_bytes
from tests.matches.test_api import FEE, cup  # noqa: F401 - the fixture
from tournaments.models import Participant, ParticipantMember, TeamMember, TournamentEvent
from tournaments.payloads import participant_data, participants_rendered, tournament_data
from tournaments.selectors import tournament_get
from tournaments.serializers import (
    ParticipantSerializer,
    TournamentDetailSerializer,
    TournamentSerializer,
    tournament_detail_data,
)
from tournaments.services import (
    team_create,
    tournament_cancel,
    tournament_create,
    tournament_join,
    tournament_leave,
)

pytestmark = pytest.mark.django_db


def same_json(payload, serialized) -> None:
    """Both encode to the same JSON document: the payload with orjson, the serializer's
    data as the REST framework renders it."""
    assert json.loads(json_bytes(payload)) == json.loads(JSONRenderer().render(serialized))


def with_roster(participant_id: int) -> Participant:
    """A participant, also one who left, loaded as the selectors load it for rendering."""
    return Participant.objects.prefetch_related(
        Prefetch(
            "roster",
            queryset=ParticipantMember.objects.select_related("user").order_by("pk"),
            to_attr="loaded_roster",
        )
    ).get(pk=participant_id)


@pytest.fixture
def teams_cup(make_user):
    """A paid team tournament in registration: three teams joined, the second left; and a
    free solo swiss with one player."""
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
    return tournament, solo


def test_tournaments_in_every_status_and_their_participants(cup, make_user):  # noqa: F811
    driver = cup(4, format="single_elimination")
    match = driver.playable()[0]
    driver.play(match, match["participant_a"], scores=[2, 0])
    in_progress = tournament_get(tournament_id=driver.tournament.pk)
    assert in_progress.status == "in_progress" and in_progress.started_at is not None
    registering = tournament_create(
        organizer=make_user(), name="Open", format="swiss", max_participants=8, swiss_rounds=3
    )
    cancelled = tournament_create(
        organizer=(organizer := make_user()), name="Off", format="round_robin", max_participants=4
    )
    tournament_join(tournament_id=cancelled.pk, user=make_user())
    tournament_cancel(tournament_id=cancelled.pk, user=organizer)

    loaded = [tournament_get(tournament_id=t.pk) for t in (in_progress, registering, cancelled)]
    assert [t.status for t in loaded] == ["in_progress", "registration", "cancelled"]
    for tournament in loaded:
        same_json(tournament_data(tournament), TournamentSerializer(tournament).data)
        same_json(tournament_detail_data(tournament), TournamentDetailSerializer(tournament).data)
        same_json(
            participants_rendered(tournament_id=tournament.pk),
            ParticipantSerializer(tournament.loaded_participants, many=True).data,
        )


def test_teams_with_rosters_and_participants_who_left(teams_cup):
    tournament, solo = teams_cup
    for cup_id in (tournament.pk, solo.pk):
        loaded = tournament_get(tournament_id=cup_id)
        for participant in loaded.loaded_participants:
            same_json(participant_data(participant), ParticipantSerializer(participant).data)
        same_json(
            participants_rendered(tournament_id=cup_id),
            ParticipantSerializer(loaded.loaded_participants, many=True).data,
        )
    left = with_roster(Participant.objects.get(tournament=tournament, status="left").pk)
    same_json(participant_data(left), ParticipantSerializer(left).data)
    assert len(participants_rendered(tournament_id=tournament.pk)) == 2


def test_the_event_log_carries_the_rest_shapes(teams_cup):
    """Each participant's newest event (joined, or left) holds it exactly as
    ``ParticipantSerializer`` renders it now, and the newest event's tournament is the
    tournament as ``TournamentSerializer`` renders it now."""
    tournament, _ = teams_cup
    events = list(TournamentEvent.objects.filter(tournament=tournament).order_by("version"))
    assert [event.name for event in events] == ["participant.joined"] * 3 + ["participant.left"]

    newest = {event.data["participant"]["id"]: event.data["participant"] for event in events}
    participants = Participant.objects.filter(tournament=tournament)
    assert set(newest) == {p.pk for p in participants}
    for participant in participants:
        loaded = with_roster(participant.pk)
        same_json(newest[participant.pk], ParticipantSerializer(loaded).data)

    current = tournament_get(tournament_id=tournament.pk)
    assert events[-1].data["tournament"]["version"] == current.version
    same_json(events[-1].data["tournament"], TournamentSerializer(current).data)
