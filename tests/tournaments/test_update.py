"""PATCH /api/tournaments/{id} (issue 13): the organizer edits a tournament in
registration. The same rules as creation, checked with the fields not sent; every refusal
changes nothing and sends no event; a change sends ``tournament.updated``."""

from datetime import UTC, datetime

import pytest

from matches.models import Match
from matches.services import tournament_start
from project.domain_errors import InvalidInput
from tournaments.models import Tournament, TournamentEvent
from tournaments.services import tournament_create, tournament_join, tournament_update

pytestmark = pytest.mark.django_db

STARTS = "2027-01-09T18:00:00Z"


@pytest.fixture
def cup(make_user):
    organizer = make_user("org")
    tournament = tournament_create(
        organizer=organizer, name="Cup", game="chess", format="single_elimination",
        max_participants=8, entry_fee=0,
    )  # fmt: skip
    return tournament, organizer


def patch(client, tournament, body):
    return client.patch(f"/api/tournaments/{tournament.pk}", body, format="json")


def row(tournament):
    """The stored tournament and its event log: what a refused edit must leave alone."""
    stored = Tournament.objects.get(pk=tournament.pk)
    fields = [f.attname for f in Tournament._meta.concrete_fields]
    return (
        {name: getattr(stored, name) for name in fields},
        list(TournamentEvent.objects.filter(tournament=tournament).values_list("version", "name")),
    )


def test_the_organizer_edits_every_editable_field(cup, client_for):
    tournament, organizer = cup
    body = {
        "name": "Winter Cup",
        "game": "go",
        "best_of": 3,
        "best_of_final": 5,
        "starts_at": STARTS,
        "auto_start": True,
        "check_in_opens_minutes": 30,
    }
    response = patch(client_for(organizer), tournament, body)
    assert response.status_code == 200, response.content
    answer = response.json()
    assert {key: answer[key] for key in body} == body
    assert answer["participants"] == []
    stored = Tournament.objects.get(pk=tournament.pk)
    assert (stored.name, stored.best_of, stored.best_of_final, stored.check_in_opens_minutes) == (
        "Winter Cup",
        3,
        5,
        30,
    )
    assert stored.starts_at == datetime(2027, 1, 9, 18, tzinfo=UTC)
    assert stored.version == tournament.version + 1
    event = TournamentEvent.objects.get(tournament=tournament, version=stored.version)
    assert event.name == "tournament.updated"
    assert event.data["tournament"]["best_of_final"] == 5
    assert event.data["tournament"]["version"] == stored.version
    # The detail read (served from the snapshot cache) shows the edit at once.
    detail = client_for().get(f"/api/tournaments/{tournament.pk}").json()
    assert (detail["name"], detail["best_of"], detail["version"]) == (
        "Winter Cup",
        3,
        stored.version,
    )


def test_a_partial_edit_keeps_the_other_fields(cup, client_for):
    tournament, organizer = cup
    response = patch(client_for(organizer), tournament, {"best_of": 7})
    assert response.status_code == 200
    assert (response.json()["best_of"], response.json()["name"], response.json()["game"]) == (
        7,
        "Cup",
        "chess",
    )


def test_an_edit_that_changes_nothing_sends_no_event(cup, client_for):
    tournament, organizer = cup
    before = row(tournament)
    for body in ({}, {"name": "Cup", "best_of": 1}):
        response = patch(client_for(organizer), tournament, body)
        assert response.status_code == 200
    assert row(tournament) == before


def test_the_series_settings_reach_the_bracket(cup, client_for, make_user):
    tournament, organizer = cup
    edit = patch(client_for(organizer), tournament, {"best_of": 3, "best_of_final": 5})
    assert edit.status_code == 200
    for _ in range(4):
        tournament_join(tournament_id=tournament.pk, user=make_user())
    tournament_start(tournament_id=tournament.pk, user=organizer)
    assert sorted(
        Match.objects.filter(tournament=tournament).values_list("best_of", flat=True)
    ) == [
        3,
        3,
        5,
    ]


BAD_EDITS = {
    "best of two": ({"best_of": 2}, "best_of"),
    "best of a string": ({"best_of": "three"}, "best_of"),
    "final of four": ({"best_of_final": 4}, "best_of_final"),
    "check-in without a start": ({"check_in_opens_minutes": 10}, "starts_at"),
    "check-in too soon": ({"check_in_opens_minutes": 3, "starts_at": STARTS}, None),
    "check-in too early": ({"check_in_opens_minutes": 2000, "starts_at": STARTS}, None),
    "auto start without a start": ({"auto_start": True}, "starts_at"),
    "not a time": ({"starts_at": "tomorrow"}, "starts_at"),
    "empty name": ({"name": ""}, "name"),
    "long name": ({"name": "x" * 101}, "name"),
    "long game": ({"game": "x" * 51}, "game"),
    "rounds outside swiss": ({"swiss_rounds": 3}, "swiss_rounds"),
    "the fee": ({"entry_fee": 10}, "entry_fee"),
    "the format": ({"format": "swiss"}, "format"),
    "the capacity": ({"max_participants": 16}, "max_participants"),
    "the team size": ({"team_size": 2}, "team_size"),
    "the prize split": ({"prize_split": [60, 40]}, "prize_split"),
    "the status": ({"status": "completed"}, "status"),
    "an unknown field": ({"colour": "red"}, "colour"),
}


@pytest.mark.parametrize("case", list(BAD_EDITS))
def test_a_bad_edit_is_400_naming_the_field_and_changes_nothing(cup, client_for, case):
    tournament, organizer = cup
    body, field = BAD_EDITS[case]
    before = row(tournament)
    response = patch(client_for(organizer), tournament, {"best_of": 3, **body})
    assert response.status_code == 400, response.content
    answer = response.json()
    assert answer["code"] == "invalid"
    assert list(answer["fields"]) == [field or "check_in_opens_minutes"]
    assert row(tournament) == before


def test_removing_the_start_time_that_check_in_needs_is_refused(cup, client_for):
    tournament, organizer = cup
    client = client_for(organizer)
    edit = patch(client, tournament, {"starts_at": STARTS, "check_in_opens_minutes": 15})
    assert edit.status_code == 200
    before = row(tournament)
    response = patch(client, tournament, {"starts_at": None})
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["starts_at"]
    assert row(tournament) == before
    # Turning check-in off with it is fine.
    response = patch(client, tournament, {"starts_at": None, "check_in_opens_minutes": 0})
    assert response.status_code == 200, response.content


def test_swiss_rounds_can_be_edited_in_swiss(make_user, client_for):
    organizer = make_user("swiss-org")
    tournament = tournament_create(
        organizer=organizer, name="Swiss", format="swiss", max_participants=8
    )
    response = patch(client_for(organizer), tournament, {"swiss_rounds": 5})
    assert response.status_code == 200 and response.json()["swiss_rounds"] == 5
    response = patch(client_for(organizer), tournament, {"swiss_rounds": None})
    assert response.status_code == 200 and response.json()["swiss_rounds"] is None


def test_only_the_organizer_edits(cup, client_for, make_user):
    tournament, _ = cup
    before = row(tournament)
    response = patch(client_for(make_user("someone")), tournament, {"name": "Mine"})
    assert response.status_code == 403
    assert response.json()["code"] == "not_organizer"
    response = patch(client_for(), tournament, {"name": "Mine"})
    assert response.status_code == 401
    assert row(tournament) == before


def test_staff_may_edit(cup, client_for, make_user):
    tournament, _ = cup
    staff = make_user("staff")
    staff.is_staff = True
    staff.save()
    assert patch(client_for(staff), tournament, {"name": "Staff Cup"}).status_code == 200


def test_an_unknown_tournament_is_404(client_for, make_user):
    response = client_for(make_user()).patch("/api/tournaments/999999", {}, format="json")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("status", ["in_progress", "cancelled"])
def test_after_registration_an_edit_is_409(cup, client_for, make_user, status):
    tournament, organizer = cup
    if status == "in_progress":
        for _ in range(2):
            tournament_join(tournament_id=tournament.pk, user=make_user())
        tournament_start(tournament_id=tournament.pk, user=organizer)
    else:
        assert (
            client_for(organizer).post(f"/api/tournaments/{tournament.pk}/cancel").status_code
            == 202
        )
    before = row(tournament)
    response = patch(client_for(organizer), tournament, {"best_of": 3})
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_status"
    assert row(tournament) == before


def test_the_status_is_checked_before_the_values(cup, client_for, make_user):
    """A finished tournament answers 409 whatever the body says: no edit is possible."""
    tournament, organizer = cup
    assert client_for(organizer).post(f"/api/tournaments/{tournament.pk}/cancel").status_code == 202
    response = patch(client_for(organizer), tournament, {"check_in_opens_minutes": 10})
    assert response.status_code == 409


def test_the_service_refuses_fields_fixed_at_creation(cup):
    tournament, organizer = cup
    with pytest.raises(InvalidInput) as refused:
        tournament_update(tournament_id=tournament.pk, user=organizer, entry_fee=5)
    assert list(refused.value.fields) == ["entry_fee"]


def test_the_schema_documents_the_patch(anon):
    schema = anon.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operation = schema["paths"]["/api/tournaments/{tournament_id}"]["patch"]
    assert {"200", "400", "403", "404", "409"} <= set(operation["responses"])
    body = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    properties = schema["components"]["schemas"][body.rsplit("/", 1)[-1]]["properties"]
    assert set(properties) == {
        "name",
        "game",
        "best_of",
        "best_of_final",
        "starts_at",
        "auto_start",
        "check_in_opens_minutes",
        "swiss_rounds",
    }
