"""The console's start plan (``#start-plan`` of ``/tournaments/{id}/manage``) and its
waitlist's numbers kept live in a real browser: Debian's Chromium driven by Playwright,
against a real daphne serving the test database (committed rows: ``transaction=True``).

While the organizer watches, players join, check in, wait and leave, and the organizer
moves the start and turns the automatic start and the check-in off and on, through the
services in a thread of their own (``committed``), as other people's requests would; their
events reach the page through Redis. After each change the plan must say, without a
reload, exactly what the server says on one (read through the organizer's session).

The browser reads its clock in a zone of its own and speaks German: the plan's times are
still the server's zone's (UTC here), in the template's English words.
"""

import html
import re
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from tests.browser import TIMEOUT_MS, committed
from tests.web.clients import session_cookie
from tournaments.services import (
    tournament_check_in,
    tournament_create,
    tournament_join,
    tournament_leave,
    tournament_update,
)

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = pytest.mark.django_db(transaction=True)

PLAN = {
    "starts_at": "plan-starts-at",
    "auto_start": "plan-auto-start",
    "check_in": "plan-check-in",
    "waitlist": "plan-waitlist",
}
# Far from the server's UTC, and not by whole hours.
BROWSER_ZONE = "Asia/Kolkata"
FEE = 100
AUTOMATIC = "Automatically at the start time, seeded in order of registration"
REMOVED = "those not checked in at the start are removed and refunded."
WAITING = "they take places that free up; those still waiting at the start are removed."


@pytest.fixture
def console_page(new_page, server):
    """``console_page(user)``: a page signed in as ``user``, in a browser context whose
    clock reads in ``BROWSER_ZONE`` and whose language is German; it fails the test on any
    JavaScript error."""

    def open_as(user):
        return new_page(
            {"width": 1280, "height": 900},
            cookies=[session_cookie(user, server)],
            timezone_id=BROWSER_ZONE,
            locale="de-DE",
        )

    return open_as


def when(moment: datetime) -> str:
    """As manage.html writes a time of the plan: "j M Y, H:i" and the zone (UTC)."""
    return f"{moment.day} {moment:%b %Y, %H:%M} UTC"


def check_in_words(starts_at: datetime, *, open_now: bool, checked_in: int, registered: int):
    opens = starts_at - timedelta(minutes=30)
    return (
        f"Opens 30 minutes before the start, at {when(opens)}{' (open now)' if open_now else ''}. "
        f"{checked_in} of {registered} checked in; {REMOVED}"
    )


def server_plan(page, server, tournament) -> dict[str, tuple[str, list[str]]]:
    """What a reload shows: each of the plan's lines as the server renders the console now
    (its words, and the instants of its <time>s), read with the page's session without
    running the page's script."""
    response = page.request.get(server.url(f"/tournaments/{tournament.pk}/manage"))
    assert response.status == 200
    body = response.text()
    lines = {}
    for name, dd in PLAN.items():
        found = re.search(rf'<dd id="{dd}">(.*?)</dd>', body, re.S)
        assert found, f"no #{dd} in the console"
        times = re.findall(r'<time datetime="([^"]+)">', found.group(1))
        lines[name] = (html.unescape(re.sub(r"<[^>]+>", "", found.group(1))), times)
    return lines


def instants(texts: list[str]) -> list[datetime]:
    return [datetime.fromisoformat(text) for text in texts]


def plan_says(page, server, tournament, expected: dict[str, str]) -> None:
    """The live plan comes to say ``expected`` (waiting for the events), the same words
    as a reload's, its times the same instants; and the page was not reloaded."""
    for name, words in expected.items():
        expect(page.locator(f"#{PLAN[name]}")).to_have_text(words, timeout=TIMEOUT_MS)
    reload = server_plan(page, server, tournament)
    assert {name: words for name, (words, _) in reload.items()} == expected
    for name, (words, times) in reload.items():
        line = page.locator(f"#{PLAN[name]}")
        assert line.text_content() == words
        live_times = line.locator("time").evaluate_all("nodes => nodes.map(n => n.dateTime)")
        assert instants(live_times) == instants(times)
    assert page.evaluate("window.sameDocument") is True


def minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def test_the_start_plan_follows_check_ins_the_waitlist_and_the_organizers_changes_live(
    console_page, server, make_user
):
    organizer = make_user("olga")
    ana, ben, cy, dan = (make_user(name, funds=FEE) for name in ("ana", "ben", "cy", "dan"))
    starts_at = minute(timezone.now() + timedelta(minutes=20))  # check-in open already
    tournament = committed(
        tournament_create,
        organizer=organizer,
        name="Night Cup",
        format="single_elimination",
        max_participants=2,
        entry_fee=FEE,
        starts_at=starts_at,
        auto_start=True,
        check_in_opens_minutes=30,
    )
    page = console_page(organizer)
    page.goto(server.url(f"/tournaments/{tournament.pk}/manage"))
    expect(page.locator("#console-live")).to_have_attribute("data-state", "live")
    page.evaluate("window.sameDocument = true")
    plan = {
        "starts_at": when(starts_at),
        "auto_start": AUTOMATIC,
        "check_in": check_in_words(starts_at, open_now=True, checked_in=0, registered=0),
        "waitlist": "Nobody waiting",
    }
    plan_says(page, server, tournament, plan)

    def then(write, /, **kwargs):
        committed(write, tournament_id=tournament.pk, **kwargs)

    def says(**changes):
        plan.update(changes)
        plan_says(page, server, tournament, plan)

    # Players join and check in.
    then(tournament_join, user=ana)
    says(check_in=check_in_words(starts_at, open_now=True, checked_in=0, registered=1))
    then(tournament_check_in, user=ana)
    says(check_in=check_in_words(starts_at, open_now=True, checked_in=1, registered=1))
    then(tournament_join, user=ben)
    says(check_in=check_in_words(starts_at, open_now=True, checked_in=1, registered=2))

    # The tournament is full: cy waits, and checks in while waiting.
    then(tournament_join, user=cy, waitlist=True)
    says(waitlist=f"1 waiting (0 checked in): {WAITING}")
    then(tournament_check_in, user=cy)
    says(waitlist=f"1 waiting (1 checked in): {WAITING}")

    # ben leaves: cy takes the place, checked in as it was.
    then(tournament_leave, user=ben)
    says(
        check_in=check_in_words(starts_at, open_now=True, checked_in=2, registered=2),
        waitlist="Nobody waiting",
    )
    then(tournament_join, user=dan, waitlist=True)
    says(waitlist=f"1 waiting (0 checked in): {WAITING}")

    # The organizer moves the start three hours on: check-in is not open any more.
    later = minute(timezone.now() + timedelta(hours=3))
    then(tournament_update, user=organizer, starts_at=later)
    says(
        starts_at=when(later),
        check_in=check_in_words(later, open_now=False, checked_in=2, registered=2),
    )
    then(tournament_update, user=organizer, auto_start=False)
    says(auto_start="When you press Start")
    then(tournament_update, user=organizer, check_in_opens_minutes=0)
    says(check_in="None", waitlist=f"1 waiting: {WAITING}")
    then(tournament_leave, user=dan)
    says(waitlist="Nobody waiting")

    # A start time already past.
    earlier = minute(timezone.now() - timedelta(hours=1))
    then(tournament_update, user=organizer, starts_at=earlier)
    says(starts_at=f"{when(earlier)} (passed)")

    # Check-in again, opening a few seconds from now: the plan says it is open once it is,
    # with no event to say so.
    soon = timezone.now().replace(microsecond=0) + timedelta(minutes=30, seconds=5)
    then(tournament_update, user=organizer, starts_at=soon, check_in_opens_minutes=30)
    opened = check_in_words(soon, open_now=True, checked_in=2, registered=2)
    expect(page.locator("#plan-check-in")).to_have_text(opened, timeout=2 * TIMEOUT_MS)
    says(starts_at=when(soon), check_in=opened)


def test_the_waitlist_is_numbered_again_live_when_an_entry_ahead_leaves(
    console_page, server, make_user
):
    organizer = make_user("olga")
    ana, ben, cy, dan = (make_user(name) for name in ("ana", "ben", "cy", "dan"))
    tournament = committed(
        tournament_create, organizer=organizer, name="Queue Cup",
        format="single_elimination", max_participants=2,
    )  # fmt: skip
    for player in (ana, ben):
        committed(tournament_join, tournament_id=tournament.pk, user=player)
    page = console_page(organizer)
    page.goto(server.url(f"/tournaments/{tournament.pk}/manage"))
    expect(page.locator("#console-live")).to_have_attribute("data-state", "live")

    def waiting_tags():
        return page.locator('#participant-list li[data-status="waitlisted"]')

    for player in (cy, dan):
        committed(tournament_join, tournament_id=tournament.pk, user=player, waitlist=True)
    expect(waiting_tags()).to_have_text(
        [re.compile(r"cy.*waitlisted #1"), re.compile(r"dan.*waitlisted #2")], timeout=TIMEOUT_MS
    )

    committed(tournament_leave, tournament_id=tournament.pk, user=cy)  # the first in line
    expect(waiting_tags()).to_have_text([re.compile(r"dan.*waitlisted #1")], timeout=TIMEOUT_MS)
    # What a reload shows: the server numbered the line again.
    body = page.request.get(server.url(f"/tournaments/{tournament.pk}/manage")).text()
    assert re.search(r"dan</span>.*?waitlisted #1<", body, re.S)
