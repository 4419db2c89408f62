"""matches.payloads, the domain's match payloads, give exactly the JSON of
``MatchSerializer``, the REST shape that documents them: for every match state, by every
path (one match, the loaded lists of the REST views, the row reads of the snapshot), and as
stored in the event log."""

import json
from datetime import UTC, datetime

import pytest
from rest_framework.renderers import JSONRenderer

from matches.models import Match, MatchReport
from matches.payloads import bracket_rendered, match_data, matches_data
from matches.selectors import bracket_list, match_get
from matches.serializers import MatchSerializer
from project.encoding import json_bytes
from tests.matches.test_api import cup  # noqa: F401 - the fixture
from tournaments.models import TournamentEvent
from tournaments.selectors import tournament_get

pytestmark = pytest.mark.django_db


def same_json(payload, serialized) -> None:
    """Both encode to the same JSON document: the payload with orjson, the serializer's
    data as the REST framework renders it."""
    assert json.loads(json_bytes(payload)) == json.loads(JSONRenderer().render(serialized))


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


def test_the_event_log_ends_with_each_match_as_the_rest_api_shows_it(played):
    """Replaying the log (the start's ``matches``, then every ``match`` payload) leaves each
    match exactly as ``MatchSerializer`` renders it now: the stored events carry the REST
    shape, whatever state the match ended in."""
    latest = {}
    names = set()
    for event in TournamentEvent.objects.filter(tournament=played.tournament).order_by("version"):
        names.add(event.name)
        for payload in event.data.get("matches", []):
            latest[payload["id"]] = payload
        if "match" in event.data:
            latest[event.data["match"]["id"]] = event.data["match"]
    assert {"tournament.started", "match.updated"} <= names

    matches = list(bracket_list(tournament=played.tournament))
    assert set(latest) == {match.pk for match in matches}
    for match in matches:
        same_json(latest[match.pk], MatchSerializer(match).data)
