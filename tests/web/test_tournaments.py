"""The tournament pages (web/views/tournaments.py), server-rendered, no JavaScript: the list
at ``/`` and ``/tournaments``, and a tournament's page with its "Join" and "Leave" forms."""

import html
import re

import pytest
from django.test import Client

from matches.services import tournament_start
from tournaments.models import Participant, Tournament
from tournaments.services import (
    team_accept,
    team_create,
    team_invite,
    tournament_cancel,
    tournament_create,
    tournament_join,
    tournament_refunds_chunk,
)
from wallets.models import Account, Entry
from web.views.tournaments import TOURNAMENTS_PER_PAGE

pytestmark = pytest.mark.django_db


@pytest.fixture
def client():
    return Client()


@pytest.fixture
def make_tournament(make_user):
    organizer = make_user("organizer")
    names = iter(range(1, 10**6))

    def make(*, status: str | None = None, **fields) -> Tournament:
        fields = {
            "name": f"Cup {next(names)}",
            "format": "single_elimination",
            "max_participants": 8,
        } | fields
        tournament = tournament_create(organizer=organizer, **fields)
        if status is not None:
            # Only the list's reading of the status is under test here, not how it is reached.
            Tournament.objects.filter(pk=tournament.pk).update(status=status)
        return tournament

    return make


def listed(response) -> list[int]:
    """The tournaments on the page, in order."""
    assert response.status_code == 200, response.content[:500]
    return [int(pk) for pk in re.findall(r'<tr data-tournament="(\d+)"', response.text)]


def row(response, tournament: Tournament) -> str:
    match = re.search(rf'<tr data-tournament="{tournament.pk}">(.*?)</tr>', response.text, re.S)
    assert match, f"tournament {tournament.pk} is not listed"
    return match.group(1)


def test_home_lists_tournaments_newest_first_each_linking_to_its_live_page(client, make_tournament):
    first = make_tournament(name="Spring Open", game="Chess")
    second = make_tournament(format="double_elimination", team_size=2, max_participants=16)
    third = make_tournament(format="swiss", status="in_progress")

    response = client.get("/")

    assert response["Content-Type"].startswith("text/html")
    assert listed(response) == [third.pk, second.pk, first.pk]
    for tournament in (first, second, third):
        assert f'<a href="/tournaments/{tournament.pk}/live">{tournament.name}</a>' in row(
            response, tournament
        )
    assert "Chess" in row(response, first)
    assert "Single elimination" in row(response, first)
    assert "Double elimination, teams of 2" in row(response, second)
    assert "0 / 16" in row(response, second)
    assert ">Registration open</span>" in row(response, first)
    assert ">In progress</span>" in row(response, third)
    # No JavaScript needed: the page has none.
    assert "<script" not in response.text


def test_money_is_shown_in_the_currency_not_in_cents(client, make_tournament, make_user, settings):
    settings.CURRENCY = "EUR"
    paid = make_tournament(entry_fee=1250)
    tournament_join(tournament_id=paid.pk, user=make_user(funds=5000))
    free = make_tournament()
    big = make_tournament(entry_fee=5)
    Tournament.objects.filter(pk=big.pk).update(prize_pool=123_456_789)

    response = client.get("/")

    assert re.findall(r"12\.50 EUR", row(response, paid)) == ["12.50 EUR", "12.50 EUR"]
    assert ">1250<" not in row(response, paid)
    assert "1 / 8" in row(response, paid)
    assert ">Free<" in row(response, free) and "0.00 EUR" in row(response, free)
    assert "0.05 EUR" in row(response, big) and "1,234,567.89 EUR" in row(response, big)


@pytest.mark.parametrize("status", Tournament.Status.values)
def test_the_status_filter_lists_only_that_status(client, make_tournament, status):
    by_status = {value: make_tournament(status=value) for value in Tournament.Status.values}

    response = client.get("/", {"status": status})

    assert listed(response) == [by_status[status].pk]
    assert f'<option value="{status}" selected>' in response.text
    assert '<label for="status">Status</label>' in response.text


@pytest.mark.parametrize("value", ["finished", "REGISTRATION", "<script>alert(1)</script>"])
def test_an_unknown_status_lists_every_tournament_and_says_so(client, make_tournament, value):
    tournaments = [make_tournament(status=status) for status in ("registration", "completed")]

    response = client.get("/", {"status": value})

    assert listed(response) == [t.pk for t in reversed(tournaments)]
    assert "There is no status" in response.text
    assert "<script>alert" not in response.text  # echoed escaped
    assert '<option value="" selected>All</option>' in response.text


def test_an_empty_list_says_how_tournaments_are_made(client, make_tournament):
    response = client.get("/")
    assert listed(response) == []
    assert "No tournaments yet." in response.text

    make_tournament(status="completed")
    response = client.get("/", {"status": "cancelled"})
    assert listed(response) == []
    assert "No tournament has the status “Cancelled”." in response.text


def test_pages_of_50_newest_first_keep_the_filter(client, make_tournament):
    tournaments = [make_tournament() for _ in range(TOURNAMENTS_PER_PAGE + 2)]
    make_tournament(status="completed")  # filtered out below
    newest_first = [t.pk for t in reversed(tournaments)]

    first_page = client.get("/", {"status": "registration"})
    assert listed(first_page) == newest_first[:TOURNAMENTS_PER_PAGE]
    assert "Page 1 of 2" in first_page.text
    assert 'href="?status=registration&amp;page=2" rel="next">Next page</a>' in first_page.text
    assert 'rel="prev"' not in first_page.text

    second_page = client.get("/", {"status": "registration", "page": 2})
    assert listed(second_page) == newest_first[TOURNAMENTS_PER_PAGE:]
    assert 'href="?status=registration" rel="prev">Previous page</a>' in second_page.text
    assert 'rel="next"' not in second_page.text


@pytest.mark.parametrize(("page", "shown"), [("abc", 1), ("0", 2), ("-1", 2), ("999", 2), ("", 1)])
def test_a_page_that_is_not_one_shows_the_first_or_the_last(client, make_tournament, page, shown):
    for _ in range(TOURNAMENTS_PER_PAGE + 1):
        make_tournament()
    response = client.get("/", {"page": page})
    assert f"Page {shown} of 2" in response.text


def test_a_one_page_list_has_no_page_links(client, make_tournament):
    make_tournament()
    response = client.get("/")
    assert 'aria-label="Pages"' not in response.text


@pytest.mark.parametrize("size", [1, TOURNAMENTS_PER_PAGE + 10])
def test_the_page_costs_two_queries_whatever_the_number_of_tournaments(
    client, make_tournament, django_assert_num_queries, size
):
    for _ in range(size):
        make_tournament()
    # The count for the pages, and one page of rows.
    with django_assert_num_queries(2):
        response = client.get("/", {"status": "registration"})
    assert len(listed(response)) == min(size, TOURNAMENTS_PER_PAGE)


def test_only_reading_is_allowed(client):
    assert client.head("/").status_code == 200
    response = client.post("/", {"status": "completed"})
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"


def test_the_page_is_styled_and_the_stylesheet_is_served(client):
    """With DEBUG off (as the suite runs) the stylesheet comes from collectstatic's
    manifest, served by WhiteNoise."""
    response = client.get("/")
    stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)">', response.text).group(1)
    assert re.fullmatch(r"/static/web/web\.[0-9a-f]{12}\.css", stylesheet), stylesheet
    served = client.get(stylesheet)
    assert served.status_code == 200
    assert served["Content-Type"].startswith("text/css")


# --- /tournaments and a tournament's page (issue 12) ----------------------------------------


def balance(user) -> int:
    return Account.objects.get(user=user).balance


def ledger_lines() -> int:
    return Entry.objects.count()


def page_error(response) -> str:
    match = re.search(r'<p class="notice" role="alert" id="page-error">(.*?)</p>', response.text)
    assert match, f"no error on the page ({response.status_code})"
    return html.unescape(match.group(1))


def flash(response) -> str:
    match = re.search(r'<div class="messages"[^>]*>(.*?)</div>', response.text, re.S)
    return re.sub(r"<[^>]+>", "", match.group(1)) if match else ""


def registered(tournament) -> list[str]:
    return sorted(
        Participant.objects.filter(tournament=tournament, status="registered").values_list(
            "name", flat=True
        )
    )


@pytest.fixture
def signed_in(make_user):
    """A client signed in as a new user (made with ``make_user``'s arguments)."""

    def sign_in(*args, **kwargs):
        user = make_user(*args, **kwargs)
        browser = Client()
        browser.force_login(user)
        return browser, user

    return sign_in


def test_tournaments_is_the_same_list_as_home(client, make_tournament):
    tournaments = [make_tournament(), make_tournament(status="completed")]

    response = client.get("/tournaments")

    assert listed(response) == [t.pk for t in reversed(tournaments)]
    assert listed(client.get("/tournaments", {"status": "completed"})) == [tournaments[1].pk]
    assert 'aria-current="page">Tournaments</a>' in response.text


def test_each_listed_tournament_links_to_its_page(client, make_tournament):
    open_cup = make_tournament()
    done = make_tournament(status="completed")

    response = client.get("/")

    assert f'href="/tournaments/{open_cup.pk}">Details and joining' in row(response, open_cup)
    assert f'href="/tournaments/{done.pk}">Details<span' in row(response, done)


def test_the_page_shows_the_tournament_its_money_and_its_links(client, make_tournament, make_user):
    cup = make_tournament(
        name="Spring Open",
        game="Chess",
        format="double_elimination",
        max_participants=8,
        entry_fee=1250,
        prize_split=[60, 30, 10],
    )
    for name in ("ann", "bob", "cid"):
        tournament_join(tournament_id=cup.pk, user=make_user(name, funds=5000))

    response = client.get(f"/tournaments/{cup.pk}")

    assert response.status_code == 200
    text = response.text
    assert "<h1>Spring Open</h1>" in text
    assert ">Registration open</span>" in text
    assert "<dd>Chess</dd>" in text and "<dd>Double elimination</dd>" in text
    assert '<dd id="participant-count">3 of 8</dd>' in text
    assert '<dd id="entry-fee">12.50 USD</dd>' in text
    assert '<dd id="prize-pool">37.50 USD</dd>' in text
    # 60/30/10 of 3,750 cents, rounded down, the rest to 1st.
    places = re.findall(r"<li><strong>(\w+)</strong> (\d+)% · ([\d.,]+) USD</li>", text)
    assert places == [("1st", "60", "22.50"), ("2nd", "30", "11.25"), ("3rd", "10", "3.75")]
    assert "<dd>organizer</dd>" in text
    assert f'<a class="button-link" href="/tournaments/{cup.pk}/live">Watch live</a>' in text
    assert "/manage" not in text  # only for its organizer
    assert [
        re.sub(r"<.*", "", name) for name in re.findall(r'data-label="Player">(.*?)</th>', text)
    ] == [
        "ann",
        "bob",
        "cid",
    ]
    # Anonymous: how to take part, and no form to post.
    assert f'href="/login?next=%2Ftournaments%2F{cup.pk}">Sign in</a>' in text
    assert f'action="/tournaments/{cup.pk}/join"' not in text


def test_a_free_tournament_without_a_pool_shows_the_split_in_percent(client, make_tournament):
    cup = make_tournament(prize_split=[70, 30])
    text = client.get(f"/tournaments/{cup.pk}").text
    assert '<dd id="entry-fee">Free</dd>' in text
    assert re.findall(r"<li><strong>(\w+)</strong> (\d+)%</li>", text) == [
        ("1st", "70"),
        ("2nd", "30"),
    ]


def test_team_rosters_are_shown(client, make_tournament, make_user):
    cup = make_tournament(team_size=2)
    captain, mate = make_user("cap"), make_user("mate")
    team = team_create(user=captain, name="Red")
    team_invite(team_id=team.pk, by_user=captain, username="mate")
    team_accept(team_id=team.pk, user=mate)
    tournament_join(tournament_id=cup.pk, user=captain, team_id=team.pk)

    text = client.get(f"/tournaments/{cup.pk}").text

    assert 'data-label="Team">Red</th>' in text
    assert '<td data-label="Roster" class="roster">cap, mate</td>' in text


def test_only_the_organizer_sees_the_console_link(signed_in, make_user):
    browser, organizer = signed_in("boss")
    cup = tournament_create(organizer=organizer, name="Cup", format="swiss", max_participants=4)

    text = browser.get(f"/tournaments/{cup.pk}").text
    assert f'href="/tournaments/{cup.pk}/manage">Manage</a>' in text

    other, _ = signed_in()
    assert "/manage" not in other.get(f"/tournaments/{cup.pk}").text


def test_an_unknown_tournament_is_an_html_404(client):
    response = client.get("/tournaments/987654321")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert "There is nothing here" in response.text


# --- Join and leave ---------------------------------------------------------------------


def test_a_player_joins_from_the_page_and_pays_the_fee(signed_in, make_tournament, settings):
    settings.CURRENCY = "EUR"
    cup = make_tournament(name="Friday Cup", entry_fee=1250)
    browser, player = signed_in("alice", funds=5000)

    page = browser.get(f"/tournaments/{cup.pk}")
    assert re.search(r'id="your-balance">50\.00 EUR<', page.text)
    assert ">Join</button>" in page.text and ">Leave</button>" not in page.text

    response = browser.post(f"/tournaments/{cup.pk}/join")

    assert response.status_code == 303 and response["Location"] == f"/tournaments/{cup.pk}"
    assert balance(player) == 5000 - 1250
    assert registered(cup) == ["alice"]
    after = browser.get(f"/tournaments/{cup.pk}")
    assert (
        flash(after)
        == "You joined Friday Cup. The entry fee of 12.50 EUR was paid from your wallet."
    )
    assert "You play in this tournament." in after.text
    assert ">Leave</button>" in after.text and ">Join</button>" not in after.text
    assert '<tr data-participant="' in after.text and 'class="mine"' in after.text


def test_a_player_leaves_and_is_refunded(signed_in, make_tournament):
    cup = make_tournament(name="Friday Cup", entry_fee=1250)
    browser, player = signed_in("alice", funds=5000)
    tournament_join(tournament_id=cup.pk, user=player)

    response = browser.post(f"/tournaments/{cup.pk}/leave")

    assert response.status_code == 303
    assert balance(player) == 5000
    assert registered(cup) == []
    assert flash(browser.get(f"/tournaments/{cup.pk}")) == (
        "You left Friday Cup. Your entry fee of 12.50 USD was refunded."
    )


def test_signed_out_join_and_leave_go_to_the_sign_in_page(client, make_tournament):
    cup = make_tournament()
    for action in ("join", "leave"):
        response = client.post(f"/tournaments/{cup.pk}/{action}")
        assert response.status_code == 302
        assert response["Location"] == f"/login?next=/tournaments/{cup.pk}"
    assert registered(cup) == []


def test_join_and_leave_are_post_only(signed_in, make_tournament):
    cup = make_tournament()
    browser, _ = signed_in()
    for action in ("join", "leave"):
        assert browser.get(f"/tournaments/{cup.pk}/{action}").status_code == 405
    assert registered(cup) == []


def test_join_without_the_csrf_token_is_refused_and_charges_nothing(make_tournament, make_user):
    cup = make_tournament(entry_fee=100)
    player = make_user(funds=500)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(player)

    assert browser.post(f"/tournaments/{cup.pk}/join").status_code == 403
    assert registered(cup) == [] and balance(player) == 500

    token = re.search(
        r'name="csrfmiddlewaretoken" value="([^"]+)"', browser.get(f"/tournaments/{cup.pk}").text
    ).group(1)
    assert (
        browser.post(f"/tournaments/{cup.pk}/join", {"csrfmiddlewaretoken": token}).status_code
        == 303
    )
    assert balance(player) == 400

    assert browser.post(f"/tournaments/{cup.pk}/leave").status_code == 403
    assert balance(player) == 400


def test_a_player_short_of_the_fee_is_told_so_and_nothing_moves(signed_in, make_tournament):
    cup = make_tournament(entry_fee=1250)
    browser, player = signed_in(funds=1000)
    assert "That is not enough to join." in browser.get(f"/tournaments/{cup.pk}").text
    lines = ledger_lines()

    response = browser.post(f"/tournaments/{cup.pk}/join")

    assert response.status_code == 409
    assert page_error(response).startswith("Your wallet holds less than the entry fee of 12.50 USD")
    assert balance(player) == 1000 and ledger_lines() == lines and registered(cup) == []
    assert ">Join</button>" in response.text  # can try again after a deposit


def test_a_full_tournament_says_so(signed_in, make_tournament, make_user):
    cup = make_tournament(max_participants=2)
    for _ in range(2):
        tournament_join(tournament_id=cup.pk, user=make_user())
    browser, player = signed_in(funds=100)

    page = browser.get(f"/tournaments/{cup.pk}")
    assert "This tournament is full: every place is taken." in page.text
    assert ">Join</button>" not in page.text

    response = browser.post(f"/tournaments/{cup.pk}/join")  # a page loaded before it filled
    assert response.status_code == 409
    assert page_error(response) == "This tournament is full: every place is taken."
    assert len(registered(cup)) == 2


@pytest.mark.parametrize("status", ["in_progress", "completed", "cancelled"])
def test_a_closed_tournament_refuses_joins_in_words(signed_in, make_tournament, status):
    cup = make_tournament(status=status)
    browser, _ = signed_in(funds=100)

    assert ">Join</button>" not in browser.get(f"/tournaments/{cup.pk}").text
    response = browser.post(f"/tournaments/{cup.pk}/join")
    assert response.status_code == 409
    assert page_error(response) == (
        "Registration for this tournament is closed: it has started, finished or been cancelled."
    )
    assert registered(cup) == []


def test_joining_twice_says_you_already_joined_and_charges_once(signed_in, make_tournament):
    cup = make_tournament(entry_fee=100)
    browser, player = signed_in(funds=500)
    browser.post(f"/tournaments/{cup.pk}/join")

    response = browser.post(f"/tournaments/{cup.pk}/join")  # a double click, a second tab

    assert response.status_code == 409
    assert page_error(response) == "You have already joined this tournament."
    assert balance(player) == 400


def test_leaving_without_having_joined_says_so(signed_in, make_tournament):
    cup = make_tournament()
    browser, _ = signed_in()
    response = browser.post(f"/tournaments/{cup.pk}/leave")
    assert response.status_code == 409
    assert page_error(response) == (
        "You are not registered in this tournament, so there is nothing to leave."
    )


def test_leaving_a_started_tournament_is_refused_and_refunds_nothing(
    signed_in, make_user, make_tournament
):
    browser, player = signed_in(funds=500)
    organizer = make_user()
    cup = tournament_create(
        organizer=organizer, name="Cup", format="swiss", max_participants=4, entry_fee=100
    )
    tournament_join(tournament_id=cup.pk, user=player)
    tournament_join(tournament_id=cup.pk, user=make_user(funds=100))
    tournament_start(tournament_id=cup.pk, user=organizer)

    page = browser.get(f"/tournaments/{cup.pk}")
    assert ">Leave</button>" not in page.text
    assert "Registration is closed: the tournament is under way." in page.text

    response = browser.post(f"/tournaments/{cup.pk}/leave")
    assert response.status_code == 409
    assert page_error(response).startswith("The tournament has started or ended")
    assert balance(player) == 400


def test_a_cancelled_tournament_shows_the_refunds(client, make_user):
    organizer = make_user()
    cup = tournament_create(
        organizer=organizer, name="Cup", format="swiss", max_participants=4, entry_fee=100
    )
    tournament_join(tournament_id=cup.pk, user=make_user("ann", funds=100))
    tournament_cancel(tournament_id=cup.pk, user=organizer)

    text = client.get(f"/tournaments/{cup.pk}").text
    assert "This tournament was cancelled; entry fees are refunded." in text
    assert '<td data-label="Fee">Refund pending</td>' in text

    tournament_refunds_chunk(tournament_id=cup.pk)  # the background task's work
    assert '<td data-label="Fee">Refunded</td>' in client.get(f"/tournaments/{cup.pk}").text


def test_an_unknown_tournament_join_is_a_404_and_changes_nothing(signed_in):
    browser, player = signed_in(funds=100)
    assert browser.post("/tournaments/987654321/join").status_code == 404
    assert balance(player) == 100


# --- Team entries -------------------------------------------------------------------------


@pytest.fixture
def team_of(make_user):
    """``team_of("Red", captain, *members)``: a team whose members accepted."""

    def make(name, captain, *members):
        team = team_create(user=captain, name=name)
        for member in members:
            team_invite(team_id=team.pk, by_user=captain, username=member.username)
            team_accept(team_id=team.pk, user=member)
        return team

    return make


def test_a_captain_enters_a_team_with_the_roster_they_choose(
    signed_in, make_user, make_tournament, team_of
):
    cup = make_tournament(name="Duo Cup", team_size=2, entry_fee=300)
    browser, captain = signed_in("cap", funds=1000)
    mate, bench = make_user("mate", funds=1000), make_user("bench", funds=1000)
    red = team_of("Red", captain, mate, bench)

    page = browser.get(f"/tournaments/{cup.pk}")
    form = f'action="/tournaments/{cup.pk}/join" class="team-entry" data-team="{red.pk}">'
    assert form in page.text
    assert "<legend>Red: the roster</legend>" in page.text
    # Three players for two places: none is chosen for the captain.
    assert " checked" not in page.text

    response = browser.post(
        f"/tournaments/{cup.pk}/join", {"team": red.pk, "members": [mate.pk, bench.pk]}
    )

    assert response.status_code == 303
    participant = Participant.objects.get(tournament=cup)
    assert participant.name == "Red"
    assert sorted(participant.roster.values_list("user__username", flat=True)) == ["bench", "mate"]
    assert (balance(captain), balance(mate), balance(bench)) == (1000, 700, 700)
    after = browser.get(f"/tournaments/{cup.pk}")
    assert (
        flash(after) == "Red joined Duo Cup. Each of its 2 players paid the entry fee of 3.00 USD."
    )
    # The captain, who does not play, may still withdraw the team.
    assert "Leaving withdraws <strong>Red</strong>" in after.text

    assert browser.post(f"/tournaments/{cup.pk}/leave").status_code == 303
    assert (balance(mate), balance(bench)) == (1000, 1000)


def test_a_team_of_the_right_size_is_chosen_whole(signed_in, make_user, make_tournament, team_of):
    cup = make_tournament(team_size=2)
    browser, captain = signed_in("cap")
    mate = make_user("mate")
    team_of("Red", captain, mate)

    text = browser.get(f"/tournaments/{cup.pk}").text
    assert text.count(" checked>") == 2


def test_a_roster_of_the_wrong_size_is_refused_and_keeps_the_choice(
    signed_in, make_user, make_tournament, team_of
):
    cup = make_tournament(team_size=3, entry_fee=100)
    browser, captain = signed_in("cap", funds=500)
    mate = make_user("mate", funds=500)
    red = team_of("Red", captain, mate, make_user("third", funds=500))
    lines = ledger_lines()

    response = browser.post(
        f"/tournaments/{cup.pk}/join", {"team": red.pk, "members": [captain.pk, mate.pk]}
    )

    assert response.status_code == 400
    assert page_error(response) == ("The roster has 2 players; this tournament needs exactly 3.")
    assert registered(cup) == [] and ledger_lines() == lines
    assert f'value="{captain.pk}" checked>' in response.text
    assert f'value="{mate.pk}" checked>' in response.text


def test_a_roster_member_short_of_the_fee_is_named(signed_in, make_user, make_tournament, team_of):
    cup = make_tournament(team_size=2, entry_fee=500)
    browser, captain = signed_in("cap", funds=1000)
    poor = make_user("poor", funds=120)
    red = team_of("Red", captain, poor)
    lines = ledger_lines()

    response = browser.post(
        f"/tournaments/{cup.pk}/join", {"team": red.pk, "members": [captain.pk, poor.pk]}
    )

    assert response.status_code == 409
    assert page_error(response) == (
        "Every player of the roster pays the entry fee of 5.00 USD, and not all can: "
        "poor has 1.20 USD."
    )
    assert (balance(captain), balance(poor)) == (1000, 120)
    assert ledger_lines() == lines and registered(cup) == []


def test_a_roster_member_already_playing_is_named(signed_in, make_user, make_tournament, team_of):
    cup = make_tournament(team_size=2)
    browser, captain = signed_in("cap")
    busy = make_user("busy")
    red = team_of("Red", captain, busy)
    blue = team_of("Blue", make_user("other"), busy)
    tournament_join(tournament_id=cup.pk, user=blue.captain, team_id=blue.pk)

    response = browser.post(
        f"/tournaments/{cup.pk}/join", {"team": red.pk, "members": [captain.pk, busy.pk]}
    )

    assert response.status_code == 409
    assert page_error(response) == (
        "busy already plays in this tournament. A player plays for only one participant in a "
        "tournament."
    )
    assert registered(cup) == ["Blue"]


@pytest.mark.parametrize("case", ["not_captain", "stranger", "no_members", "no_team"])
def test_a_forged_team_entry_is_refused_and_changes_nothing(
    signed_in, make_user, make_tournament, team_of, case
):
    cup = make_tournament(team_size=2)
    browser, captain = signed_in("cap")
    mate = make_user("mate")
    red = team_of("Red", captain, mate)
    someone_elses = team_of("Blue", make_user("boss"), make_user("x"))
    data = {
        "not_captain": {"team": someone_elses.pk, "members": [captain.pk, mate.pk]},
        "stranger": {"team": red.pk, "members": [captain.pk, someone_elses.captain_id]},
        "no_members": {"team": red.pk},
        "no_team": {"members": [captain.pk, mate.pk]},
    }[case]

    response = browser.post(f"/tournaments/{cup.pk}/join", data)

    assert response.status_code == 400
    assert page_error(response)
    assert registered(cup) == []


def test_a_player_captaining_no_team_is_shown_how_to_make_one(signed_in, make_tournament):
    cup = make_tournament(team_size=2)
    browser, _ = signed_in()
    text = browser.get(f"/tournaments/{cup.pk}").text
    assert 'You captain none yet: <a href="/teams/new">create a team</a>' in text
    assert ">Join</button>" not in text


def test_a_team_member_who_is_not_captain_is_told_who_withdraws(
    signed_in, make_user, make_tournament, team_of
):
    cup = make_tournament(team_size=2)
    browser, mate = signed_in("mate")
    captain = make_user("cap")
    red = team_of("Red", captain, mate)
    tournament_join(tournament_id=cup.pk, user=captain, team_id=red.pk)

    page = browser.get(f"/tournaments/{cup.pk}")
    assert "You play in this tournament for <strong>Red</strong>." in page.text
    assert "Your captain can withdraw the team" in page.text
    assert ">Leave</button>" not in page.text

    response = browser.post(f"/tournaments/{cup.pk}/leave")
    assert response.status_code == 403
    assert page_error(response) == "Only your team's captain can withdraw the team."
    assert registered(cup) == ["Red"]


# --- Query counts ---------------------------------------------------------------------------


@pytest.mark.parametrize("size", [2, 40])
def test_the_page_costs_the_same_queries_whatever_the_participants(
    client, make_tournament, make_user, django_assert_num_queries, size
):
    cup = make_tournament(max_participants=64, entry_fee=10)
    for _ in range(size):
        tournament_join(tournament_id=cup.pk, user=make_user(funds=10))

    # The tournament and its organizer, the participants, their rosters.
    with django_assert_num_queries(3):
        response = client.get(f"/tournaments/{cup.pk}")
    assert response.text.count('<tr data-participant="') == size

    viewer = make_user(funds=100)
    client.force_login(viewer)
    # And the session, the user, the viewer's wallet.
    with django_assert_num_queries(6):
        client.get(f"/tournaments/{cup.pk}")


@pytest.mark.parametrize("size", [1, 12])
def test_a_team_tournament_page_costs_the_same_queries_whatever_the_teams(
    signed_in, make_tournament, make_user, team_of, django_assert_num_queries, size
):
    cup = make_tournament(team_size=3, max_participants=64)
    for i in range(size):
        captain = make_user()
        team = team_of(f"T{i}", captain, make_user(), make_user())
        tournament_join(tournament_id=cup.pk, user=captain, team_id=team.pk)
    browser, captain = signed_in()
    for i in range(size):
        team_of(f"Mine {i}", captain, make_user(), make_user())

    # Session, user, the tournament, participants, rosters, the captain's teams.
    with django_assert_num_queries(6):
        response = browser.get(f"/tournaments/{cup.pk}")
    assert response.text.count('class="team-entry"') == size
    assert response.text.count('<tr data-participant="') == size
