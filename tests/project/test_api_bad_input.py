"""Hostile and careless input through the HTTP API: always a 4xx JSON error, never a 5xx.

Every client in this file answers a server error with a 500 response instead of raising,
so that a test can assert on the status like a real client would see it.
"""

import json

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from tournaments.models import Team, TeamInvite, Tournament
from tournaments.services import team_create, tournament_create
from users.models import User
from wallets.models import Account, Entry, Posting

pytestmark = pytest.mark.django_db

MISSING = 987654321
HUGE = 10**30  # beyond any database integer


def ledger_state():
    return (
        list(Account.objects.order_by("pk").values_list("pk", "balance")),
        Entry.objects.count(),
        Posting.objects.count(),
    )


def world_state():
    """Everything a bad request could have written."""
    return (
        ledger_state(),
        User.objects.count(),
        Team.objects.count(),
        TeamInvite.objects.count(),
        list(Tournament.objects.order_by("pk").values_list("pk", "participant_count", "version")),
    )


def assert_error(response, status, code=None):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert isinstance(body, dict), body
    assert isinstance(body.get("code"), str) and body["code"], body
    assert isinstance(body.get("detail"), str) and body["detail"], body
    if code is not None:
        assert body["code"] == code, body
    return body


@pytest.fixture
def world(make_user, client_for):
    """A staff member, a player with money, a team, a solo and a team tournament."""
    staff = make_user("staff")
    User.objects.filter(pk=staff.pk).update(is_staff=True)
    player = make_user("player", funds=1000)
    make_user("friend", funds=1000)
    team = team_create(user=player, name="Rockets")
    solo = tournament_create(
        organizer=staff, name="Solo", format="swiss", max_participants=8, entry_fee=10
    )
    duo = tournament_create(
        organizer=staff, name="Duo", format="swiss", max_participants=8, entry_fee=10, team_size=2
    )
    clients = {"staff": client_for(staff), "player": client_for(player), "anon": APIClient()}
    for client in clients.values():
        client.raise_request_exception = False
    return {
        "clients": clients,
        "player": player,
        "team": team,
        "solo": solo,
        "duo": duo,
    }


def endpoints(world):
    """(who, path) for every POST endpoint that reads a JSON object."""
    return [
        ("anon", "/api/auth/register"),
        ("anon", "/api/auth/token"),
        ("player", "/api/teams"),
        ("player", f"/api/teams/{world['team'].pk}/invites"),
        ("player", "/api/tournaments"),
        ("player", f"/api/tournaments/{world['solo'].pk}/join"),
        ("player", f"/api/tournaments/{world['duo'].pk}/join"),
        ("staff", f"/api/wallets/{world['player'].pk}/deposits"),
    ]


ENDPOINT_IDS = ["register", "token", "team", "invite", "tournament", "join", "team-join", "deposit"]


def post_raw(client, path, data, content_type="application/json"):
    return client.generic("POST", path, data, content_type=content_type)


# --- malformed JSON ----------------------------------------------------------------------------


@pytest.mark.parametrize("index", range(8), ids=ENDPOINT_IDS)
@pytest.mark.parametrize(
    "raw",
    [b"{", b'{"amount": }', b"{'name': 'single quotes'}", b'{"a": 1,}', b"\xff\xfe{}", b"NaN"],
    ids=["unclosed", "missing-value", "single-quotes", "trailing-comma", "not-utf8", "nan"],
)
def test_malformed_json_is_400_malformed_json_and_changes_nothing(world, index, raw):
    who, path = endpoints(world)[index]
    before = world_state()

    response = post_raw(world["clients"][who], path, raw)

    assert_error(response, 400, "malformed_json")
    assert world_state() == before


@pytest.mark.parametrize("index", range(8), ids=ENDPOINT_IDS)
def test_json_number_with_thousands_of_digits_is_400(world, index):
    who, path = endpoints(world)[index]
    before = world_state()

    response = post_raw(world["clients"][who], path, b'{"amount": 1' + b"0" * 5000 + b"}")

    assert_error(response, 400)
    assert world_state() == before


@pytest.mark.parametrize("index", [0, 5], ids=["register", "join"])
def test_deeply_nested_json_is_400_malformed_json(world, index):
    who, path = endpoints(world)[index]
    before = world_state()

    response = post_raw(world["clients"][who], path, b"[" * 100_000 + b"]" * 100_000)

    assert_error(response, 400, "malformed_json")
    assert world_state() == before


# --- JSON that is not an object ----------------------------------------------------------------


@pytest.mark.parametrize("index", range(8), ids=ENDPOINT_IDS)
@pytest.mark.parametrize(
    "raw",
    [b"[]", b'[{"name": "x"}]', b'"a string"', b"42", b"true", b"null"],
    ids=["empty-array", "array", "string", "number", "bool", "null"],
)
def test_json_that_is_not_an_object_is_400_and_changes_nothing(world, index, raw):
    who, path = endpoints(world)[index]
    before = world_state()

    response = post_raw(world["clients"][who], path, raw)

    body = assert_error(response, 400)
    assert body["code"] != "malformed_json"  # valid JSON, just not the shape asked for
    assert world_state() == before


# --- wrong types -------------------------------------------------------------------------------


WRONG_TYPES = [
    ("anon", "/api/auth/register", {"username": ["alice"], "password": "Str0ng-pass"}, "username"),
    ("anon", "/api/auth/register", {"username": "alice", "password": {"a": 1}}, "password"),
    ("anon", "/api/auth/register", {"username": "alice", "password": "Str0ng-pass",
                                    "email": 5}, "email"),
    ("anon", "/api/auth/register", {"username": "al\x00ice", "password": "Str0ng-pass"},
     "username"),
    ("anon", "/api/auth/token", {"username": {"u": 1}, "password": "x"}, "username"),
    ("anon", "/api/auth/token", {"username": "player", "password": "bad\x00"}, "password"),
    ("player", "/api/teams", {"name": {"n": 1}}, "name"),
    ("player", "/api/teams", {"name": "Nul\x00Team"}, "name"),
    ("player", "/api/teams/{team}/invites", {"username": ["friend"]}, "username"),
    ("player", "/api/tournaments", {"name": "Cup", "format": "swiss", "max_participants": "many"},
     "max_participants"),
    ("player", "/api/tournaments", {"name": "Cup", "format": "swiss", "max_participants": HUGE},
     "max_participants"),
    ("player", "/api/tournaments", {"name": "Cup", "format": "swiss", "max_participants": 8,
                                    "entry_fee": HUGE}, "entry_fee"),
    ("player", "/api/tournaments", {"name": "Cup", "format": "swiss", "max_participants": 8,
                                    "team_size": True}, "team_size"),
    ("player", "/api/tournaments", {"name": "Cup", "format": ["swiss"], "max_participants": 8},
     "format"),
    ("player", "/api/tournaments", {"name": "Cup", "format": "swiss", "max_participants": 8,
                                    "prize_split": ["first"]}, "prize_split"),
    ("player", "/api/tournaments", {"name": "Cup", "format": "swiss", "max_participants": 8,
                                    "prize_split": {"1": 100}}, "prize_split"),
    ("player", "/api/tournaments/{duo}/join", {"team": "Rockets"}, "team"),
    ("player", "/api/tournaments/{duo}/join", {"team": {"id": 1}}, "team"),
    ("player", "/api/tournaments/{duo}/join", {"team": "{team}", "members": "1,2"}, "members"),
    ("player", "/api/tournaments/{duo}/join", {"team": "{team}", "members": ["a"]}, "members"),
    ("player", "/api/tournaments/{duo}/join", {"team": -1}, "team"),
    ("staff", "/api/wallets/{player}/deposits", {"amount": HUGE}, "amount"),
    ("staff", "/api/wallets/{player}/deposits", {"amount": "1e3"}, "amount"),
]  # fmt: skip


@pytest.mark.parametrize("who,path,body,field", WRONG_TYPES)
def test_wrong_types_are_400_naming_the_field_and_change_nothing(world, who, path, body, field):
    ids = {"team": world["team"].pk, "duo": world["duo"].pk, "player": world["player"].pk}
    path = path.format(**ids)
    body = {k: int(v.format(**ids)) if v == "{team}" else v for k, v in body.items()}
    before = world_state()

    response = world["clients"][who].post(path, body, format="json")

    assert field in assert_error(response, 400, "invalid")["fields"]
    assert world_state() == before


def test_form_encoded_body_is_a_json_4xx_and_changes_nothing(world):
    before = world_state()

    response = post_raw(
        world["clients"]["player"],
        "/api/teams",
        b"name=Rockets",
        "application/x-www-form-urlencoded",
    )

    assert 400 <= response.status_code < 500
    assert_error(response, response.status_code)
    assert world_state() == before


# --- unknown ids and paths ---------------------------------------------------------------------


UNKNOWN_IDS = [
    ("anon", "GET", "/api/tournaments/{id}"),
    ("anon", "GET", "/api/tournaments/{id}/events"),
    ("anon", "GET", "/api/teams/{id}"),
    ("player", "POST", "/api/tournaments/{id}/join"),
    ("player", "POST", "/api/tournaments/{id}/leave"),
    ("player", "POST", "/api/tournaments/{id}/cancel"),
    ("player", "POST", "/api/teams/{id}/accept"),
    ("player", "POST", "/api/teams/{id}/invites"),
    ("player", "DELETE", "/api/teams/{id}/members/1"),
    ("player", "DELETE", "/api/teams/{team}/members/{id}"),
    ("staff", "POST", "/api/wallets/{id}/deposits"),
]


@pytest.mark.parametrize("missing", [MISSING, HUGE, 0], ids=["missing", "huge", "zero"])
@pytest.mark.parametrize("who,method,path", UNKNOWN_IDS)
def test_unknown_ids_are_404_not_found_json(world, who, method, path, missing):
    path = path.format(id=missing, team=world["team"].pk)
    body = {"amount": 1} if "deposits" in path else {"username": "friend"}
    before = world_state()

    response = world["clients"][who].generic(
        method,
        path,
        b"{}" if method == "DELETE" else json.dumps(body),
        content_type="application/json",
    )

    assert_error(response, 404, "not_found")
    assert world_state() == before


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/api/nope"),
        ("GET", "/api/"),
        ("GET", "/api/tournaments/"),  # REST paths have no trailing slash
        ("GET", "/api/tournaments/abc"),
        ("GET", "/api/tournaments/-1"),
        ("GET", "/api/teams/1/members"),
        ("POST", "/api/nope"),
        ("PUT", "/api/tournaments/1/nope"),
        ("DELETE", "/api/wallet/nope"),
    ],
)
def test_unknown_api_paths_are_404_json(world, method, path):
    response = world["clients"]["player"].generic(method, path)

    assert_error(response, 404, "not_found")


def test_unknown_api_path_post_from_a_real_client_is_404_json(world):
    client = APIClient(enforce_csrf_checks=True)
    client.raise_request_exception = False

    response = client.post("/api/nope", {"a": 1}, format="json")

    assert_error(response, 404, "not_found")


@pytest.mark.parametrize(
    "method,path",
    [
        ("PUT", "/api/me"),
        ("DELETE", "/api/wallet"),
        ("GET", "/api/tournaments/{solo}/join"),
        ("PUT", "/api/tournaments/{solo}"),  # PATCH edits it (issue 13); PUT does not
        ("GET", "/api/teams"),
    ],
)
def test_wrong_method_is_a_json_405(world, method, path):
    path = path.format(solo=world["solo"].pk)
    before = world_state()

    response = world["clients"]["staff"].generic(method, path)

    assert_error(response, 405, "method_not_allowed")
    assert world_state() == before


@pytest.mark.parametrize(
    "header", ["Token", "Token a b", "Token " + "x" * 40, "Bearer abc"], ids=str
)
def test_bad_authorization_header_is_a_json_401(header):
    client = APIClient()
    client.raise_request_exception = False
    client.credentials(HTTP_AUTHORIZATION=header)

    response = client.get("/api/me")

    assert_error(response, 401)


@pytest.mark.parametrize(
    "query",
    ["limit=abc", "limit=-5", "limit=0", "limit=99999999999999999999", "status=%00",
     "status=", "cursor=garbage"],
)  # fmt: skip
def test_odd_list_queries_never_5xx(world, query):
    for path in ("/api/tournaments", "/api/wallet/entries"):
        response = world["clients"]["player"].get(f"{path}?{query}")
        assert response.status_code < 500, (path, query, response.content)
        if response.status_code >= 400:
            assert_error(response, response.status_code)


# --- the done-when scenario ----------------------------------------------------------------------


def test_rest_client_story_every_balance_returns_to_where_it_started(
    monkeypatch, django_capture_on_commit_callbacks
):
    """Players register, staff fund them, two teams join a team tournament, one leaves,
    the organizer cancels: every wallet is back where it was after funding."""
    http = APIClient()
    http.raise_request_exception = False

    def as_user(token):
        client = APIClient()
        client.raise_request_exception = False
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        return client

    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "Staff-pass-0123")
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "staff@example.com")
    call_command("createsuperuser", "--noinput", "--username", "banker", verbosity=0)
    staff_login = http.post(
        "/api/auth/token", {"username": "banker", "password": "Staff-pass-0123"}, format="json"
    )
    assert staff_login.status_code == 200, staff_login.content
    staff = as_user(staff_login.json()["token"])

    players = {}
    for name in ("organizer", "ann", "amy", "bob", "ben"):
        response = http.post(
            "/api/auth/register",
            {"username": name, "password": f"{name}-Pass-2024!"},
            format="json",
        )
        assert response.status_code == 201, response.content
        players[name] = {"id": response.json()["id"], "client": as_user(response.json()["token"])}
    for funds, name in enumerate(("ann", "amy", "bob", "ben"), start=1):
        response = staff.post(
            f"/api/wallets/{players[name]['id']}/deposits",
            {"amount": 100 * funds},
            format="json",
            HTTP_IDEMPOTENCY_KEY=f"fund-{name}",
        )
        assert response.status_code == 201, response.content

    def balances():
        return {
            name: player["client"].get("/api/wallet").json()["balance"]
            for name, player in players.items()
        }

    start = balances()
    assert start == {"organizer": 0, "ann": 100, "amy": 200, "bob": 300, "ben": 400}

    created = players["organizer"]["client"].post(
        "/api/tournaments",
        {"name": "Duo Cup", "format": "double_elimination", "team_size": 2,
         "max_participants": 4, "entry_fee": 75, "prize_split": [70, 30]},
        format="json",
    )  # fmt: skip
    assert created.status_code == 201, created.content
    cup = created.json()["id"]

    teams = {}
    for captain, mate, team_name in (("ann", "amy", "A-Team"), ("bob", "ben", "B-Team")):
        team = players[captain]["client"].post("/api/teams", {"name": team_name}, format="json")
        assert team.status_code == 201, team.content
        team_id = team.json()["id"]
        invite = players[captain]["client"].post(
            f"/api/teams/{team_id}/invites", {"username": mate}, format="json"
        )
        assert invite.status_code == 201, invite.content
        accept = players[mate]["client"].post(f"/api/teams/{team_id}/accept")
        assert accept.status_code == 200, accept.content
        teams[captain] = team_id

    for captain in ("ann", "bob"):
        joined = players[captain]["client"].post(
            f"/api/tournaments/{cup}/join",
            {"team": teams[captain]},
            format="json",
            HTTP_IDEMPOTENCY_KEY=f"join-{captain}",
        )
        assert joined.status_code == 201, joined.content
    assert balances() == {"organizer": 0, "ann": 25, "amy": 125, "bob": 225, "ben": 325}
    assert http.get(f"/api/tournaments/{cup}").json()["prize_pool"] == 300

    left = players["bob"]["client"].post(
        f"/api/tournaments/{cup}/leave", format="json", HTTP_IDEMPOTENCY_KEY="leave-bob"
    )
    assert left.status_code == 200, left.content
    assert balances() == {"organizer": 0, "ann": 25, "amy": 125, "bob": 300, "ben": 400}

    with django_capture_on_commit_callbacks(execute=True):  # the refund task runs eagerly
        cancelled = players["organizer"]["client"].post(f"/api/tournaments/{cup}/cancel")
    assert cancelled.status_code == 202, cancelled.content
    assert cancelled.json()["status"] == "cancelled"

    assert balances() == start
    detail = http.get(f"/api/tournaments/{cup}").json()
    assert detail["status"] == "cancelled"
    assert detail["refunds_pending"] == 0
    assert detail["prize_pool"] == 0
    events = http.get(f"/api/tournaments/{cup}/events?since=0").json()
    assert [e["event"] for e in events["events"]] == [
        "participant.joined",
        "participant.joined",
        "participant.left",
        "tournament.cancelled",
        "refunds.progress",
    ]
    assert [e["version"] for e in events["events"]] == [1, 2, 3, 4, 5]
    for name in ("ann", "amy"):
        kinds = [
            e["kind"] for e in players[name]["client"].get("/api/wallet/entries").json()["results"]
        ]
        assert kinds == ["refund", "entry_fee", "deposit"]
