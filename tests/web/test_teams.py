"""The team pages (web/views/teams.py): ``/teams``, ``/teams/new`` and ``/teams/{id}``, with
create, invite, accept, leave and remove; CSRF on every form; constant query counts."""

import html
import re

import pytest
from django.test import Client

from tournaments.models import NAME_MAX_LENGTH, Team, TeamInvite, TeamMember
from tournaments.services import team_accept, team_create, team_invite

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(make_user):
    def sign_in(*args, **kwargs):
        user = make_user(*args, **kwargs)
        browser = Client()
        browser.force_login(user)
        return browser, user

    return sign_in


@pytest.fixture
def team_of():
    """``team_of("Red", captain, *members)``: a team whose members accepted."""

    def make(name, captain, *members):
        team = team_create(user=captain, name=name)
        for member in members:
            team_invite(team_id=team.pk, by_user=captain, username=member.username)
            team_accept(team_id=team.pk, user=member)
        return team

    return make


def members(team) -> list[str]:
    return list(
        TeamMember.objects.filter(team=team).order_by("pk").values_list("user__username", flat=True)
    )


def invited(team) -> list[str]:
    return sorted(TeamInvite.objects.filter(team=team).values_list("user__username", flat=True))


def page_error(response) -> str:
    match = re.search(r'<p class="notice" role="alert" id="page-error">(.*?)</p>', response.text)
    assert match, f"no error on the page ({response.status_code})"
    return html.unescape(match.group(1))


def flash(response) -> str:
    match = re.search(r'<div class="messages"[^>]*>(.*?)</div>', response.text, re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", match.group(1))) if match else ""


def field_errors(response) -> str:
    found = re.findall(r'<ul class="errorlist"[^>]*>(.*?)</ul>', response.text, re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", " ".join(found)))


# --- Create -----------------------------------------------------------------------------------


def test_a_player_creates_a_team_and_captains_it(signed_in):
    browser, captain = signed_in("cap")

    form = browser.get("/teams/new")
    assert '<label for="id_name">Team name</label>' in form.text

    response = browser.post("/teams/new", {"name": "Red Rockets"})

    team = Team.objects.get(name="Red Rockets")
    assert response.status_code == 303 and response["Location"] == f"/teams/{team.pk}"
    assert team.captain == captain and members(team) == ["cap"]
    page = browser.get(f"/teams/{team.pk}")
    assert flash(page) == "You created Red Rockets. Invite its players by their usernames."
    assert "<h1>Red Rockets</h1>" in page.text
    assert '<span class="you">captain</span>' in page.text
    assert ">Invite</button>" in page.text


@pytest.mark.parametrize(
    "name, message",
    [("", "Name the team."), ("x" * (NAME_MAX_LENGTH + 1), "at most 100 characters")],
)
def test_a_bad_team_name_is_refused_on_its_field_and_makes_nothing(signed_in, name, message):
    browser, _ = signed_in()

    response = browser.post("/teams/new", {"name": name})

    assert response.status_code == 400
    assert message in field_errors(response)
    assert not Team.objects.exists()


def test_teams_lists_my_teams_and_invitations_with_a_create_form(signed_in, make_user, team_of):
    browser, me = signed_in("me")
    mine = team_of("Mine", me, make_user("friend"))
    theirs = team_of("Theirs", make_user("boss"), me)
    team_of("Unrelated", make_user("stranger"))
    inviting = team_create(user=make_user("host"), name="Inviting")
    team_invite(team_id=inviting.pk, by_user=inviting.captain, username="me")

    text = browser.get("/teams").text

    cards = re.findall(r'<li class="panel" data-team="(\d+)">', text)
    assert cards == [str(mine.pk), str(theirs.pk)]
    assert "2 players: me, friend" in text and "2 players: boss, me" in text
    assert "Unrelated" not in text
    assert re.search(
        rf'<li data-team="{inviting.pk}">\s*<a href="/teams/{inviting.pk}">Inviting</a>\s*'
        r'<span class="aside">from host</span>',
        text,
    )
    assert f'action="/teams/{inviting.pk}/accept"' in text
    assert 'action="/teams/new"' in text


def test_team_pages_need_a_sign_in_for_anything_but_reading(client, make_user, team_of):
    team = team_of("Red", make_user("cap"), make_user("mate"))

    for path in ("/teams", "/teams/new"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"] == f"/login?next={path}"
    for action in ("invite", "accept", "leave", f"members/{team.captain_id}/remove"):
        response = client.post(f"/teams/{team.pk}/{action}", {"username": "x"})
        assert response.status_code == 302
        assert response["Location"] == f"/login?next=/teams/{team.pk}"

    page = client.get(f"/teams/{team.pk}")
    assert page.status_code == 200
    assert re.findall(r'<span class="member-name">(\w+)</span>', page.text) == ["cap", "mate"]
    assert 'id="invites"' not in page.text and "<form" not in page.text.split("</header>")[1]


def test_an_unknown_team_is_an_html_404(signed_in):
    browser, _ = signed_in()
    response = browser.get("/teams/987654321")
    assert response.status_code == 404
    assert "There is nothing here" in response.text
    assert browser.post("/teams/987654321/accept").status_code == 404
    assert browser.post("/teams/987654321/invite", {"username": "x"}).status_code == 404


# --- Invite, accept -------------------------------------------------------------------------


def test_the_captain_invites_and_the_player_accepts(signed_in, make_user):
    captain_browser, captain = signed_in("cap")
    team = team_create(user=captain, name="Red")
    player_browser, player = signed_in("newbie")

    response = captain_browser.post(f"/teams/{team.pk}/invite", {"username": "newbie"})
    assert response.status_code == 303
    assert invited(team) == ["newbie"]
    page = captain_browser.get(f"/teams/{team.pk}")
    assert flash(page) == "newbie is invited. They accept on this page."
    assert f'<li data-user="{player.pk}">newbie' in page.text

    # The invited player sees the invitation on the team's page, and accepts.
    seen = player_browser.get(f"/teams/{team.pk}")
    assert "You are invited" in seen.text
    assert player_browser.post(f"/teams/{team.pk}/accept").status_code == 303
    assert members(team) == ["cap", "newbie"] and invited(team) == []
    after = player_browser.get(f"/teams/{team.pk}")
    assert flash(after) == "You are now a member of Red."
    assert ">Leave team</button>" in after.text


def test_inviting_an_unknown_username_is_named_on_the_field(signed_in):
    browser, captain = signed_in()
    team = team_create(user=captain, name="Red")

    response = browser.post(f"/teams/{team.pk}/invite", {"username": "ghost"})

    assert response.status_code == 400
    assert "No such user." in field_errors(response)
    assert 'value="ghost"' in response.text
    assert invited(team) == []


def test_inviting_a_member_says_so(signed_in, make_user, team_of):
    browser, captain = signed_in("cap")
    team = team_of("Red", captain, make_user("mate"))

    response = browser.post(f"/teams/{team.pk}/invite", {"username": "mate"})

    assert response.status_code == 409
    assert page_error(response) == "mate is already a member of Red."
    assert invited(team) == []


def test_only_the_captain_invites(signed_in, make_user, team_of):
    browser, mate = signed_in("mate")
    team = team_of("Red", make_user("cap"), mate)
    make_user("friend")

    assert ">Invite</button>" not in browser.get(f"/teams/{team.pk}").text
    response = browser.post(f"/teams/{team.pk}/invite", {"username": "friend"})

    assert response.status_code == 403
    assert page_error(response) == "Only the team's captain can do this."
    assert invited(team) == []


def test_accepting_without_an_invitation_is_refused(signed_in, make_user):
    browser, _ = signed_in()
    team = team_create(user=make_user(), name="Red")

    response = browser.post(f"/teams/{team.pk}/accept")

    assert response.status_code == 403
    assert page_error(response).startswith("You have no invitation to this team")
    assert len(members(team)) == 1


def test_invitations_are_shown_to_members_only(signed_in, make_user, team_of):
    captain = make_user("cap")
    team = team_of("Red", captain, make_user("mate"))
    team_invite(team_id=team.pk, by_user=captain, username=make_user("invitee").username)
    stranger, _ = signed_in("stranger")

    assert "invitee" not in stranger.get(f"/teams/{team.pk}").text
    member = Client()
    member.force_login(team.memberships.get(user__username="mate").user)
    assert "invitee" in member.get(f"/teams/{team.pk}").text


# --- Leave, remove --------------------------------------------------------------------------


def test_a_member_leaves_the_team(signed_in, make_user, team_of):
    browser, mate = signed_in("mate")
    team = team_of("Red", make_user("cap"), mate)

    response = browser.post(f"/teams/{team.pk}/leave")

    assert response.status_code == 303
    assert members(team) == ["cap"]
    assert flash(browser.get(f"/teams/{team.pk}")) == "You left Red."


def test_the_captain_cannot_leave(signed_in, make_user, team_of):
    browser, captain = signed_in("cap")
    team = team_of("Red", captain, make_user("mate"))
    assert ">Leave team</button>" not in browser.get(f"/teams/{team.pk}").text

    response = browser.post(f"/teams/{team.pk}/leave")

    assert response.status_code == 409
    assert page_error(response) == "The captain cannot leave the team."
    assert members(team) == ["cap", "mate"]


def test_the_captain_removes_a_member_and_nobody_else_can(signed_in, make_user, team_of):
    browser, captain = signed_in("cap")
    mate, other = make_user("mate"), make_user("other")
    team = team_of("Red", captain, mate, other)
    page = browser.get(f"/teams/{team.pk}").text
    assert f'action="/teams/{team.pk}/members/{mate.pk}/remove"' in page
    assert f'action="/teams/{team.pk}/members/{captain.pk}/remove"' not in page

    mate_browser = Client()
    mate_browser.force_login(mate)
    refused = mate_browser.post(f"/teams/{team.pk}/members/{other.pk}/remove")
    assert refused.status_code == 403
    assert members(team) == ["cap", "mate", "other"]

    response = browser.post(f"/teams/{team.pk}/members/{mate.pk}/remove")
    assert response.status_code == 303
    assert members(team) == ["cap", "other"]
    assert flash(browser.get(f"/teams/{team.pk}")) == "mate is no longer in Red."

    gone = browser.post(f"/teams/{team.pk}/members/{mate.pk}/remove")
    assert gone.status_code == 404
    assert page_error(gone) == "That player is not a member of this team (any more)."


# --- CSRF and methods -----------------------------------------------------------------------


def test_every_team_form_needs_its_csrf_token(make_user, team_of):
    captain, mate = make_user("cap"), make_user("mate")
    team = team_of("Red", captain, mate)
    team_invite(team_id=team.pk, by_user=captain, username=make_user("invitee").username)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(captain)

    for path, data in [
        ("/teams/new", {"name": "Blue"}),
        (f"/teams/{team.pk}/invite", {"username": "mate"}),
        (f"/teams/{team.pk}/members/{mate.pk}/remove", {}),
    ]:
        assert browser.post(path, data).status_code == 403, path
    assert Team.objects.count() == 1 and members(team) == ["cap", "mate"]

    invitee = Client(enforce_csrf_checks=True)
    invitee.force_login(team.invites.get().user)
    assert invitee.post(f"/teams/{team.pk}/accept").status_code == 403
    assert invited(team) == ["invitee"]

    member = Client(enforce_csrf_checks=True)
    member.force_login(mate)
    assert member.post(f"/teams/{team.pk}/leave").status_code == 403
    assert members(team) == ["cap", "mate"]

    token = re.search(
        r'name="csrfmiddlewaretoken" value="([^"]+)"', browser.get("/teams/new").text
    ).group(1)
    assert (
        browser.post("/teams/new", {"name": "Blue", "csrfmiddlewaretoken": token}).status_code
        == 303
    )


def test_team_actions_are_post_only(signed_in, make_user):
    browser, captain = signed_in()
    team = team_create(user=captain, name="Red")
    for action in ("invite", "accept", "leave", f"members/{captain.pk}/remove"):
        assert browser.get(f"/teams/{team.pk}/{action}").status_code == 405


# --- Query counts ---------------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 15])
def test_the_team_page_costs_the_same_queries_whatever_the_members(
    signed_in, make_user, team_of, django_assert_num_queries, size
):
    browser, captain = signed_in("cap")
    team = team_of("Red", captain, *[make_user() for _ in range(size)])
    for _ in range(size):
        team_invite(team_id=team.pk, by_user=captain, username=make_user().username)

    # Session, user, the team with its members, its invitations.
    with django_assert_num_queries(4):
        response = browser.get(f"/teams/{team.pk}")
    assert response.text.count('<span class="member-name">') == size + 1


@pytest.mark.parametrize("size", [1, 10])
def test_my_teams_cost_the_same_queries_whatever_their_number(
    signed_in, make_user, team_of, django_assert_num_queries, size
):
    browser, me = signed_in("me")
    for i in range(size):
        team_of(f"Mine {i}", me, make_user(), make_user())
        other = team_create(user=make_user(), name=f"Other {i}")
        team_invite(team_id=other.pk, by_user=other.captain, username="me")

    # Session, user, the teams with their members, the invitations with their teams.
    with django_assert_num_queries(4):
        response = browser.get("/teams")
    assert response.text.count('<li class="panel" data-team=') == size
    assert response.text.count("/accept") == size
