"""Teams through the HTTP API: create, detail, invite, accept, remove a member."""

import pytest

from tournaments.models import Team, TeamInvite, TeamMember

pytestmark = pytest.mark.django_db


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def team_state():
    return (
        sorted(Team.objects.values_list("pk", "name", "captain_id")),
        sorted(TeamMember.objects.values_list("team_id", "user_id")),
        sorted(TeamInvite.objects.values_list("team_id", "user_id")),
    )


def create_team(client, name="Rockets"):
    response = client.post("/api/teams", {"name": name}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def member_ids(client, team_id):
    return [m["id"] for m in client.get(f"/api/teams/{team_id}").json()["members"]]


@pytest.fixture
def team_with_invite(make_user, client_for):
    """A team of captain Cap with an open invitation for Ivy; and a stranger, Sam."""
    captain, invited, stranger = make_user("cap"), make_user("ivy"), make_user("sam")
    team = create_team(client_for(captain))
    response = client_for(captain).post(
        f"/api/teams/{team['id']}/invites", {"username": "ivy"}, format="json"
    )
    assert response.status_code == 201, response.content
    return team, captain, invited, stranger


@pytest.fixture
def team_of_two(team_with_invite, client_for):
    team, captain, member, stranger = team_with_invite
    assert client_for(member).post(f"/api/teams/{team['id']}/accept").status_code == 200
    return team, captain, member, stranger


# --- create and detail ------------------------------------------------------------------------


def test_create_team_is_201_and_the_creator_is_captain_and_first_member(make_user, client_for):
    captain = make_user("cap")

    response = client_for(captain).post("/api/teams", {"name": "Rockets"}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    team = Team.objects.get()
    assert body == {
        "id": team.pk,
        "name": "Rockets",
        "captain": captain.pk,
        "members": [{"id": captain.pk, "username": "cap"}],
    }


def test_create_team_anonymous_is_401_and_creates_nothing(anon):
    assert_error(
        anon.post("/api/teams", {"name": "Rockets"}, format="json"), 401, "not_authenticated"
    )
    assert not Team.objects.exists()


@pytest.mark.parametrize(
    "body", [{}, {"name": ""}, {"name": "   "}, {"name": "x" * 101}, {"name": ["Rockets"]}]
)
def test_create_team_invalid_name_is_400_with_name_field(make_user, client_for, body):
    client = client_for(make_user())

    response = client.post("/api/teams", body, format="json")

    assert "name" in assert_error(response, 400, "invalid")["fields"]
    assert not Team.objects.exists()


def test_create_team_name_of_100_characters_is_accepted(make_user, client_for):
    body = create_team(client_for(make_user()), name="x" * 100)

    assert body["name"] == "x" * 100


def test_team_detail_is_public_with_id_name_captain_members(team_of_two, anon):
    team, captain, member, _ = team_of_two

    response = anon.get(f"/api/teams/{team['id']}")

    assert response.status_code == 200, response.content
    assert response.json() == {
        "id": team["id"],
        "name": "Rockets",
        "captain": captain.pk,
        "members": [
            {"id": captain.pk, "username": "cap"},
            {"id": member.pk, "username": "ivy"},
        ],
    }


def test_team_detail_unknown_id_is_404_not_found(anon):
    assert_error(anon.get("/api/teams/987654321"), 404, "not_found")


# --- invites ----------------------------------------------------------------------------------


def test_invite_by_captain_is_201_and_does_not_make_a_member_yet(team_with_invite, anon):
    team, captain, invited, _ = team_with_invite

    assert TeamInvite.objects.filter(team_id=team["id"], user=invited).exists()
    assert member_ids(anon, team["id"]) == [captain.pk]


def test_invite_by_non_captain_is_403_not_captain_and_invites_nobody(team_of_two, client_for):
    team, _, member, stranger = team_of_two
    before = team_state()

    for user in (member, stranger):
        response = client_for(user).post(
            f"/api/teams/{team['id']}/invites", {"username": "sam"}, format="json"
        )
        assert_error(response, 403, "not_captain")

    assert team_state() == before


def test_invite_unknown_username_is_400_and_invites_nobody(team_with_invite, client_for):
    team, captain, _, _ = team_with_invite
    before = team_state()

    response = client_for(captain).post(
        f"/api/teams/{team['id']}/invites", {"username": "nobody"}, format="json"
    )

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"]
    assert body["detail"]
    assert "username" in body["fields"]
    assert team_state() == before


def test_invite_an_existing_member_is_409_and_changes_nothing(team_of_two, client_for):
    team, captain, _, _ = team_of_two
    before = team_state()

    response = client_for(captain).post(
        f"/api/teams/{team['id']}/invites", {"username": "ivy"}, format="json"
    )

    assert response.status_code == 409, response.content
    assert response.json()["code"]
    assert team_state() == before


def test_invite_anonymous_is_401(team_with_invite, anon):
    team, *_ = team_with_invite
    before = team_state()

    response = anon.post(f"/api/teams/{team['id']}/invites", {"username": "sam"}, format="json")

    assert_error(response, 401, "not_authenticated")
    assert team_state() == before


def test_invite_to_unknown_team_is_404_not_found(make_user, client_for):
    make_user("ivy")
    response = client_for(make_user()).post(
        "/api/teams/987654321/invites", {"username": "ivy"}, format="json"
    )

    assert_error(response, 404, "not_found")
    assert not TeamInvite.objects.exists()


# --- accept -----------------------------------------------------------------------------------


def test_accept_by_invited_user_is_200_team_with_them_as_member(team_with_invite, client_for):
    team, captain, invited, _ = team_with_invite

    response = client_for(invited).post(f"/api/teams/{team['id']}/accept")

    assert response.status_code == 200, response.content
    assert response.json() == {
        "id": team["id"],
        "name": "Rockets",
        "captain": captain.pk,
        "members": [
            {"id": captain.pk, "username": "cap"},
            {"id": invited.pk, "username": "ivy"},
        ],
    }
    assert not TeamInvite.objects.exists()


def test_accept_without_invite_is_403_and_changes_nothing(team_with_invite, client_for, anon):
    team, _, _, stranger = team_with_invite
    before = team_state()

    response = client_for(stranger).post(f"/api/teams/{team['id']}/accept")

    assert response.status_code == 403, response.content
    assert response.json()["code"]
    assert response.json()["detail"]
    assert team_state() == before
    assert stranger.pk not in member_ids(anon, team["id"])


def test_accept_twice_is_403_the_second_time(team_of_two, client_for):
    team, _, member, _ = team_of_two
    before = team_state()

    response = client_for(member).post(f"/api/teams/{team['id']}/accept")

    assert response.status_code == 403, response.content
    assert team_state() == before


def test_accept_unknown_team_is_404_not_found(make_user, client_for):
    assert_error(client_for(make_user()).post("/api/teams/987654321/accept"), 404, "not_found")


# --- remove a member --------------------------------------------------------------------------


def test_captain_removes_a_member_204(team_of_two, client_for, anon):
    team, captain, member, _ = team_of_two

    response = client_for(captain).delete(f"/api/teams/{team['id']}/members/{member.pk}")

    assert response.status_code == 204, response.content
    assert member_ids(anon, team["id"]) == [captain.pk]


def test_member_removes_themself_204(team_of_two, client_for, anon):
    team, captain, member, _ = team_of_two

    response = client_for(member).delete(f"/api/teams/{team['id']}/members/{member.pk}")

    assert response.status_code == 204, response.content
    assert member_ids(anon, team["id"]) == [captain.pk]


def test_stranger_removing_a_member_is_403_and_changes_nothing(team_of_two, client_for):
    team, _, member, stranger = team_of_two
    before = team_state()

    response = client_for(stranger).delete(f"/api/teams/{team['id']}/members/{member.pk}")

    assert_error(response, 403, "not_captain")
    assert team_state() == before


def test_member_removing_another_member_is_403(team_of_two, client_for):
    team, captain, member, _ = team_of_two
    before = team_state()

    response = client_for(member).delete(f"/api/teams/{team['id']}/members/{captain.pk}")

    assert response.status_code == 403, response.content
    assert team_state() == before


def test_anonymous_removing_a_member_is_401(team_of_two, anon):
    team, _, member, _ = team_of_two
    before = team_state()

    response = anon.delete(f"/api/teams/{team['id']}/members/{member.pk}")

    assert_error(response, 401, "not_authenticated")
    assert team_state() == before


def test_removing_a_non_member_is_404_and_changes_nothing(team_of_two, client_for):
    team, captain, _, stranger = team_of_two
    before = team_state()

    response = client_for(captain).delete(f"/api/teams/{team['id']}/members/{stranger.pk}")

    assert_error(response, 404, "not_found")
    assert team_state() == before


def test_remove_member_of_unknown_team_is_404_not_found(make_user, client_for):
    user = make_user()

    response = client_for(user).delete(f"/api/teams/987654321/members/{user.pk}")

    assert_error(response, 404, "not_found")


def test_captain_cannot_remove_themself_and_the_team_keeps_its_captain(team_of_two, client_for):
    team, captain, _, _ = team_of_two
    before = team_state()

    response = client_for(captain).delete(f"/api/teams/{team['id']}/members/{captain.pk}")

    assert 400 <= response.status_code < 500
    assert response.json()["code"]
    assert team_state() == before


def test_removed_member_can_be_invited_again_and_rejoin(team_of_two, client_for, anon):
    team, captain, member, _ = team_of_two
    client_for(member).delete(f"/api/teams/{team['id']}/members/{member.pk}")

    invite = client_for(captain).post(
        f"/api/teams/{team['id']}/invites", {"username": "ivy"}, format="json"
    )
    accept = client_for(member).post(f"/api/teams/{team['id']}/accept")

    assert invite.status_code == 201
    assert accept.status_code == 200
    assert member_ids(anon, team["id"]) == [captain.pk, member.pk]
