"""Best-of series in a real browser (issue 13): the live bracket's series line on each
match card (``live.js`` ``seriesText``) and the match room's (``#series [data-games]``),
both redrawn live, and the room's report form reading the games it is given
(``match_room.js`` ``resultOf``).

Debian's Chromium driven by Playwright, one browser context per person (signed in by a
session cookie made here), against a real daphne serving the test database (committed
rows: ``transaction=True``). What other people do goes through the services in a thread
of their own (``committed``): their events reach the pages through Redis, as a request's
would. What a page shows live is held to what the server renders of the same match on a
reload (the server-side renders themselves: test_series_pages.py).
"""

import json

import pytest

from matches.models import Match, MatchReport
from matches.services import match_report
from tests.browser import TIMEOUT_MS, committed
from tests.web.clients import session_cookie
from tournaments.models import Participant

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = pytest.mark.django_db(transaction=True)

DESKTOP = {"width": 1280, "height": 900}
UNREADABLE_GAMES = "Write the games' scores like 3-1, 0-2, 5-4."


@pytest.fixture
def person(new_page, server):
    """``person(user)``: a page in a browser context of its own, signed in as ``user`` (or
    anonymous with None; without JavaScript with ``javascript=False``)."""

    def open_as(user, *, javascript=True):
        cookies = [session_cookie(user, server)] if user is not None else []
        return new_page(DESKTOP, cookies=cookies, javascript=javascript)

    return open_as


def first_semifinal(tournament) -> Match:
    return (
        Match.objects.filter(tournament=tournament, round=1, status="ready")
        .order_by("position")
        .first()
    )


def captain(participant_id: int):
    return Participant.objects.select_related("captain").get(pk=participant_id).captain


def name(participant_id: int) -> str:
    return Participant.objects.get(pk=participant_id).name


def same_document(page) -> bool:
    return page.evaluate("window.sameDocument === true")


# --- The live bracket ------------------------------------------------------------------


def test_a_spectator_sees_the_series_games_arrive_live_as_the_server_renders_them(
    server, person, cup
):
    tournament = committed(cup, 4, best_of=3, best_of_final=5)
    semifinal = first_semifinal(tournament)
    final = Match.objects.get(pk=semifinal.next_match_id)
    url = server.url(f"/tournaments/{tournament.pk}/live")

    def series_line(page, match):
        return page.locator(f'.match[data-match-id="{match.pk}"] .series')

    spectator = person(None)
    spectator.goto(url)
    expect(spectator.locator("#indicator")).to_have_attribute(
        "data-state", "live", timeout=TIMEOUT_MS
    )
    # Each match its own length: the final takes best_of_final.
    expect(series_line(spectator, semifinal)).to_have_text("Best of 3", timeout=TIMEOUT_MS)
    expect(series_line(spectator, final)).to_have_text("Best of 5", timeout=TIMEOUT_MS)
    spectator.evaluate("window.sameDocument = true")
    card = spectator.locator(f'.match[data-match-id="{semifinal.pk}"]')

    # Side a lists the games; they are not the match's until the other side agrees.
    winner = semifinal.participant_a_id
    games = [[3, 1], [0, 2], [5, 4]]
    committed(
        match_report,
        match_id=semifinal.pk,
        user=captain(semifinal.participant_a_id),
        winner_id=winner,
        scores=[2, 1],
        games=games,
    )
    expect(card).to_have_attribute("data-status", "awaiting_confirmation", timeout=TIMEOUT_MS)
    expect(series_line(spectator, semifinal)).to_have_text("Best of 3", timeout=TIMEOUT_MS)

    # Side b reports the same series result (agreement is the winner and the series score)
    # without listing the games: the match takes side a's.
    committed(
        match_report,
        match_id=semifinal.pk,
        user=captain(semifinal.participant_b_id),
        winner_id=winner,
        scores=[2, 1],
    )
    expect(card).to_have_attribute("data-status", "completed", timeout=TIMEOUT_MS)
    live_line = "Best of 3 · 3–1, 0–2, 5–4"
    expect(series_line(spectator, semifinal)).to_have_text(live_line, timeout=TIMEOUT_MS)
    # The final, redrawn with its first side, keeps its own length.
    expect(
        spectator.locator(f'.match[data-match-id="{final.pk}"] [data-side=a] .name')
    ).to_have_text(name(winner), timeout=TIMEOUT_MS)
    expect(series_line(spectator, final)).to_have_text("Best of 5", timeout=TIMEOUT_MS)
    assert same_document(spectator)
    assert Match.objects.get(pk=semifinal.pk).games == games

    # On a reload the page draws the server's snapshot: the same line. Without JavaScript
    # the server's own list says it too, after its "·".
    spectator.reload()
    expect(spectator.locator("#indicator")).to_have_attribute(
        "data-state", "live", timeout=TIMEOUT_MS
    )
    assert not same_document(spectator)
    expect(series_line(spectator, semifinal)).to_have_text(live_line, timeout=TIMEOUT_MS)
    expect(series_line(spectator, final)).to_have_text("Best of 5", timeout=TIMEOUT_MS)
    reader = person(None, javascript=False)
    reader.goto(url)
    expect(reader.locator(f'li[data-match-id="{semifinal.pk}"] .series')).to_have_text(
        f"· {live_line}", timeout=TIMEOUT_MS
    )


# --- The match room --------------------------------------------------------------------


def open_room(page, server, match):
    page.goto(server.url(f"/matches/{match.pk}"))
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live", timeout=TIMEOUT_MS)
    page.evaluate("window.sameDocument = true")


def test_the_games_typed_in_the_room_are_checked_before_sending_and_reach_the_other_room(
    server, person, cup
):
    tournament = committed(cup, 4, best_of=3)
    match = first_semifinal(tournament)
    side_a, side_b = match.participant_a_id, match.participant_b_id
    page_a, page_b = person(captain(side_a)), person(captain(side_b))
    # What side a's page sends on the match socket.
    sent: list[dict] = []

    def watch(ws):
        if "/ws/matches/" in ws.url:
            ws.on("framesent", lambda payload: sent.append(json.loads(payload)))

    page_a.on("websocket", watch)
    open_room(page_a, server, match)
    open_room(page_b, server, match)
    for page in (page_a, page_b):
        expect(page.locator("#series")).to_have_text("Best of 3", timeout=TIMEOUT_MS)

    form = page_a.locator('form[data-form="report"]')
    form.get_by_label(name(side_a), exact=True).check()
    form.get_by_label(f"Games won by {name(side_a)}").fill("2")
    form.get_by_label(f"Games won by {name(side_b)}").fill("1")
    form.get_by_label("Games (optional)").fill("3-1, x")
    form.get_by_role("button", name="Report result").click()
    expect(form.locator("[data-errors]")).to_have_text(UNREADABLE_GAMES, timeout=TIMEOUT_MS)
    expect(form.get_by_label("Games (optional)")).to_have_value("3-1, x")  # kept to correct
    assert same_document(page_a)
    assert not MatchReport.objects.filter(match=match).exists()
    assert Match.objects.get(pk=match.pk).status == "ready"

    games = [[2, 1], [0, 2], [2, 0]]
    form.get_by_label("Games (optional)").fill("2-1, 0-2, 2-0")
    form.get_by_role("button", name="Report result").click()
    expect(page_a.locator("#flash")).to_have_text(
        f"Reported. Waiting for {name(side_b)} to confirm.", timeout=TIMEOUT_MS
    )
    expect(page_a.locator('[data-panel="waiting"]')).to_be_visible(timeout=TIMEOUT_MS)
    # Only the readable games were sent: the unreadable ones never left the page.
    actions = [
        {key: value for key, value in frame.items() if key != "request_id"}
        for frame in sent
        if "action" in frame
    ]
    assert actions == [{"action": "report", "winner": side_a, "scores": [2, 1], "games": games}]
    report = MatchReport.objects.get(match=match)
    assert (report.participant_id, report.winner_id, report.scores, report.games) == (
        side_a,
        side_a,
        [2, 1],
        games,
    )

    # Side b's room has the report to confirm, with the games it would agree to; they are
    # the match's once it agrees.
    confirm = page_b.locator('[data-panel="confirm"]')
    expect(confirm).to_be_visible(timeout=TIMEOUT_MS)
    reported = f"{name(side_a)} won 2–1, games 2–1, 0–2, 2–0"
    expect(confirm.locator("[data-other-result]")).to_have_text(reported, timeout=TIMEOUT_MS)
    expect(page_b.locator("#report-list li")).to_contain_text(
        [f"reported: {reported}"], timeout=TIMEOUT_MS
    )
    for page in (page_a, page_b):
        expect(page.locator("#series")).to_have_text("Best of 3", timeout=TIMEOUT_MS)
    confirm.get_by_role("button", name="Confirm").click()

    # Side a's room learns it from the event, side b's from the answer to its confirm.
    line = "Best of 3 · games 2–1, 0–2, 2–0"
    for page in (page_a, page_b):
        expect(page.locator("#match-status")).to_have_text("Completed", timeout=TIMEOUT_MS)
        expect(page.locator("#series")).to_have_text(line, timeout=TIMEOUT_MS)
        assert same_document(page)
    assert Match.objects.get(pk=match.pk).games == games

    # The server renders the same line (a spectator's room is its render: no script).
    spectator = person(None)
    spectator.goto(server.url(f"/matches/{match.pk}"))
    expect(spectator.locator('script[src*="match_room"]')).to_have_count(0)
    expect(spectator.locator("#series")).to_have_text(line, timeout=TIMEOUT_MS)
