"""Fixtures shared by the pages' tests: tournaments for the test client's tests
(``test_manage.py``, ``test_matches.py``), pages of their own for the browser tests."""

import pytest

from matches.services import tournament_start
from tests.browser import TIMEOUT_MS
from tournaments.services import tournament_create, tournament_join


@pytest.fixture
def organizer(make_user):
    return make_user("organizer")


@pytest.fixture
def cup(make_user, organizer):
    """``cup(n)``: a solo tournament of the organizer's with ``n`` registered players,
    started unless ``start=False``; returns it.

    The players are ``players`` first, if given, then new ones named ``p<k>-<i>`` (the
    k-th cup, its i-th player), each funded with the entry fee. ``places`` (at least 2)
    defaults to ``n``; other keywords go to ``tournament_create``."""
    counter = iter(range(1, 10**6))

    def make(n=4, *, start=True, format="single_elimination", places=None, players=None, **fields):
        number = next(counter)
        tournament = tournament_create(
            organizer=organizer,
            name=f"Cup {number}",
            format=format,
            max_participants=places or max(n, 2),
            **fields,
        )
        for i in range(n):
            if players and i < len(players):
                user = players[i]
            else:
                user = make_user(f"p{number}-{i + 1}", funds=fields.get("entry_fee", 0))
            tournament_join(tournament_id=tournament.pk, user=user)
        if start:
            tournament_start(tournament_id=tournament.pk, user=organizer)
        return tournament

    return make


@pytest.fixture
def new_page(browser):
    """``new_page(viewport, cookies=[...], javascript=True, **options)``: a page in a
    browser context of its own (one a person: their own cookies; ``options`` are the
    context's others, e.g. ``timezone_id``, ``locale``), which fails the test on any
    JavaScript error. The contexts are closed when the test ends."""
    opened = []

    def open_page(viewport: dict, *, cookies=(), javascript: bool = True, **options):
        context = browser.new_context(viewport=viewport, java_script_enabled=javascript, **options)
        if cookies:
            context.add_cookies(list(cookies))
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        opened.append((context, errors))
        return page

    yield open_page
    for context, _ in opened:
        context.close()
    assert [error for _, errors in opened for error in errors] == []
