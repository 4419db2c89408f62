"""A tournament's match-play settings at creation (issue 13): best-of series, a start time,
automatic start and check-in. Each rule has its error, and a refused creation makes nothing.
"""

from datetime import UTC, datetime

import pytest
from django.db import IntegrityError

from project.domain_errors import InvalidInput
from tournaments.models import Tournament
from tournaments.services import tournament_create
from wallets.models import Account

pytestmark = pytest.mark.django_db

STARTS = "2027-01-09T18:00:00Z"


@pytest.fixture
def organizer_client(make_user, client_for):
    return client_for(make_user("org"))


def create(client, **fields):
    body = {"name": "Cup", "format": "single_elimination", "max_participants": 8, **fields}
    return client.post("/api/tournaments", body, format="json")


def test_the_defaults_are_one_game_no_start_time_and_no_check_in(organizer_client):
    response = create(organizer_client)
    assert response.status_code == 201, response.content
    body = response.json()
    assert {
        key: body[key]
        for key in (
            "best_of",
            "best_of_final",
            "starts_at",
            "auto_start",
            "check_in_opens_minutes",
            "waitlist_count",
        )
    } == {
        "best_of": 1,
        "best_of_final": None,
        "starts_at": None,
        "auto_start": False,
        "check_in_opens_minutes": 0,
        "waitlist_count": 0,
    }


def test_series_start_time_and_check_in_are_kept(organizer_client):
    response = create(
        organizer_client,
        best_of=3,
        best_of_final=5,
        starts_at=STARTS,
        auto_start=True,
        check_in_opens_minutes=30,
    )
    assert response.status_code == 201, response.content
    tournament = Tournament.objects.get(pk=response.json()["id"])
    assert (tournament.best_of, tournament.best_of_final) == (3, 5)
    assert tournament.starts_at == datetime(2027, 1, 9, 18, tzinfo=UTC)
    assert tournament.auto_start and tournament.check_in_opens_minutes == 30
    assert response.json()["starts_at"] == STARTS


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"best_of": 2}, "best_of"),
        ({"best_of": 9}, "best_of"),
        ({"best_of_final": 4}, "best_of_final"),
        ({"check_in_opens_minutes": 30}, "starts_at"),
        ({"check_in_opens_minutes": 4, "starts_at": STARTS}, "check_in_opens_minutes"),
        ({"check_in_opens_minutes": 1441, "starts_at": STARTS}, "check_in_opens_minutes"),
        ({"auto_start": True}, "starts_at"),
        ({"starts_at": "tomorrow"}, "starts_at"),
    ],
)
def test_a_bad_setting_is_refused_by_field_and_creates_nothing(organizer_client, fields, field):
    accounts = Account.objects.count()
    response = create(organizer_client, **fields)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"
    assert field in response.json()["fields"], response.json()
    assert not Tournament.objects.exists()
    assert Account.objects.count() == accounts


def test_the_service_holds_the_same_rules_without_the_rest_layer(make_user):
    with pytest.raises(InvalidInput) as refused:
        tournament_create(
            organizer=make_user("org"),
            name="Cup",
            format="swiss",
            max_participants=8,
            check_in_opens_minutes=10,
        )
    assert refused.value.fields == {"starts_at": ["Check-in needs a start time."]}
    assert not Tournament.objects.exists()


def test_the_database_refuses_a_series_of_even_length(make_user):
    tournament = tournament_create(
        organizer=make_user("org"), name="Cup", format="round_robin", max_participants=4
    )
    with pytest.raises(IntegrityError):
        Tournament.objects.filter(pk=tournament.pk).update(best_of=2)
