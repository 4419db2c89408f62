"""The match room and my matches in a real browser: Debian's Chromium driven by Playwright,
one browser context per person (signed in by a session cookie made here), against a real
daphne serving the test database (committed rows: ``transaction=True``).

Results that a test makes outside the pages go through the services in a thread of their
own (``committed``): their events reach the pages through Redis, as a request's would.
"""

import json
import os
import re
from pathlib import Path

import pytest
from django.conf import settings

from matches.models import Match
from matches.services import match_report, match_resolve, tournament_start
from tests.browser import committed
from tests.web.clients import session_cookie
from tournaments.models import Participant
from tournaments.services import tournament_create, tournament_join

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = pytest.mark.django_db(transaction=True)

# The docs' picture of the room on a phone, taken again when UPDATE_SCREENSHOTS=1 (a run of
# the suite leaves the working tree as it found it).
SCREENSHOT = Path(settings.BASE_DIR) / "docs" / "screenshots" / "match-room-phone.png"
PHONE = {"width": 390, "height": 844}
# "Side B sees the report within a second" (issue 12).
WITHIN_A_SECOND_MS = 1_000


@pytest.fixture
def person(new_page, server):
    """``person(user)``: a page in a browser context of its own (``new_page``), signed in
    as ``user`` (or anonymous with None) by a session made here and handed over as its
    cookie."""

    def open_as(user, *, viewport=None, javascript=True):
        cookies = [session_cookie(user, server)] if user is not None else []
        return new_page(
            viewport or {"width": 1200, "height": 900}, cookies=cookies, javascript=javascript
        )

    return open_as


@pytest.fixture
def cup(make_user):
    """A started 4-player single elimination; returns (tournament, organizer, players)."""

    def make():
        return committed(_cup)

    def _cup():
        organizer = make_user("organizer")
        players = [make_user(name) for name in ("ana", "ben", "cleo", "dev")]
        tournament = tournament_create(
            organizer=organizer, name="Friday Cup", format="single_elimination", max_participants=4
        )
        for player in players:
            tournament_join(tournament_id=tournament.pk, user=player)
        tournament_start(tournament_id=tournament.pk, user=organizer)
        return tournament, organizer, players

    return make


def semifinal(tournament) -> Match:
    return (
        Match.objects.filter(tournament=tournament, round=1)
        .select_related("participant_a__captain", "participant_b__captain")
        .order_by("position")
        .first()
    )


def room_url(server, match) -> str:
    return server.url(f"/matches/{match.pk}")


def open_room(page, server, match):
    page.goto(room_url(server, match))
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live")
    page.evaluate("window.sameDocument = true")


def choose_result(form, *, winner: str, scores: tuple[int, int]) -> None:
    form.get_by_label(winner, exact=True).check()
    form.locator("input.score-input").nth(0).fill(str(scores[0]))
    form.locator("input.score-input").nth(1).fill(str(scores[1]))


def test_side_a_reports_side_b_sees_it_within_a_second_confirms_and_the_bracket_advances(
    server, person, cup
):
    tournament, _, _ = cup()
    match = semifinal(tournament)
    side_a, side_b = match.participant_a, match.participant_b
    final = Match.objects.get(pk=match.next_match_id)
    page_a, page_b = person(side_a.captain), person(side_b.captain)
    spectator = person(None)
    spectator.goto(server.url(f"/tournaments/{tournament.pk}/live"))
    final_card = spectator.locator(f'.match[data-match-id="{final.pk}"]')
    expect(final_card).not_to_contain_text(side_a.name)
    open_room(page_a, server, match)
    open_room(page_b, server, match)
    expect(page_a.locator('[data-panel="report"]')).to_be_visible()
    expect(page_b.locator('[data-panel="report"]')).to_be_visible()

    report = page_a.locator('form[data-form="report"]')
    choose_result(report, winner=side_a.name, scores=(2, 1))
    report.get_by_role("button", name="Report result").click()

    confirm = page_b.locator('[data-panel="confirm"]')
    expect(confirm).to_be_visible(timeout=WITHIN_A_SECOND_MS)
    expect(confirm.locator("[data-other-result]")).to_have_text(f"{side_a.name} won 2–1")
    expect(page_b.locator("#match-status")).to_have_text("Awaiting confirmation")
    expect(page_b.locator("#countdown")).to_contain_text(
        re.compile(
            rf"^{side_a.name}’s report is confirmed automatically in 1[45]:\d\d unless you "
            "confirm or dispute it first.$"
        )
    )
    expect(page_a.locator('[data-panel="waiting"]')).to_be_visible()
    expect(page_a.locator("#flash")).to_have_text(
        f"Reported. Waiting for {side_b.name} to confirm."
    )
    # The dispute form starts from the report.
    dispute = confirm.locator('form[data-form="dispute"]')
    expect(dispute.get_by_label(side_a.name, exact=True)).to_be_checked()
    expect(dispute.locator("input.score-input").nth(0)).to_have_value("2")

    confirm.get_by_role("button", name="Confirm").click()

    for page in (page_a, page_b):
        expect(page.locator("#match-status")).to_have_text("Completed")
        expect(page.locator("#result")).to_have_text(f"{side_a.name} won 2–1")
        expect(page.locator('.versus-side[data-side="a"]')).to_have_class(re.compile(r"\bwinner\b"))
        expect(page.locator('[data-panel="completed"]')).to_be_visible()
        assert page.evaluate("window.sameDocument") is True
    expect(page_b.locator("#flash")).to_have_text(f"Confirmed: {side_a.name} won 2–1.")
    match.refresh_from_db()
    assert (match.status, match.winner_id, match.scores) == ("completed", side_a.pk, [2, 1])
    # The spectators' bracket moves the winner into the final.
    expect(final_card).to_contain_text(side_a.name)


def test_disagreeing_reports_show_both_and_the_organizer_resolves_them_live(server, person, cup):
    tournament, organizer, _ = cup()
    match = semifinal(tournament)
    side_a, side_b = match.participant_a, match.participant_b
    page_a, page_b, page_o = person(side_a.captain), person(side_b.captain), person(organizer)
    for page in (page_a, page_b, page_o):
        open_room(page, server, match)
    expect(page_o.locator('[data-organizer-action="reset"]')).to_be_hidden()

    report = page_a.locator('form[data-form="report"]')
    choose_result(report, winner=side_a.name, scores=(2, 0))
    report.get_by_role("button", name="Report result").click()
    dispute = page_b.locator('form[data-form="dispute"]')
    expect(dispute).to_be_visible()
    # Sending the very result reported is a confirmation, not a dispute: said, not sent.
    dispute.get_by_role("button", name="Dispute").click()
    expect(dispute.locator("[data-errors]")).to_contain_text("press “Confirm” to agree with it")
    choose_result(dispute, winner=side_b.name, scores=(1, 2))
    dispute.get_by_role("button", name="Dispute").click()

    for page in (page_a, page_b, page_o):
        expect(page.locator("#match-status")).to_have_text("Disputed")
        expect(page.locator("#report-list li")).to_have_count(2)
        expect(page.locator("#report-list li").nth(0)).to_contain_text(
            f"{side_a.name} reported: {side_a.name} won 2–0"
        )
        expect(page.locator("#report-list li").nth(1)).to_contain_text(
            f"{side_b.name} reported: {side_b.name} won 1–2"
        )
        expect(page.locator("#countdown")).to_be_hidden()
    for page in (page_a, page_b):
        expect(page.locator('[data-panel="disputed"]')).to_be_visible()
        expect(page.get_by_role("button", name="Report result")).to_be_hidden()
    expect(page_o.locator('[data-organizer-hint="disputed"]')).to_be_visible()
    expect(page_o.locator('[data-organizer-action="reset"]')).to_be_visible()

    resolve = page_o.locator('form[data-form="resolve"]')
    choose_result(resolve, winner=side_b.name, scores=(1, 3))
    resolve.get_by_role("button", name="Resolve").click()

    for page in (page_a, page_b, page_o):
        expect(page.locator("#match-status")).to_have_text("Completed")
        expect(page.locator("#result")).to_have_text(f"{side_b.name} won 1–3")
        assert page.evaluate("window.sameDocument") is True
    expect(page_o.locator("#flash")).to_have_text(f"Resolved: {side_b.name} won 1–3.")

    # Reset is a plain form (the socket takes no reset): the organizer's page loads again,
    # the sides' pages follow live.
    page_o.get_by_role("button", name="Reset").click()
    expect(page_o.locator("#flash")).to_contain_text("Reset: the match is ready")
    for page in (page_a, page_b):
        expect(page.locator("#match-status")).to_have_text("Ready to play")
        expect(page.locator('[data-panel="report"]')).to_be_visible()
        expect(page.locator("#reports")).to_be_hidden()


def test_a_refusal_over_the_socket_is_shown_in_words(server, person, cup):
    """The organizer settles the match while the news is still on its way to side A's page
    (held back here), and A reports: the socket's refusal is shown in words, then the
    news arrives and the room shows the result."""
    tournament, organizer, _ = cup()
    match = semifinal(tournament)
    side_a = match.participant_a
    page_a = person(side_a.captain)
    held: list[str] = []
    holding = []

    def route(ws):
        upstream = ws.connect_to_server()

        def from_server(message):
            if holding and json.loads(message)["type"] == "event":
                held.append(message)
                return
            ws.send(message)

        upstream.on_message(from_server)
        sockets.append(ws)

    sockets = []
    page_a.route_web_socket("**/ws/matches/**", route)
    open_room(page_a, server, match)
    form = page_a.locator('form[data-form="report"]')

    # A result that cannot be is refused before anything is sent.
    choose_result(form, winner=side_a.name, scores=(3, 0))
    form.locator("input.score-input").nth(1).fill("")
    form.get_by_role("button", name="Report result").click()
    expect(form.locator("[data-errors]")).to_have_text("Give both scores, or leave both empty.")

    holding.append(True)
    committed(match_resolve, match_id=match.pk, user=organizer, winner_id=match.participant_b_id)
    choose_result(form, winner=side_a.name, scores=(3, 0))
    form.get_by_role("button", name="Report result").click()
    expect(form.locator("[data-errors]")).to_have_text(
        "This match is closed: it has a result already, or the reports disagree, or its "
        "tournament is over. Only the organizer can change it now."
    )
    expect(form.locator("input.score-input").nth(0)).to_have_value("3")  # input kept
    assert held, "the resolve's event was not held back"
    holding.clear()
    for message in held:
        sockets[-1].send(message)
    expect(page_a.locator("#match-status")).to_have_text("Completed")
    expect(page_a.locator('[data-panel="completed"]')).to_be_visible()
    expect(form).to_be_hidden()


def test_someone_who_is_not_a_side_never_sees_report_controls(server, person, cup, make_user):
    tournament, _, players = cup()
    match = semifinal(tournament)
    committed(
        match_report,
        match_id=match.pk,
        user=match.participant_a.captain,
        winner_id=match.participant_a_id,
    )
    other_semifinal_player = (
        Participant.objects.filter(tournament=tournament)
        .exclude(pk__in=[match.participant_a_id, match.participant_b_id])
        .first()
        .captain
    )
    stranger = committed(make_user, "stranger")
    for user in (stranger, other_semifinal_player, None):
        page = person(user)
        sockets = []
        page.on("websocket", lambda ws, sockets=sockets: sockets.append(ws.url))
        page.goto(room_url(server, match))
        expect(page.locator("#match-status")).to_have_text("Awaiting confirmation")
        expect(page.locator("#report-list li")).to_have_count(1)
        expect(page.locator("#room form")).to_have_count(0)
        for words in ("Report result", "Confirm", "Dispute", "Resolve", "Reset"):
            expect(page.get_by_role("button", name=words)).to_have_count(0)
        expect(page.get_by_role("link", name="the live bracket")).to_have_attribute(
            "href", f"/tournaments/{tournament.pk}/live"
        )
        assert sockets == []


def test_my_matches_follows_the_players_matches_live(server, person, cup):
    tournament, _, _ = cup()
    match = semifinal(tournament)
    me, opponent = match.participant_a, match.participant_b
    page = person(me.captain)
    page.goto(server.url("/me/matches"))
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live")
    page.evaluate("window.sameDocument = true")
    row = page.locator(f'tr[data-match="{match.pk}"]')
    expect(row.locator(".match-badge")).to_have_text("Ready to play")
    expect(row).to_contain_text(opponent.name)
    expect(row.locator("[data-next-step]")).to_have_text("Play it, then report the result.")

    committed(match_report, match_id=match.pk, user=opponent.captain, winner_id=me.pk)
    expect(row.locator(".match-badge")).to_have_text("Awaiting confirmation")
    expect(row.locator("[data-next-step]")).to_have_text(
        f"{opponent.name} reported: confirm or dispute it."
    )

    # Confirmed: the player moves on to the final, which the list brings in.
    committed(match_report, match_id=match.pk, user=me.captain, winner_id=me.pk)
    final = Match.objects.get(pk=match.next_match_id)
    final_row = page.locator(f'tr[data-match="{final.pk}"]')
    expect(final_row).to_contain_text("Final")
    expect(final_row.locator(".match-badge")).to_have_text("Waiting for the opponent")
    expect(final_row.locator("[data-next-step]")).to_have_text("Your opponent is not decided yet.")
    assert page.evaluate("window.sameDocument") is True

    # The other semifinal ends: the final is ready, the opponent named.
    other = Match.objects.filter(tournament=tournament, round=1).exclude(pk=match.pk).get()
    for side in (other.participant_a, other.participant_b):
        committed(
            match_report, match_id=other.pk, user=side.captain, winner_id=other.participant_b_id
        )
    expect(final_row.locator(".match-badge")).to_have_text("Ready to play")
    expect(final_row).to_contain_text(other.participant_b.name)
    expect(page.locator(f'tr[data-match="{match.pk}"]')).to_have_count(0)
    page.locator(f'tr[data-match="{final.pk}"] a', has_text="Final").click()
    expect(page.locator("h1")).to_have_text("Final")


def test_the_room_works_without_javascript(server, person, cup):
    tournament, _, _ = cup()
    match = semifinal(tournament)
    side_a, side_b = match.participant_a, match.participant_b
    page = person(side_a.captain, javascript=False)
    page.goto(room_url(server, match))
    form = page.locator('form[data-form="report"]')
    choose_result(form, winner=side_a.name, scores=(2, 1))
    form.get_by_role("button", name="Report result").click()
    expect(page.locator("#flash")).to_have_text(f"Reported. Waiting for {side_b.name} to confirm.")
    expect(page.locator("#match-status")).to_have_text("Awaiting confirmation")
    expect(page.locator('[data-panel="waiting"]')).to_be_visible()
    assert Match.objects.get(pk=match.pk).status == "awaiting_confirmation"


def test_the_match_room_on_a_phone(server, person, cup, tmp_path):
    tournament, _, _ = cup()
    match = semifinal(tournament)
    side_a, side_b = match.participant_a, match.participant_b
    committed(
        match_report, match_id=match.pk, user=side_a.captain, winner_id=side_a.pk, scores=[2, 1]
    )
    page = person(side_b.captain, viewport=PHONE)
    open_room(page, server, match)
    expect(page.locator('[data-panel="confirm"]')).to_be_visible()
    expect(page.locator("#countdown .clock")).to_be_visible()
    # Nothing is wider than the phone: no sideways scrolling to report.
    too_wide = page.eval_on_selector_all(
        "body *",
        f"nodes => nodes.filter(n => n.getBoundingClientRect().right > {PHONE['width']})"
        ".map(n => n.outerHTML.slice(0, 80))",
    )
    assert too_wide == []
    confirm = page.get_by_role("button", name="Confirm")
    box = confirm.bounding_box()
    assert box["width"] >= 300 and box["height"] >= 44  # a thumb's target
    page.screenshot(path=tmp_path / "match-room-phone.png", full_page=True)
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOT, full_page=True)
