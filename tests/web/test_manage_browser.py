"""The organizer's console (``/tournaments/{id}/manage``) and the new-tournament form in a
real browser: Debian's Chromium driven by Playwright, against a real daphne serving the
test database (committed rows: ``transaction=True``), one browser context per person.

The organizer signs in through ``/login``; a player through a session cookie made here.
The server of this module does not run its tasks in-process
(``CELERY_TASK_ALWAYS_EAGER=0``, and no worker): a cancellation's refund chunks wait on
the broker, and the test runs them one at a time, as a worker would, to watch the console
count them down. Writes made outside the pages go through the REST API of that server, or
through the services in a thread of their own (``committed``); their events reach the
pages through Redis, as a request's would.
"""

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from conftest import PASSWORD
from matches.models import Match, MatchReport
from matches.services import match_report, tournament_start
from tests.browser import TIMEOUT_MS, Server, committed
from tests.processes import database_url_of_the_tests, free_port
from tests.web.clients import server_password_hash, session_cookie
from tournaments.models import Participant, Tournament
from tournaments.services import (
    tournament_create,
    tournament_join,
    tournament_leave,
    tournament_refunds_chunk,
)
from users.models import User

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = pytest.mark.django_db(transaction=True)

# The docs' picture of the console with a dispute, taken again when UPDATE_SCREENSHOTS=1
# (a run of the suite leaves the working tree as it found it).
SCREENSHOT = Path(settings.BASE_DIR) / "docs" / "screenshots" / "console.png"
DESKTOP = {"width": 1280, "height": 900}
# This server confirms an unanswered report after a minute (the least the setting takes),
# so that a test can watch a report become overdue.
CONFIRMATION_MINUTES = 1


@pytest.fixture(scope="module")
def queued_server(django_db_setup, django_db_blocker, tmp_path_factory):
    """A daphne whose tasks go to the broker (Redis) instead of running in-process."""
    with django_db_blocker.unblock():
        call_command("collectstatic", interactive=False, verbosity=0)
    env = os.environ | {
        "DATABASE_URL": database_url_of_the_tests(),
        "DATABASE_POOL_MAX_SIZE": "0",
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "MATCH_CONFIRMATION_MINUTES": str(CONFIRMATION_MINUTES),
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    live = Server(port=free_port(), env=env, log=tmp_path_factory.mktemp("daphne") / "log")
    live.start()
    yield live
    live.kill()


@pytest.fixture(autouse=True)
def _tasks_wait_on_the_broker(broker):
    """This process publishes its tasks too (``tests.processes.broker``), and what the
    server and this process published is cleared before and after each test."""


@pytest.fixture
def person(new_page, queued_server):
    """``person(user)``: a page in a browser context of its own (``new_page``), signed in
    as ``user`` by a session cookie made here (or anonymous with None)."""

    def open_as(user, *, viewport=None):
        cookies = [session_cookie(user, queued_server)] if user is not None else []
        return new_page(viewport or DESKTOP, cookies=cookies)

    return open_as


@pytest.fixture
def organizer_page(person, queued_server, make_user):
    """The organizer, signed in through ``/login`` in a browser of their own; returns
    (user, page). The password is hashed as the server hashes (the suite's own fast
    hasher is unknown to it), with few iterations."""
    user = make_user("olga")
    User.objects.filter(pk=user.pk).update(password=server_password_hash(PASSWORD))
    page = person(None)
    page.goto(queued_server.url("/login?next=/tournaments/new"))
    page.get_by_label("Username").fill("olga")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    # The server hashes the password again at its full cost on the first sign-in: slow
    # on a busy machine.
    page.wait_for_url("**/tournaments/new", timeout=3 * TIMEOUT_MS)
    return user, page


def open_console(page, server, tournament):
    page.goto(server.url(f"/tournaments/{tournament.pk}/manage"))
    expect(page.locator("#console-live")).to_have_attribute("data-state", "live")
    # Set on this document only: still there after a change, the page was not reloaded.
    page.evaluate("window.sameDocument = true")


def still_same_document(page) -> bool:
    return page.evaluate("window.sameDocument") is True


def token_of(user) -> str:
    return Token.objects.get(user=user).key


def started_cup(make_user, organizer, n=4):
    def make():
        tournament = tournament_create(
            organizer=organizer, name="Night Cup", format="single_elimination", max_participants=n
        )
        for name in ("ana", "ben", "cleo", "dev", "eve", "finn", "gus", "hana")[:n]:
            tournament_join(tournament_id=tournament.pk, user=make_user(name))
        tournament_start(tournament_id=tournament.pk, user=organizer)
        return tournament

    return committed(make)


def first_round(tournament) -> list[Match]:
    return list(
        Match.objects.filter(tournament=tournament, round=1)
        .select_related("participant_a__captain", "participant_b__captain")
        .order_by("position")
    )


def test_the_organizer_creates_a_tournament_and_sees_players_join_live_then_starts_it(
    organizer_page, person, queued_server, make_user
):
    server = queued_server
    organizer, page = organizer_page

    # The form, with a mistake first: the error is said on its field, the input is kept.
    page.get_by_label("Name").fill("Spring Open")
    page.get_by_role("textbox", name="Game").fill("Chess")
    page.get_by_label("Format").select_option(label="Single elimination")
    page.get_by_label("Places").fill("8")
    page.get_by_label("Entry fee (USD)").fill("2.50")
    page.get_by_label("Prize split (%)").fill("70, 20")
    page.get_by_role("button", name="Create tournament").click()
    expect(page.locator('[data-field="prize_split"] .field-error')).to_have_text(
        "The percentages must sum to 100."
    )
    expect(page.get_by_label("Name")).to_have_value("Spring Open")
    expect(page.get_by_label("Entry fee (USD)")).to_have_value("2.50")
    page.get_by_label("Prize split (%)").fill("70, 30")
    page.get_by_role("button", name="Create tournament").click()

    page.wait_for_url("**/manage")
    tournament = Tournament.objects.get(name="Spring Open")
    assert (tournament.organizer_id, tournament.entry_fee, tournament.prize_split) == (
        organizer.pk,
        250,
        [70, 30],
    )
    expect(page.locator("#console-flash")).to_contain_text("Spring Open is open for registration")
    expect(page.locator("#participants-empty")).to_be_visible()
    expect(page.locator("#console-live")).to_have_attribute("data-state", "live")
    page.evaluate("window.sameDocument = true")

    # A player joins from the tournament's page, in a browser of their own...
    ana = make_user("ana", funds=1000)
    player = person(ana)
    player.goto(server.url(f"/tournaments/{tournament.pk}"))
    player.get_by_role("button", name="Join").click()
    entries = page.locator("#participant-list li")
    expect(entries).to_have_count(1)
    expect(entries.nth(0)).to_contain_text("ana")
    expect(page.locator("#participant-count")).to_have_text("1 of 8")
    expect(page.locator("#console-meta")).to_contain_text("1 of 8 registered")
    expect(page.locator("#console-meta")).to_contain_text("prize pool 2.50 USD")

    # ... another through the REST API, a third through the service; one leaves.
    ben, cleo = make_user("ben", funds=1000), make_user("cleo", funds=1000)
    status, _ = server.post(f"/api/tournaments/{tournament.pk}/join", {}, token=token_of(ben))
    assert status == 201
    committed(tournament_join, tournament_id=tournament.pk, user=cleo)
    expect(entries).to_have_count(3)
    expect(entries).to_contain_text(["ana", "ben", "cleo"])
    status, _ = server.post(f"/api/tournaments/{tournament.pk}/leave", {}, token=token_of(ben))
    assert status == 200
    expect(entries).to_have_count(2)
    expect(page.locator("#start-count")).to_have_text("2 registered now.")
    assert still_same_document(page)

    # Start, seeded in order of registration: the console turns to the matches.
    page.get_by_label("In order of registration").check()
    page.get_by_role("button", name="Start").click()
    expect(page.locator("#console-flash")).to_contain_text("Started: the participants are seeded")
    expect(page.locator("#start")).to_be_hidden()
    expect(page.locator("#console-status")).to_have_text("In progress")
    final = Match.objects.get(tournament=tournament)
    row = page.locator(f'#in-play-rows tr[data-match="{final.pk}"]')
    expect(row).to_contain_text("Final")
    expect(row).to_contain_text("ana vs cleo")
    expect(row.get_by_role("link", name="Match room")).to_have_attribute(
        "href", f"/matches/{final.pk}"
    )
    expect(page.get_by_role("link", name="Spectator page")).to_have_attribute(
        "href", f"/tournaments/{tournament.pk}/live"
    )


def test_the_waitlist_shows_live_and_a_promotion_takes_the_freed_place(
    organizer_page, queued_server, make_user
):
    organizer, page = organizer_page
    ana, ben, cleo = (make_user(name) for name in ("ana", "ben", "cleo"))

    def full_pair():
        tournament = tournament_create(
            organizer=organizer, name="Pair Cup", format="single_elimination", max_participants=2
        )
        for user in (ana, ben):
            tournament_join(tournament_id=tournament.pk, user=user)
        return tournament

    tournament = committed(full_pair)
    open_console(page, queued_server, tournament)
    entries = page.locator("#participant-list li")
    expect(entries).to_have_count(2)

    # A third waits: listed last with its place in line, not counted among the registered.
    committed(tournament_join, tournament_id=tournament.pk, user=cleo, waitlist=True)
    expect(entries).to_have_count(3)
    expect(entries.nth(2)).to_contain_text("cleo")
    expect(entries.nth(2).locator('[data-status="waitlisted"]')).to_have_text("waitlisted #1")
    expect(page.locator("#participant-count")).to_have_text("2 of 2")
    expect(page.locator("#console-meta")).to_contain_text("2 of 2 registered")

    # One leaves: the waiting entry takes the place, in the same change.
    committed(tournament_leave, tournament_id=tournament.pk, user=ben)
    expect(entries).to_have_count(2)
    expect(entries).to_contain_text(["ana", "cleo"])
    expect(page.locator('#participant-list [data-status="waitlisted"]')).to_have_count(0)
    expect(page.locator("#participant-count")).to_have_text("2 of 2")
    assert still_same_document(page)


def test_disagreeing_reports_reach_the_queue_live_and_resolving_it_completes_the_match(
    organizer_page, queued_server, make_user
):
    server = queued_server
    organizer, page = organizer_page
    tournament = started_cup(make_user, organizer)
    match, other = first_round(tournament)
    side_a, side_b = match.participant_a, match.participant_b
    open_console(page, server, tournament)
    queue = page.locator("#queue-list .queue-card")
    expect(queue).to_have_count(0)
    expect(page.locator("#queue-empty")).to_be_visible()

    # Side A reports: the match is being confirmed; side B disagrees: it is disputed.
    status, _ = server.post(
        f"/api/matches/{match.pk}/report",
        {"winner": side_a.pk, "scores": [2, 1]},
        token=token_of(side_a.captain),
    )
    assert status == 200
    row = page.locator(f'#in-play-rows tr[data-match="{match.pk}"]')
    expect(row).to_contain_text(f"{side_a.name} reported {side_a.name} won 2–1")
    status, _ = server.post(
        f"/api/matches/{match.pk}/report",
        {"winner": side_b.pk, "scores": [0, 2]},
        token=token_of(side_b.captain),
    )
    assert status == 200

    card = page.locator(f'.queue-card[data-match="{match.pk}"]')
    expect(card).to_be_visible()
    expect(card).to_have_attribute("data-reason", "disputed")
    expect(card.locator("h3")).to_have_text(f"Semifinals: {side_a.name} vs {side_b.name}")
    expect(card.locator(".queue-reports li")).to_contain_text(
        [
            f"{side_a.name} reported: {side_a.name} won 2–1",
            f"{side_b.name} reported: {side_b.name} won 0–2",
        ]
    )
    expect(page.locator("#queue-count")).to_have_text("1")
    expect(row).to_have_count(0)
    assert still_same_document(page)

    # What the organizer types in a card survives the other events that redraw the page.
    card.get_by_label(side_b.name, exact=True).check()
    card.get_by_label(f"Score of {side_a.name}").fill("1")
    status, _ = server.post(
        f"/api/matches/{other.pk}/report",
        {"winner": other.participant_a.pk},
        token=token_of(other.participant_a.captain),
    )
    assert status == 200
    expect(page.locator(f'#in-play-rows tr[data-match="{other.pk}"]')).to_contain_text("reported")
    expect(card.get_by_label(side_b.name, exact=True)).to_be_checked()
    expect(card.get_by_label(f"Score of {side_a.name}")).to_have_value("1")

    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        card.get_by_label(f"Score of {side_b.name}").fill("2")
        page.evaluate("document.activeElement.blur()")
        page.screenshot(path=str(SCREENSHOT), full_page=True)

    # A result that cannot be comes back in words, in the card, with what was typed.
    card.get_by_label(f"Score of {side_b.name}").fill("0")
    card.get_by_role("button", name="Resolve").click()
    card = page.locator(f'.queue-card[data-match="{match.pk}"]')
    expect(card.locator(".form-errors")).to_contain_text(
        f"{side_b.name} won, so their score must be the higher one, not 1–0."
    )
    expect(card.get_by_label(side_b.name, exact=True)).to_be_checked()

    card.get_by_label(f"Score of {side_b.name}").fill("2")
    card.get_by_role("button", name="Resolve").click()

    expect(page.locator("#console-flash")).to_have_text(
        f"Resolved Semifinals: {side_a.name} vs {side_b.name}: {side_b.name} won 1–2."
    )
    expect(page.locator("#queue-list .queue-card")).to_have_count(0)
    result = page.locator(f'#results-rows tr[data-match="{match.pk}"]')
    expect(result).to_contain_text(f"{side_b.name} won 1–2")
    match.refresh_from_db()
    assert (match.status, match.winner_id, match.scores) == ("completed", side_b.pk, [1, 2])
    final = Match.objects.get(pk=match.next_match_id)
    assert side_b.pk in (final.participant_a_id, final.participant_b_id)


def test_an_unanswered_report_joins_the_queue_when_its_deadline_passes(
    organizer_page, queued_server, make_user
):
    server = queued_server
    organizer, page = organizer_page
    tournament = started_cup(make_user, organizer)
    match = first_round(tournament)[0]
    side_a, side_b = match.participant_a, match.participant_b
    committed(
        match_report,
        match_id=match.pk,
        user=side_a.captain,
        winner_id=side_a.pk,
        scores=[3, 0],
    )
    # Made two seconds before the deadline (no event: the page learns it from the time).
    deadline_in = timedelta(minutes=CONFIRMATION_MINUTES) - timedelta(seconds=2)
    MatchReport.objects.filter(match=match).update(
        at=MatchReport.objects.get(match=match).at - deadline_in
    )

    open_console(page, server, tournament)
    expect(page.locator(f'#in-play-rows tr[data-match="{match.pk}"]')).to_contain_text(
        "confirmed automatically at"
    )

    card = page.locator(f'.queue-card[data-match="{match.pk}"]')
    expect(card).to_have_attribute("data-reason", "overdue", timeout=5_000)
    expect(card.locator(".queue-reason")).to_contain_text(f"{side_b.name} did not answer by")
    expect(page.locator(f'#in-play-rows tr[data-match="{match.pk}"]')).to_have_count(0)
    assert still_same_document(page)


def test_cancel_asks_first_then_counts_the_refunds_down_live(
    organizer_page, queued_server, make_user
):
    server = queued_server
    organizer, page = organizer_page

    def make():
        tournament = tournament_create(
            organizer=organizer,
            name="Paid Cup",
            format="double_elimination",
            max_participants=8,
            entry_fee=500,
        )
        for i in range(6):
            player = make_user(f"payer{i + 1}", funds=500)
            tournament_join(tournament_id=tournament.pk, user=player)
        return tournament

    tournament = committed(make)
    open_console(page, server, tournament)
    expect(page.locator("#console-meta")).to_contain_text("prize pool 30.00 USD")

    page.get_by_role("button", name="Cancel tournament").click()
    # Asked in place, nothing sent yet.
    expect(page.locator("#cancel-confirm")).to_be_visible()
    expect(page.locator("#cancel-yes")).to_be_focused()
    assert still_same_document(page)
    page.get_by_role("link", name="No, keep it").click()
    expect(page.locator("#cancel-confirm")).to_be_hidden()
    assert Tournament.objects.get(pk=tournament.pk).status == "registration"
    page.get_by_role("button", name="Cancel tournament").click()
    page.get_by_role("button", name="Yes, cancel the tournament").click()

    expect(page.locator("#console-flash")).to_have_text(
        "Paid Cup is cancelled: the entry fees of its 6 participants are being refunded."
    )
    expect(page.locator("#refunds")).to_be_visible()
    expect(page.locator("#refunds-text")).to_have_text("0 of 6 refunded, 6 to go.")
    expect(page.locator("#cancel")).to_be_hidden()
    expect(page.locator("#console-live")).to_have_attribute("data-state", "live")
    page.evaluate("window.sameDocument = true")

    # No worker runs here: the first chunk waits on the broker. Run the chunks as a worker
    # would, two participants each, and watch the console count down.
    for done, text in [
        (2, "2 of 6 refunded, 4 to go."),
        (4, "4 of 6 refunded, 2 to go."),
        (6, "All 6 entry fees are refunded."),
    ]:
        committed(tournament_refunds_chunk, tournament_id=tournament.pk, limit=2)
        expect(page.locator("#refunds-text")).to_have_text(text)
        expect(page.locator("#refunds-progress")).to_have_attribute("value", str(done))
        expect(page.locator('#participant-list .tag[data-status="refunded"]')).to_have_count(done)
    assert still_same_document(page)
    assert not Participant.objects.filter(tournament=tournament, status="registered").exists()
