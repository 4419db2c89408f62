"""Tournaments through the HTTP API: create, list, detail, join, leave, cancel, events."""

from datetime import datetime, timedelta

import pytest

from tournaments.models import (
    Participant,
    ParticipantMember,
    TeamMember,
    Tournament,
    TournamentEvent,
)
from tournaments.services import (
    team_create,
    tournament_cancel,
    tournament_create,
    tournament_join,
)
from wallets.models import Account, Entry, Posting

pytestmark = pytest.mark.django_db

FEE = 50

TOURNAMENT_FIELDS = {
    "id", "name", "game", "format", "team_size", "max_participants", "entry_fee",
    "prize_split", "status", "organizer", "participant_count", "prize_pool",
    "refunds_pending", "version", "created_at", "started_at", "completed_at",
}  # fmt: skip
PARTICIPANT_FIELDS = {"id", "name", "seed", "team", "members", "status"}


# --- helpers ----------------------------------------------------------------------------------


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def ledger_state():
    """Every account's balance and the number of ledger lines and postings."""
    return (
        list(Account.objects.order_by("pk").values_list("pk", "balance")),
        Entry.objects.count(),
        Posting.objects.count(),
    )


def tournament_state(tournament_id):
    t = Tournament.objects.get(pk=tournament_id)
    return (
        t.status,
        t.participant_count,
        t.prize_pool,
        t.refunds_pending,
        t.version,
        sorted(Participant.objects.filter(tournament_id=tournament_id).values_list("pk", "status")),
        sorted(
            ParticipantMember.objects.filter(tournament_id=tournament_id).values_list(
                "user_id", "active"
            )
        ),
        TournamentEvent.objects.filter(tournament_id=tournament_id).count(),
    )


def balance_of(user):
    return Account.objects.get(user=user).balance


def newest_entry(client):
    return client.get("/api/wallet/entries").json()["results"][0]


def solo_cup(organizer, **fields):
    fields = {
        "name": "Solo Cup",
        "format": "single_elimination",
        "max_participants": 8,
        "entry_fee": FEE,
        **fields,
    }
    return tournament_create(organizer=organizer, **fields)


def team_cup(organizer, **fields):
    return solo_cup(organizer, **{"name": "Team Cup", "team_size": 2, **fields})


def team_of(captain, *members, name="Rockets"):
    team = team_create(user=captain, name=name)
    TeamMember.objects.bulk_create(TeamMember(team=team, user=m) for m in members)
    return team


def join(client, tournament_id, body=None, **headers):
    return client.post(
        f"/api/tournaments/{tournament_id}/join", body or {}, format="json", **headers
    )


def leave(client, tournament_id, **headers):
    return client.post(f"/api/tournaments/{tournament_id}/leave", format="json", **headers)


def cancel(client, tournament_id):
    return client.post(f"/api/tournaments/{tournament_id}/cancel")


def is_utc_iso(value):
    return datetime.fromisoformat(value.replace("Z", "+00:00")).utcoffset() == timedelta(0)


# --- create -----------------------------------------------------------------------------------


def test_create_is_201_in_registration_with_defaults(make_user, client_for):
    organizer = make_user("org")

    response = client_for(organizer).post(
        "/api/tournaments",
        {"name": "Spring Cup", "format": "single_elimination", "max_participants": 8},
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) >= TOURNAMENT_FIELDS
    assert body["id"] == Tournament.objects.get().pk
    assert body["name"] == "Spring Cup"
    assert body["format"] == "single_elimination"
    assert body["max_participants"] == 8
    assert body["status"] == "registration"
    assert body["organizer"] == organizer.pk
    assert body["prize_split"] == [100]
    assert body["team_size"] == 1
    assert body["entry_fee"] == 0
    assert body["participant_count"] == 0
    assert body["prize_pool"] == 0
    assert body["refunds_pending"] == 0
    assert body["version"] == 0
    assert body["started_at"] is None
    assert body["completed_at"] is None
    assert is_utc_iso(body["created_at"])


def test_create_with_every_field(make_user, client_for):
    response = client_for(make_user()).post(
        "/api/tournaments",
        {
            "name": "Team League",
            "game": "Rocket League",
            "format": "round_robin",
            "team_size": 3,
            "max_participants": 16,
            "entry_fee": 250,
            "prize_split": [50, 30, 20],
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["game"] == "Rocket League"
    assert body["format"] == "round_robin"
    assert body["team_size"] == 3
    assert body["entry_fee"] == 250
    assert body["prize_split"] == [50, 30, 20]


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "n" * 100},
        {"game": "g" * 50},
        {"max_participants": 2},
        {"max_participants": 1024},
        {"team_size": 16},
        {"entry_fee": 0},
        {"format": "double_elimination"},
        {"format": "round_robin"},
        {"format": "swiss"},
        {"format": "swiss", "swiss_rounds": 3},
    ],
    ids=lambda f: "-".join(f"{k}={str(v)[:12]}" for k, v in f.items()),
)
def test_create_accepts_values_at_the_limits(make_user, client_for, fields):
    body = {"name": "Cup", "format": "single_elimination", "max_participants": 8, **fields}

    response = client_for(make_user()).post("/api/tournaments", body, format="json")

    assert response.status_code == 201, response.content
    for key, value in fields.items():
        assert response.json()[key] == value


@pytest.mark.parametrize(
    "fields,field",
    [
        ({"name": ""}, "name"),
        ({"name": "n" * 101}, "name"),
        ({"game": "g" * 51}, "game"),
        ({"max_participants": 1}, "max_participants"),
        ({"max_participants": 1025}, "max_participants"),
        ({"max_participants": 0}, "max_participants"),
        ({"team_size": 17}, "team_size"),
        ({"team_size": 0}, "team_size"),
        ({"entry_fee": -1}, "entry_fee"),
        ({"entry_fee": 10.5}, "entry_fee"),
        ({"prize_split": [60, 30]}, "prize_split"),
        ({"prize_split": [60, 30, 20]}, "prize_split"),
        ({"prize_split": []}, "prize_split"),
        ({"prize_split": [110, -10]}, "prize_split"),
        ({"prize_split": 100}, "prize_split"),
        ({"format": "knockout"}, "format"),
        ({"format": ""}, "format"),
        ({"swiss_rounds": 3}, "swiss_rounds"),
    ],
    ids=lambda v: (
        "-".join(f"{k}={str(x)[:12]}" for k, x in v.items()) if isinstance(v, dict) else v
    ),
)
def test_create_invalid_field_is_400_with_fields_and_creates_nothing(
    make_user, client_for, fields, field
):
    client = client_for(make_user())
    body = {"name": "Cup", "format": "single_elimination", "max_participants": 8, **fields}
    before = ledger_state()

    response = client.post("/api/tournaments", body, format="json")

    assert field in assert_error(response, 400, "invalid")["fields"]
    assert not Tournament.objects.exists()
    assert ledger_state() == before


@pytest.mark.parametrize("fee", [100.0, "100", True], ids=["float", "numeric-string", "bool"])
def test_create_entry_fee_as_float_or_string_is_400(make_user, client_for, fee):
    body = {"name": "Cup", "format": "swiss", "max_participants": 8, "entry_fee": fee}

    response = client_for(make_user()).post("/api/tournaments", body, format="json")

    assert "entry_fee" in assert_error(response, 400, "invalid")["fields"]
    assert not Tournament.objects.exists()


@pytest.mark.parametrize(
    "split", [["100"], [100.0], [60.0, 40], [True]], ids=["string", "float", "mixed", "bool"]
)
def test_create_prize_split_of_floats_or_strings_is_400(make_user, client_for, split):
    body = {"name": "Cup", "format": "swiss", "max_participants": 8, "prize_split": split}

    response = client_for(make_user()).post("/api/tournaments", body, format="json")

    assert "prize_split" in assert_error(response, 400, "invalid")["fields"]
    assert not Tournament.objects.exists()


@pytest.mark.parametrize("missing", ["name", "format", "max_participants"])
def test_create_without_a_required_field_is_400(make_user, client_for, missing):
    body = {"name": "Cup", "format": "single_elimination", "max_participants": 8}
    del body[missing]

    response = client_for(make_user()).post("/api/tournaments", body, format="json")

    assert missing in assert_error(response, 400, "invalid")["fields"]
    assert not Tournament.objects.exists()


def test_create_anonymous_is_401_and_creates_nothing(anon):
    response = anon.post(
        "/api/tournaments",
        {"name": "Cup", "format": "single_elimination", "max_participants": 8},
        format="json",
    )

    assert_error(response, 401, "not_authenticated")
    assert not Tournament.objects.exists()


# --- list and detail --------------------------------------------------------------------------


def test_list_is_public_paginated_newest_first(make_user, anon):
    organizer = make_user()
    cups = [solo_cup(organizer, name=f"Cup {i}") for i in range(3)]

    response = anon.get("/api/tournaments")

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"results", "next"}
    assert body["next"] is None
    assert [t["id"] for t in body["results"]] == [c.pk for c in reversed(cups)]
    assert all(set(t) >= TOURNAMENT_FIELDS for t in body["results"])


def test_list_limit_and_next_link(make_user, anon):
    organizer = make_user()
    cups = [solo_cup(organizer, name=f"Cup {i}") for i in range(3)]

    first = anon.get("/api/tournaments?limit=2").json()
    second = anon.get(first["next"]).json()

    assert [t["id"] for t in first["results"]] == [cups[2].pk, cups[1].pk]
    assert [t["id"] for t in second["results"]] == [cups[0].pk]
    assert second["next"] is None


def test_list_filters_by_status(make_user, anon):
    organizer = make_user()
    open_cup = solo_cup(organizer, name="Open")
    cancelled_cup = solo_cup(organizer, name="Cancelled")
    tournament_cancel(tournament_id=cancelled_cup.pk, user=organizer)

    registration = anon.get("/api/tournaments?status=registration").json()["results"]
    cancelled = anon.get("/api/tournaments?status=cancelled").json()["results"]
    completed = anon.get("/api/tournaments?status=completed").json()["results"]

    assert [t["id"] for t in registration] == [open_cup.pk]
    assert [t["id"] for t in cancelled] == [cancelled_cup.pk]
    assert completed == []


def test_list_next_link_keeps_the_status_filter(make_user, anon):
    organizer = make_user()
    open_cups = [solo_cup(organizer, name=f"Open {i}") for i in range(2)]
    tournament_cancel(tournament_id=solo_cup(organizer, name="Gone").pk, user=organizer)

    first = anon.get("/api/tournaments?status=registration&limit=1").json()
    second = anon.get(first["next"]).json()

    assert [t["id"] for t in first["results"] + second["results"]] == [
        open_cups[1].pk,
        open_cups[0].pk,
    ]


def test_list_with_unknown_status_is_400_with_status_field(anon):
    response = anon.get("/api/tournaments?status=finished")

    assert "status" in assert_error(response, 400, "invalid")["fields"]


def test_detail_is_public_with_participants(make_user, anon):
    organizer = make_user()
    cup = solo_cup(organizer, entry_fee=0)
    team_tournament = team_cup(organizer, entry_fee=0)
    alice = make_user("alice")
    captain, mate = make_user("cap"), make_user("mate")
    team = team_of(captain, mate)
    tournament_join(tournament_id=cup.pk, user=alice)
    tournament_join(tournament_id=team_tournament.pk, user=captain, team_id=team.pk)

    solo = anon.get(f"/api/tournaments/{cup.pk}")
    teams = anon.get(f"/api/tournaments/{team_tournament.pk}")

    assert solo.status_code == 200, solo.content
    body = solo.json()
    assert set(body) >= TOURNAMENT_FIELDS
    assert body["participant_count"] == 1
    (participant,) = body["participants"]
    assert set(participant) >= PARTICIPANT_FIELDS
    assert participant["name"] == "alice"
    assert participant["seed"] is None
    assert participant["team"] is None
    assert participant["members"] == [{"id": alice.pk, "username": "alice"}]
    assert participant["status"] == "registered"

    (team_participant,) = teams.json()["participants"]
    assert team_participant["name"] == "Rockets"
    assert team_participant["team"] == team.pk
    assert team_participant["members"] == [
        {"id": captain.pk, "username": "cap"},
        {"id": mate.pk, "username": "mate"},
    ]


def test_detail_unknown_id_is_404_not_found(anon):
    assert_error(anon.get("/api/tournaments/987654321"), 404, "not_found")


# --- solo join --------------------------------------------------------------------------------


def test_solo_join_is_201_and_charges_the_fee(make_user, client_for, anon):
    cup = solo_cup(make_user())
    player = make_user("alice", funds=120)
    client = client_for(player)

    response = join(client, cup.pk)

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) >= PARTICIPANT_FIELDS
    assert body["name"] == "alice"
    assert body["team"] is None
    assert body["members"] == [{"id": player.pk, "username": "alice"}]
    assert body["status"] == "registered"
    assert client.get("/api/wallet").json()["balance"] == 70
    entry = newest_entry(client)
    assert entry["kind"] == "entry_fee"
    assert entry["amount"] == -FEE
    assert entry["tournament"] == cup.pk
    assert entry["balance_after"] == 70
    detail = anon.get(f"/api/tournaments/{cup.pk}").json()
    assert detail["participant_count"] == 1
    assert detail["prize_pool"] == FEE
    assert [p["id"] for p in detail["participants"]] == [body["id"]]


def test_solo_join_with_exactly_the_fee_leaves_zero(make_user, client_for):
    cup = solo_cup(make_user())
    player = make_user(funds=FEE)

    assert join(client_for(player), cup.pk).status_code == 201
    assert balance_of(player) == 0


def test_free_tournament_join_writes_no_ledger_line(make_user, client_for):
    cup = solo_cup(make_user(), entry_fee=0)
    player = make_user()
    before = ledger_state()

    assert join(client_for(player), cup.pk).status_code == 201
    assert ledger_state() == before


def test_join_twice_is_409_already_registered_and_charges_once(make_user, client_for):
    cup = solo_cup(make_user())
    player = make_user(funds=200)
    client = client_for(player)
    join(client, cup.pk)
    before = ledger_state(), tournament_state(cup.pk)

    response = join(client, cup.pk)

    assert_error(response, 409, "already_registered")
    assert (ledger_state(), tournament_state(cup.pk)) == before
    assert balance_of(player) == 150


def test_join_with_insufficient_funds_is_409_naming_the_user_and_charges_nothing(
    make_user, client_for
):
    cup = solo_cup(make_user())
    player = make_user("pauper", funds=FEE - 1)
    before = ledger_state(), tournament_state(cup.pk)

    response = join(client_for(player), cup.pk)

    body = assert_error(response, 409, "insufficient_funds")
    assert "pauper" in body["detail"]
    assert (ledger_state(), tournament_state(cup.pk)) == before
    assert balance_of(player) == FEE - 1


def test_join_full_tournament_is_409_tournament_full_and_charges_nothing(make_user, client_for):
    cup = solo_cup(make_user(), max_participants=2)
    for player in (make_user(funds=FEE), make_user(funds=FEE)):
        assert join(client_for(player), cup.pk).status_code == 201
    late = make_user(funds=FEE)
    before = ledger_state(), tournament_state(cup.pk)

    response = join(client_for(late), cup.pk)

    assert_error(response, 409, "tournament_full")
    assert (ledger_state(), tournament_state(cup.pk)) == before
    assert balance_of(late) == FEE


def test_join_cancelled_tournament_is_409_registration_closed(make_user, client_for):
    organizer = make_user()
    cup = solo_cup(organizer)
    tournament_cancel(tournament_id=cup.pk, user=organizer)
    player = make_user(funds=FEE)
    before = ledger_state(), tournament_state(cup.pk)

    response = join(client_for(player), cup.pk)

    assert_error(response, 409, "registration_closed")
    assert (ledger_state(), tournament_state(cup.pk)) == before


def test_join_anonymous_is_401(make_user, anon):
    cup = solo_cup(make_user())
    before = tournament_state(cup.pk)

    assert_error(join(anon, cup.pk), 401, "not_authenticated")
    assert tournament_state(cup.pk) == before


def test_join_unknown_tournament_is_404_not_found(make_user, client_for):
    player = make_user(funds=FEE)
    before = ledger_state()

    assert_error(join(client_for(player), 987654321), 404, "not_found")
    assert ledger_state() == before


def test_solo_join_naming_a_team_is_400_invalid_roster(make_user, client_for):
    cup = solo_cup(make_user())
    player = make_user(funds=FEE)
    team = team_of(player)
    before = ledger_state(), tournament_state(cup.pk)

    response = join(client_for(player), cup.pk, {"team": team.pk})

    assert_error(response, 400, "invalid_roster")
    assert (ledger_state(), tournament_state(cup.pk)) == before


def test_join_repeat_with_same_idempotency_key_replays_and_charges_once(make_user, client_for):
    cup = solo_cup(make_user())
    player = make_user(funds=200)
    client = client_for(player)
    first = join(client, cup.pk, HTTP_IDEMPOTENCY_KEY="join-1")
    before = ledger_state(), tournament_state(cup.pk)

    repeat = join(client, cup.pk, HTTP_IDEMPOTENCY_KEY="join-1")

    assert first.status_code == repeat.status_code == 201
    assert repeat.content == first.content
    assert (ledger_state(), tournament_state(cup.pk)) == before
    assert balance_of(player) == 150


# --- team join --------------------------------------------------------------------------------


def test_team_join_default_roster_is_every_member_each_charged(make_user, client_for):
    cup = team_cup(make_user())
    captain, mate = make_user("cap", funds=100), make_user("mate", funds=100)
    team = team_of(captain, mate)

    response = join(client_for(captain), cup.pk, {"team": team.pk})

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["team"] == team.pk
    assert body["name"] == "Rockets"
    assert body["members"] == [
        {"id": captain.pk, "username": "cap"},
        {"id": mate.pk, "username": "mate"},
    ]
    assert balance_of(captain) == balance_of(mate) == 100 - FEE
    for user in (captain, mate):
        entry = newest_entry(client_for(user))
        assert (entry["kind"], entry["amount"], entry["tournament"]) == ("entry_fee", -FEE, cup.pk)
    cup.refresh_from_db()
    assert cup.participant_count == 1
    assert cup.prize_pool == 2 * FEE


def test_team_join_explicit_members_charges_only_the_roster(make_user, client_for):
    cup = team_cup(make_user())
    captain, mate, bench = (make_user(n, funds=100) for n in ("cap", "mate", "bench"))
    team = team_of(captain, mate, bench)

    response = join(
        client_for(captain), cup.pk, {"team": team.pk, "members": [captain.pk, bench.pk]}
    )

    assert response.status_code == 201, response.content
    assert [m["id"] for m in response.json()["members"]] == [captain.pk, bench.pk]
    assert balance_of(captain) == balance_of(bench) == 100 - FEE
    assert balance_of(mate) == 100


@pytest.mark.parametrize("roster", ["default", "only_captain", "duplicate", "stranger"], ids=str)
def test_team_join_invalid_roster_is_400_and_changes_nothing(make_user, client_for, roster):
    cup = team_cup(make_user())
    captain, mate, bench = (make_user(funds=100) for _ in range(3))
    stranger = make_user(funds=100)
    team = team_of(captain, mate, bench)
    body = {
        "default": {"team": team.pk},  # three members for a team size of two
        "only_captain": {"team": team.pk, "members": [captain.pk]},
        "duplicate": {"team": team.pk, "members": [captain.pk, captain.pk]},
        "stranger": {"team": team.pk, "members": [captain.pk, stranger.pk]},
    }[roster]
    before = ledger_state(), tournament_state(cup.pk)

    response = join(client_for(captain), cup.pk, body)

    assert_error(response, 400, "invalid_roster")
    assert (ledger_state(), tournament_state(cup.pk)) == before


def test_team_join_without_a_team_is_400_invalid_roster(make_user, client_for):
    cup = team_cup(make_user())
    player = make_user(funds=100)
    before = ledger_state(), tournament_state(cup.pk)

    assert_error(join(client_for(player), cup.pk), 400, "invalid_roster")
    assert (ledger_state(), tournament_state(cup.pk)) == before


def test_team_join_unknown_team_is_404_not_found(make_user, client_for):
    cup = team_cup(make_user())
    player = make_user(funds=100)
    before = ledger_state(), tournament_state(cup.pk)

    assert_error(join(client_for(player), cup.pk, {"team": 987654321}), 404, "not_found")
    assert (ledger_state(), tournament_state(cup.pk)) == before


def test_team_join_by_non_captain_is_403_not_captain_and_changes_nothing(make_user, client_for):
    cup = team_cup(make_user())
    captain, mate = make_user(funds=100), make_user(funds=100)
    team = team_of(captain, mate)
    before = ledger_state(), tournament_state(cup.pk)

    response = join(client_for(mate), cup.pk, {"team": team.pk})

    assert_error(response, 403, "not_captain")
    assert (ledger_state(), tournament_state(cup.pk)) == before


def test_team_join_with_a_member_registered_in_another_team_is_409_naming_them(
    make_user, client_for
):
    cup = team_cup(make_user())
    shared = make_user("shared", funds=200)
    captain_a, captain_b = make_user("cap_a", funds=100), make_user("cap_b", funds=100)
    team_a = team_of(captain_a, shared, name="A")
    team_b = team_of(captain_b, shared, name="B")
    assert join(client_for(captain_a), cup.pk, {"team": team_a.pk}).status_code == 201
    before = ledger_state(), tournament_state(cup.pk)

    response = join(client_for(captain_b), cup.pk, {"team": team_b.pk})

    body = assert_error(response, 409, "already_registered")
    assert "shared" in body["detail"]
    assert (ledger_state(), tournament_state(cup.pk)) == before
    assert balance_of(captain_b) == 100
    assert balance_of(shared) == 200 - FEE


def test_team_join_with_one_member_one_unit_short_charges_nobody(make_user, client_for):
    cup = team_cup(make_user())
    captain, short = make_user("leader", funds=100), make_user("shorty", funds=FEE - 1)
    team = team_of(captain, short)
    before = ledger_state(), tournament_state(cup.pk)
    entries_before = Entry.objects.count()

    response = join(client_for(captain), cup.pk, {"team": team.pk})

    body = assert_error(response, 409, "insufficient_funds")
    assert "shorty" in body["detail"]
    assert "leader" not in body["detail"]
    assert (ledger_state(), tournament_state(cup.pk)) == before
    assert Entry.objects.count() == entries_before
    assert not Participant.objects.filter(tournament=cup).exists()
    assert balance_of(captain) == 100
    assert balance_of(short) == FEE - 1


# --- leave ------------------------------------------------------------------------------------


def test_solo_leave_is_200_and_refunds_the_fee(make_user, client_for, anon):
    cup = solo_cup(make_user())
    player = make_user(funds=100)
    client = client_for(player)
    participant = join(client, cup.pk).json()

    response = leave(client, cup.pk)

    assert response.status_code == 200, response.content
    assert response.json()["id"] == participant["id"]
    assert response.json()["status"] == "left"
    assert balance_of(player) == 100
    entry = newest_entry(client)
    assert (entry["kind"], entry["amount"], entry["tournament"]) == ("refund", FEE, cup.pk)
    assert entry["balance_after"] == 100
    detail = anon.get(f"/api/tournaments/{cup.pk}").json()
    assert detail["participant_count"] == 0
    assert detail["prize_pool"] == 0
    assert all(p["id"] != participant["id"] for p in detail["participants"])


def test_team_leave_refunds_every_member_at_once(make_user, client_for):
    cup = team_cup(make_user(), team_size=3)
    captain, mate, third = (make_user(funds=100) for _ in range(3))
    team = team_of(captain, mate, third)
    join(client_for(captain), cup.pk, {"team": team.pk})
    assert [balance_of(u) for u in (captain, mate, third)] == [100 - FEE] * 3

    response = leave(client_for(captain), cup.pk)

    assert response.status_code == 200, response.content
    assert [balance_of(u) for u in (captain, mate, third)] == [100] * 3
    for user in (captain, mate, third):
        entry = newest_entry(client_for(user))
        assert (entry["kind"], entry["amount"], entry["tournament"]) == ("refund", FEE, cup.pk)
    cup.refresh_from_db()
    assert (cup.participant_count, cup.prize_pool) == (0, 0)
    assert Account.objects.get(pk=cup.escrow_id).balance == 0


def test_team_member_who_is_not_captain_cannot_withdraw_the_team(make_user, client_for):
    cup = team_cup(make_user())
    captain, mate = make_user(funds=100), make_user(funds=100)
    team = team_of(captain, mate)
    join(client_for(captain), cup.pk, {"team": team.pk})
    before = ledger_state(), tournament_state(cup.pk)

    response = leave(client_for(mate), cup.pk)

    assert_error(response, 403, "not_captain")
    assert (ledger_state(), tournament_state(cup.pk)) == before


def test_captain_not_on_the_roster_can_still_withdraw_the_team(make_user, client_for):
    cup = team_cup(make_user())
    captain, mate, third = (make_user(funds=100) for _ in range(3))
    team = team_of(captain, mate, third)
    joined = join(client_for(captain), cup.pk, {"team": team.pk, "members": [mate.pk, third.pk]})
    assert joined.status_code == 201, joined.content
    assert [balance_of(u) for u in (captain, mate, third)] == [100, 100 - FEE, 100 - FEE]

    response = leave(client_for(captain), cup.pk)

    assert response.status_code == 200, response.content
    assert [balance_of(u) for u in (captain, mate, third)] == [100, 100, 100]


def test_roster_member_of_a_captain_not_on_the_roster_cannot_withdraw_the_team(
    make_user, client_for
):
    cup = team_cup(make_user())
    captain, mate, third = (make_user(funds=100) for _ in range(3))
    team = team_of(captain, mate, third)
    join(client_for(captain), cup.pk, {"team": team.pk, "members": [mate.pk, third.pk]})
    before = ledger_state(), tournament_state(cup.pk)

    response = leave(client_for(mate), cup.pk)

    assert_error(response, 403, "not_captain")
    assert (ledger_state(), tournament_state(cup.pk)) == before


def test_leave_when_not_registered_is_409_and_changes_nothing(make_user, client_for):
    cup = solo_cup(make_user())
    join(client_for(make_user(funds=100)), cup.pk)
    outsider = make_user(funds=100)
    before = ledger_state(), tournament_state(cup.pk)

    response = leave(client_for(outsider), cup.pk)

    assert response.status_code == 409, response.content
    assert response.json()["code"]
    assert (ledger_state(), tournament_state(cup.pk)) == before


def test_leave_twice_is_409_the_second_time_and_refunds_once(make_user, client_for):
    cup = solo_cup(make_user())
    player = make_user(funds=100)
    client = client_for(player)
    join(client, cup.pk)
    leave(client, cup.pk)
    before = ledger_state(), tournament_state(cup.pk)

    response = leave(client, cup.pk)

    assert response.status_code == 409, response.content
    assert (ledger_state(), tournament_state(cup.pk)) == before
    assert balance_of(player) == 100


def test_leave_then_join_again_charges_again(make_user, client_for):
    cup = solo_cup(make_user())
    player = make_user(funds=100)
    client = client_for(player)
    join(client, cup.pk)
    leave(client, cup.pk)

    response = join(client, cup.pk)

    assert response.status_code == 201, response.content
    assert balance_of(player) == 100 - FEE


def test_leave_anonymous_is_401(make_user, anon):
    cup = solo_cup(make_user())

    assert_error(leave(anon, cup.pk), 401, "not_authenticated")


def test_leave_repeat_with_same_idempotency_key_refunds_once(make_user, client_for):
    cup = solo_cup(make_user())
    player = make_user(funds=100)
    client = client_for(player)
    join(client, cup.pk)
    first = leave(client, cup.pk, HTTP_IDEMPOTENCY_KEY="leave-1")
    before = ledger_state(), tournament_state(cup.pk)

    repeat = leave(client, cup.pk, HTTP_IDEMPOTENCY_KEY="leave-1")

    assert first.status_code == repeat.status_code == 200
    assert repeat.content == first.content
    assert (ledger_state(), tournament_state(cup.pk)) == before
    assert balance_of(player) == 100


# --- cancel -----------------------------------------------------------------------------------


def test_cancel_by_organizer_is_202_cancelled_and_refunds_everyone(
    make_user, client_for, anon, django_capture_on_commit_callbacks
):
    organizer = make_user()
    cup = team_cup(organizer)
    solo = [make_user(funds=100) for _ in range(2)]
    captain, mate = make_user(funds=100), make_user(funds=100)
    solo_tournament = solo_cup(organizer)
    for player in solo:
        join(client_for(player), solo_tournament.pk)
    join(client_for(captain), cup.pk, {"team": team_of(captain, mate).pk})
    players = [*solo, captain, mate]
    assert [balance_of(p) for p in players] == [100 - FEE] * 4

    with django_capture_on_commit_callbacks(execute=True):  # the refund task runs eagerly
        solo_response = cancel(client_for(organizer), solo_tournament.pk)
        team_response = cancel(client_for(organizer), cup.pk)

    for response in (solo_response, team_response):
        assert response.status_code == 202, response.content
        assert response.json()["status"] == "cancelled"
    assert [balance_of(p) for p in players] == [100] * 4
    for player in players:
        entry = newest_entry(client_for(player))
        assert (entry["kind"], entry["amount"]) == ("refund", FEE)
    for tournament in (solo_tournament, cup):
        detail = anon.get(f"/api/tournaments/{tournament.pk}").json()
        assert detail["status"] == "cancelled"
        assert detail["refunds_pending"] == 0
        assert detail["prize_pool"] == 0
        assert Account.objects.get(pk=tournament.escrow_id).balance == 0


def test_cancel_without_participants_is_202(make_user, client_for):
    organizer = make_user()
    cup = solo_cup(organizer)

    response = cancel(client_for(organizer), cup.pk)

    assert response.status_code == 202, response.content
    assert response.json()["status"] == "cancelled"
    assert response.json()["refunds_pending"] == 0


def test_cancel_by_non_organizer_is_403_and_changes_nothing(
    make_user, client_for, django_capture_on_commit_callbacks
):
    cup = solo_cup(make_user())
    player = make_user(funds=100)
    join(client_for(player), cup.pk)
    before = ledger_state(), tournament_state(cup.pk)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = cancel(client_for(player), cup.pk)

    assert response.status_code == 403, response.content
    assert response.json()["code"]
    assert callbacks == []
    assert (ledger_state(), tournament_state(cup.pk)) == before


def test_cancel_twice_is_409_and_changes_nothing(
    make_user, client_for, django_capture_on_commit_callbacks
):
    organizer = make_user()
    cup = solo_cup(organizer)
    join(client_for(make_user(funds=100)), cup.pk)
    with django_capture_on_commit_callbacks(execute=True):
        cancel(client_for(organizer), cup.pk)
    before = ledger_state(), tournament_state(cup.pk)

    with django_capture_on_commit_callbacks(execute=True):
        response = cancel(client_for(organizer), cup.pk)

    assert response.status_code == 409, response.content
    assert response.json()["code"]
    assert (ledger_state(), tournament_state(cup.pk)) == before


def test_cancel_anonymous_is_401(make_user, anon):
    cup = solo_cup(make_user())
    before = tournament_state(cup.pk)

    assert_error(cancel(anon, cup.pk), 401, "not_authenticated")
    assert tournament_state(cup.pk) == before


def test_cancel_unknown_tournament_is_404(make_user, client_for):
    assert_error(cancel(client_for(make_user()), 987654321), 404, "not_found")


def test_leave_after_cancel_is_409_and_refunds_nothing_more(
    make_user, client_for, django_capture_on_commit_callbacks
):
    organizer = make_user()
    cup = solo_cup(organizer)
    player = make_user(funds=100)
    join(client_for(player), cup.pk)
    with django_capture_on_commit_callbacks(execute=True):
        cancel(client_for(organizer), cup.pk)
    before = ledger_state(), tournament_state(cup.pk)

    response = leave(client_for(player), cup.pk)

    assert response.status_code == 409, response.content
    assert (ledger_state(), tournament_state(cup.pk)) == before
    assert balance_of(player) == 100


# --- events -----------------------------------------------------------------------------------


@pytest.fixture
def eventful_cup(make_user, client_for, django_capture_on_commit_callbacks):
    """Three joins, a leave, a cancel and its refunds: versions 1..6."""
    organizer = make_user()
    cup = solo_cup(organizer)
    alice, bob, carol = (make_user(n, funds=100) for n in ("alice", "bob", "carol"))
    for player in (alice, bob, carol):
        assert join(client_for(player), cup.pk).status_code == 201
    assert leave(client_for(bob), cup.pk).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        assert cancel(client_for(organizer), cup.pk).status_code == 202
    return cup


def test_events_since_zero_lists_every_event_in_order(eventful_cup, anon):
    response = anon.get(f"/api/tournaments/{eventful_cup.pk}/events?since=0")

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"version", "events"}
    assert body["version"] == 6
    assert [(e["version"], e["event"]) for e in body["events"]] == [
        (1, "participant.joined"),
        (2, "participant.joined"),
        (3, "participant.joined"),
        (4, "participant.left"),
        (5, "tournament.cancelled"),
        (6, "refunds.progress"),
    ]
    for event in body["events"]:
        assert set(event) >= {"version", "event", "data", "created_at"}
        assert isinstance(event["data"], dict)
        assert is_utc_iso(event["created_at"])


def test_events_carry_the_changed_objects(eventful_cup, anon):
    events = anon.get(f"/api/tournaments/{eventful_cup.pk}/events").json()["events"]

    joined, left = events[0]["data"], events[3]["data"]
    assert joined["participant"]["name"] == "alice"
    assert joined["participant"]["status"] == "registered"
    assert joined["tournament"]["id"] == eventful_cup.pk
    assert joined["tournament"]["version"] == 1
    assert left["participant"]["name"] == "bob"
    assert left["participant"]["status"] == "left"
    assert events[4]["data"]["tournament"]["status"] == "cancelled"
    assert events[5]["data"]["tournament"]["refunds_pending"] == 0


def test_events_since_v_returns_the_events_after_v_consecutively(eventful_cup, anon):
    body = anon.get(f"/api/tournaments/{eventful_cup.pk}/events?since=3").json()

    assert body["version"] == 6
    assert [e["version"] for e in body["events"]] == [4, 5, 6]


def test_events_since_the_current_version_is_empty(eventful_cup, anon):
    body = anon.get(f"/api/tournaments/{eventful_cup.pk}/events?since=6").json()

    assert body == {"version": 6, "events": []}


def test_events_version_matches_the_tournament_version(eventful_cup, anon):
    detail = anon.get(f"/api/tournaments/{eventful_cup.pk}").json()
    events = anon.get(f"/api/tournaments/{eventful_cup.pk}/events").json()

    assert detail["version"] == events["version"] == 6


def test_events_of_a_new_tournament_are_empty(make_user, anon):
    cup = solo_cup(make_user())

    assert anon.get(f"/api/tournaments/{cup.pk}/events").json() == {"version": 0, "events": []}


def test_refused_join_adds_no_event(make_user, client_for, anon):
    cup = solo_cup(make_user())
    join(client_for(make_user("poor", funds=0)), cup.pk)

    assert anon.get(f"/api/tournaments/{cup.pk}/events").json() == {"version": 0, "events": []}


@pytest.mark.parametrize("since", ["abc", "-1", "1.5", "", "1e3", "99999999999999999999"])
def test_events_bad_since_is_400_with_since_field(make_user, anon, since):
    cup = solo_cup(make_user())

    response = anon.get(f"/api/tournaments/{cup.pk}/events", {"since": since})

    assert "since" in assert_error(response, 400, "invalid")["fields"]


def test_events_since_with_a_unicode_superscript_digit_is_400(make_user, anon):
    anon.raise_request_exception = False
    cup = solo_cup(make_user())

    response = anon.get(f"/api/tournaments/{cup.pk}/events", {"since": "²"})

    assert "since" in assert_error(response, 400, "invalid")["fields"]


def test_events_of_unknown_tournament_is_404(anon):
    assert_error(anon.get("/api/tournaments/987654321/events?since=0"), 404, "not_found")
