"""The tournaments list at ``/`` (web/views/tournaments.py): server-rendered, no JavaScript."""

import re

import pytest
from django.test import Client

from tournaments.models import Tournament
from tournaments.services import tournament_create, tournament_join
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
