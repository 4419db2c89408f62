"""The live bracket page (``/tournaments/{id}/live``) in a real browser.

Debian's Chromium, driven by Playwright, against a real daphne process that serves the
test database (committed rows: ``transaction=True``) with the suite's production-like
settings, the socket hub on the test Redis database. Results are reported through the REST
API of that server, or through the services in this process (their events reach the page
through Redis, or through the log when the server was down).
"""

import json
import os
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from rest_framework.authtoken.models import Token

from matches.models import Match
from matches.services import match_report, match_reset, tournament_start
from tests.brackets import free_cup_started, results_fast_forward
from tests.browser import TIMEOUT_MS, committed
from tournaments.models import Participant, Tournament
from tournaments.services import tournament_cancel, tournament_create, tournament_join

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = pytest.mark.django_db(transaction=True)

# Long enough for the page's backoff to reach a restarted server (attempts at about
# 0.5, 1, 2 and 4 s after the drop).
RECONNECT_TIMEOUT_MS = 20_000


@pytest.fixture
def cup(make_user):
    """A started tournament of ``n`` players (``team-1``...), made as requests would."""

    def make(format, n):
        return committed(_cup, format, n)

    def _cup(format, n):
        organizer = make_user()
        tournament = tournament_create(
            organizer=organizer,
            name=f"Live {format}",
            format=format,
            max_participants=n,
        )
        for i in range(n):
            tournament_join(tournament_id=tournament.pk, user=make_user(f"team-{i + 1}"))
        tournament_start(tournament_id=tournament.pk, user=organizer)
        return tournament

    return make


def ready(tournament, **filters) -> Match:
    return (
        Match.objects.filter(tournament=tournament, status="ready", **filters)
        .order_by("bracket", "round", "position")
        .first()
    )


def play(match: Match, *, winner_side: str = "a") -> None:
    """Both sides report the same result, in this process (the service layer)."""
    committed(_play, match, winner_side=winner_side)


def _play(match: Match, *, winner_side: str) -> None:
    winner = getattr(match, f"participant_{winner_side}_id")
    scores = [2, 1] if winner_side == "a" else [1, 2]
    for pk in (match.participant_a_id, match.participant_b_id):
        captain = Participant.objects.get(pk=pk).captain
        match_report(match_id=match.pk, user=captain, winner_id=winner, scores=scores)


def version_of(tournament) -> int:
    return Tournament.objects.get(pk=tournament.pk).version


def card(page, match):
    return page.locator(f'.match[data-match-id="{match.pk}"]')


def test_unknown_tournament_is_a_404(server):
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(server.url("/tournaments/999999/live"), timeout=5)
    assert raised.value.code == 404


def test_double_elimination_follows_results_and_survives_a_server_restart(page, server, cup):
    tournament = cup("double_elimination", 4)
    names = dict(Participant.objects.filter(tournament=tournament).values_list("pk", "name"))
    sockets = []  # (socket, frames it received), as the page opened them

    def watch(ws):
        frames = []
        ws.on("framereceived", lambda payload: frames.append(payload))
        sockets.append((ws, frames))

    page.on("websocket", watch)
    page.goto(server.url(f"/tournaments/{tournament.pk}/live"))

    # The whole bracket: winners (2 + 1), losers (1 + 1), the grand final; no second final.
    expect(page.locator("#indicator")).to_have_attribute("data-state", "live")
    expect(page.locator(".match")).to_have_count(6)
    expect(page.locator("[data-bracket=upper] h2")).to_have_text("Winners bracket")
    expect(page.locator("[data-bracket=lower] h2")).to_have_text("Losers bracket")
    titles = page.locator(".round-title")
    expect(titles).to_contain_text(["Winners semifinals", "Winners final", "Grand final"])
    expect(page.locator(".round-title", has_text="Grand final reset")).to_have_count(0)
    semi_1, semi_2 = Match.objects.filter(
        tournament=tournament, round=1, bracket="winners"
    ).order_by("position")
    for match in (semi_1, semi_2):
        expect(card(page, match).locator("[data-side=a] .name")).to_have_text(
            names[match.participant_a_id]
        )
        expect(card(page, match).locator("[data-side=b] .name")).to_have_text(
            names[match.participant_b_id]
        )
        expect(card(page, match)).to_have_attribute("data-status", "ready")
    page.evaluate("window.sameDocument = true")

    # A result reported through the REST API appears without a reload.
    for pk in (semi_1.participant_a_id, semi_1.participant_b_id):
        token = Token.objects.get(user=Participant.objects.get(pk=pk).captain).key
        status, body = server.post(
            f"/api/matches/{semi_1.pk}/report",
            {"winner": semi_1.participant_a_id, "scores": [2, 0]},
            token=token,
        )
        assert status == 200, body
    expect(card(page, semi_1)).to_have_attribute("data-status", "completed")
    expect(card(page, semi_1).locator(".side.winner .name")).to_have_text(
        names[semi_1.participant_a_id]
    )
    expect(card(page, semi_1).locator(".side.winner .score")).to_have_text("2")
    winners_final = Match.objects.get(pk=semi_1.next_match_id)
    expect(card(page, winners_final).locator("[data-side=a] .name")).to_have_text(
        names[semi_1.participant_a_id]
    )
    expect(page.locator("#live")).to_have_attribute("data-version", str(version_of(tournament)))
    assert page.evaluate("window.sameDocument") is True

    # The server dies; a result is committed while it is down; a new one starts.
    seen = version_of(tournament)
    server.kill()
    expect(page.locator("#indicator")).to_have_attribute("data-state", "reconnecting")
    play(semi_2)
    assert version_of(tournament) > seen
    opened_before_restart = len(sockets)
    server.start()

    expect(card(page, semi_2)).to_have_attribute(
        "data-status", "completed", timeout=RECONNECT_TIMEOUT_MS
    )
    expect(page.locator("#indicator")).to_have_attribute("data-state", "live")
    expect(page.locator("#live")).to_have_attribute("data-version", str(version_of(tournament)))
    assert page.evaluate("window.sameDocument") is True
    # It caught up by resuming after the last version it had, not from a new snapshot.
    resumed, frames = sockets[-1]
    assert len(sockets) > opened_before_restart
    assert resumed.url.endswith(f"/ws/tournaments/{tournament.pk}/?since={seen}")
    first = json.loads(frames[0])
    assert (first["type"], first["version"]) == ("event", seen + 1)

    # Play it out with the losers-bracket finalist winning the first grand final: the
    # second (deciding) final appears, and then the champion.
    while (match := ready(tournament)) is not None:
        if match.bracket == "grand_final" and match.round == 1:
            play(match, winner_side="b")
            break
        play(match)
    second_final = Match.objects.get(tournament=tournament, bracket="grand_final", round=2)
    expect(page.locator(".round-title", has_text="Grand final reset")).to_have_count(1)
    expect(card(page, second_final)).to_have_attribute("data-status", "ready")
    play(second_final)
    expect(page.locator(".banner.champion [data-champion]")).to_have_text(
        names[second_final.participant_a_id]
    )
    expect(page.locator("#status")).to_have_text("Completed")


def test_a_missed_event_is_fetched_again_with_since(page, server, cup):
    """A gap in the versions (the page never got one event) makes the page reconnect with
    ``since`` = the last version it applied, and the server replays from there."""
    tournament = cup("single_elimination", 4)
    first, second = Match.objects.filter(tournament=tournament, round=1).order_by("position")
    urls, dropped = [], []

    def route(ws):
        urls.append(ws.url)
        upstream = ws.connect_to_server()

        def from_server(message):
            frame = json.loads(message)
            # On the first connection, swallow the first event: the next one is a gap.
            if len(urls) == 1 and frame["type"] == "event" and not dropped:
                dropped.append(frame["version"])
                return
            ws.send(message)

        upstream.on_message(from_server)

    page.route_web_socket("**/ws/tournaments/**", route)
    page.goto(server.url(f"/tournaments/{tournament.pk}/live"))
    before = version_of(tournament)
    expect(page.locator("#live")).to_have_attribute("data-version", str(before))

    play(first)
    play(second)

    expect(card(page, first)).to_have_attribute("data-status", "completed")
    expect(card(page, second)).to_have_attribute("data-status", "completed")
    expect(page.locator("#live")).to_have_attribute("data-version", str(version_of(tournament)))
    assert dropped == [before + 1]
    assert len(urls) == 2 and urls[1].endswith(f"?since={before}")


@pytest.mark.parametrize(
    ("format", "n", "heading"),
    [
        ("single_elimination", 5, "Bracket"),
        ("double_elimination", 5, "Winners bracket"),
        ("round_robin", 4, "Standings"),
        ("swiss", 6, "Standings"),
        ("swiss", 5, "Standings"),
    ],
)
def test_every_format_is_drawn_and_updated(page, server, cup, format, n, heading):
    tournament = cup(format, n)
    matches = Match.objects.filter(tournament=tournament)
    page.goto(server.url(f"/tournaments/{tournament.pk}/live"))

    expect(page.locator(".panel h2").first).to_have_text(heading)
    # A card per match that is played: a bye (a top seed of five in an eight-slot bracket
    # goes through without an opponent) gets none; issue 12 found winners round 1 of a
    # double elimination drawn as six "bye" cards around the matches to play. The round's
    # title counts them and names who had one. (A bye of the losers bracket still waiting
    # for its one side is drawn, as "Waiting for players", until it completes: the match
    # objects do not say that it is a bye.)
    byes = [m for m in matches if m.is_bye and m.status == "completed"]
    expect(page.locator(".match")).to_have_count(matches.count() - len(byes))
    expect(page.locator("#meta")).to_contain_text(format.replace("_", " ").capitalize())
    for bye in byes:
        expect(card(page, bye)).to_have_count(0)
    bye_names = [
        Participant.objects.get(pk=m.participant_a_id or m.participant_b_id).name for m in byes
    ]
    if byes and format in ("round_robin", "swiss"):
        expect(page.locator(".bye-note")).to_have_text([f"Bye: {name}" for name in bye_names])
    elif byes:
        title = page.locator(".round-title", has_text=f"{len(byes)} byes")
        expect(title).to_have_count(1)
        for name in bye_names:
            expect(title).to_have_attribute("title", re.compile(rf"\b{re.escape(name)}\b"))
    if format in ("round_robin", "swiss"):
        expect(page.locator(".standings-table tbody tr")).to_have_count(n)

    match = ready(tournament)
    play(match)
    expect(card(page, match)).to_have_attribute("data-status", "completed")
    if format in ("round_robin", "swiss"):
        winner = page.locator(f'.standings-table tr[data-participant="{match.participant_a_id}"]')
        expect(winner.locator("td").nth(5)).to_have_text("2")  # points: a win is 2


def test_registration_and_the_start_arrive_live(page, server, make_user):
    def open_tournament():
        organizer = make_user("organizer")
        tournament = tournament_create(
            organizer=organizer, name="Open Cup", format="single_elimination", max_participants=4
        )
        tournament_join(tournament_id=tournament.pk, user=make_user("early-bird"))
        return organizer, tournament

    organizer, tournament = committed(open_tournament)
    page.goto(server.url(f"/tournaments/{tournament.pk}/live"))
    expect(page.locator("#status")).to_have_text("Registration open")
    expect(page.locator(".roster li")).to_have_text(["early-bird"])
    expect(page.locator("#meta")).to_contain_text("1 of 4 registered")

    committed(lambda: tournament_join(tournament_id=tournament.pk, user=make_user("late-comer")))
    expect(page.locator(".roster li")).to_have_text(["early-bird", "late-comer"])

    committed(tournament_start, tournament_id=tournament.pk, user=organizer)
    expect(page.locator("#status")).to_have_text("In progress")
    expect(page.locator(".match")).to_have_count(1)
    expect(page.locator(".match [data-side] .name")).to_have_text(["early-bird", "late-comer"])


def test_a_tournament_that_is_over_is_not_live_and_money_reads_as_money(page, server, make_user):
    """Connected to a tournament whose last result comes in, the indicator turns from
    "Live" to "Finished" (a cancelled one says "Cancelled"); the fee, the pool and each
    place's prize read as the currency, not as cents (the browser's locale decides the
    symbol and the decimal mark)."""

    def paid_final():
        organizer = make_user()
        tournament = tournament_create(
            organizer=organizer,
            name="Paid final",
            format="single_elimination",
            max_participants=2,
            entry_fee=1000,
            prize_split=[70, 30],
        )
        for _ in range(2):
            tournament_join(tournament_id=tournament.pk, user=make_user(funds=1000))
        called_off = tournament_create(
            organizer=organizer, name="Called off", format="swiss", max_participants=4
        )
        tournament_cancel(tournament_id=called_off.pk, user=organizer)
        return tournament_start(tournament_id=tournament.pk, user=organizer), called_off

    tournament, called_off = committed(paid_final)
    indicator = page.locator("#indicator")
    page.goto(server.url(f"/tournaments/{tournament.pk}/live"))
    expect(indicator).to_have_attribute("data-state", "live")
    expect(indicator).to_have_text("Live")
    expect(page.locator("#meta")).to_contain_text(re.compile(r"entry fee \D*10[.,]00"))
    expect(page.locator("#meta")).to_contain_text(re.compile(r"prize pool \D*20[.,]00"))
    expect(page.locator("#prizes")).to_have_text(
        re.compile(r"^Prizes: 1st \D*14[.,]00\D* · 2nd \D*6[.,]00\D*$")
    )

    play(ready(tournament))
    expect(page.locator("#status")).to_have_text("Completed")
    expect(indicator).to_have_text("Finished")
    expect(indicator).to_have_attribute("data-state", "finished")

    page.goto(server.url(f"/tournaments/{called_off.pk}/live"))
    expect(page.locator("#status")).to_have_text("Cancelled")
    expect(indicator).to_have_text("Cancelled")
    expect(indicator).to_have_attribute("data-state", "cancelled")


def test_a_reset_in_swiss_takes_back_the_round_paired_on_it(page, server, cup):
    """The next swiss round is deleted when a result it was paired on is reset; no event
    names the deleted matches, so the page infers it from the reset."""
    tournament = cup("swiss", 4)  # two rounds
    page.goto(server.url(f"/tournaments/{tournament.pk}/live"))
    first_round = list(Match.objects.filter(tournament=tournament, round=1))
    for match in first_round:
        play(match)
    expect(page.locator('.round[data-round="2"] .match')).to_have_count(2)

    committed(match_reset, match_id=first_round[0].pk, user=tournament.organizer)
    expect(card(page, first_round[0])).to_have_attribute("data-status", "ready")
    expect(page.locator('.round[data-round="2"] .match')).to_have_count(0)
    assert not Match.objects.filter(tournament=tournament, round=2).exists()


# What a reader needs of a match card: a seed, a name of some length, a score.
CARD_MIN_WIDTH = 180

# Records, in the page, every node the board gains or loses from now on (a replaced card
# is one node out and one in); attribute changes (a connector line's class) are not nodes.
WATCH_BOARD = """() => {
  window.boardChanges = [];
  const describe = (node) =>
    node.nodeType === Node.ELEMENT_NODE && node.matches(".match")
      ? "match " + node.dataset.matchId
      : node.nodeName.toLowerCase();
  new MutationObserver((records) => {
    for (const record of records) {
      for (const node of record.addedNodes) window.boardChanges.push("+" + describe(node));
      for (const node of record.removedNodes) window.boardChanges.push("-" + describe(node));
    }
  }).observe(document.getElementById("board"), { childList: true, subtree: true });
}"""

# The docs' picture of the page, taken again by this test when UPDATE_SCREENSHOTS=1 (a run
# of the suite leaves the working tree as it found it).
SCREENSHOT = Path(settings.BASE_DIR) / "docs" / "screenshots" / "live-de-256.png"


def test_a_256_player_double_elimination_is_readable_and_a_result_touches_only_its_cards(
    page, server, make_user, tmp_path
):
    def started_with_results():
        organizer = make_user()
        tournament = free_cup_started(organizer=organizer, format="double_elimination", players=256)
        # Two rounds of the winners bracket and the first of the losers bracket are in.
        results_fast_forward(tournament=tournament, passes=2)
        return tournament

    tournament = committed(started_with_results)
    status, bracket = server.get(f"/api/tournaments/{tournament.pk}/bracket")
    assert status == 200
    api_ids = sorted(m["id"] for m in bracket["matches"])
    rounds = {(m["bracket"], m["round"]) for m in bracket["matches"]}
    # Winners 255, losers 254, one grand final; 8 winners rounds, 14 losers rounds.
    assert len(api_ids) == 510 and len(rounds) == 8 + 14 + 1

    page.goto(server.url(f"/tournaments/{tournament.pk}/live"))
    expect(page.locator("#indicator")).to_have_attribute("data-state", "live")
    expect(page.locator(".match")).to_have_count(len(api_ids))
    page.screenshot(path=tmp_path / "live-de-256.png")
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        page.screenshot(path=SCREENSHOT)

    # Every match of every round is drawn once, under a title per round, in three labelled
    # sections.
    drawn = page.eval_on_selector_all(".match", "cards => cards.map(c => +c.dataset.matchId)")
    assert sorted(drawn) == api_ids
    expect(page.locator(".round-title")).to_have_count(len(rounds))
    expect(page.locator(".panel.bracket > h2")).to_have_text(
        ["Winners bracket", "Losers bracket", "Grand final"]
    )
    expect(page.locator("[data-bracket=upper] .round-title")).to_have_count(8)
    expect(page.locator("[data-bracket=lower] .round-title")).to_have_count(14)
    expect(page.locator("[data-bracket=lower] .round-title").last).to_have_text("Losers final")

    # Readable: cards wide enough, no name cut short.
    assert (
        page.eval_on_selector_all(".match", "cards => Math.min(...cards.map(c => c.offsetWidth))")
        >= CARD_MIN_WIDTH
    )
    clipped = page.eval_on_selector_all(
        ".match .name", "names => names.filter(n => n.scrollWidth > n.clientWidth).length"
    )
    assert clipped == 0

    # Each bracket scrolls inside a window no taller than the screen, its scrollbars in
    # sight (they take room in the box), and the page scrolls on to the next section.
    for key in ("upper", "lower"):
        box = page.eval_on_selector(
            f'.bracket-scroll[data-scroll-key="{key}"]',
            """el => ({
              scrolls: el.scrollHeight > el.clientHeight && el.scrollWidth > el.clientWidth,
              fits: el.getBoundingClientRect().height <= innerHeight,
              vertical_bar: el.offsetWidth - el.clientWidth,
              horizontal_bar: el.offsetHeight - el.clientHeight,
            })""",
        )
        assert box["scrolls"] and box["fits"], (key, box)
        assert box["vertical_bar"] > 0 and box["horizontal_bar"] > 0, (key, box)
    assert page.evaluate("document.documentElement.scrollHeight > innerHeight")

    # The deep end is reachable: scrolled into view, it is on screen.
    losers_final, grand_final = (
        Match.objects.filter(tournament=tournament, bracket=bracket_name).order_by("-round").first()
        for bracket_name in ("losers", "grand_final")
    )
    for match in (losers_final, grand_final):
        card(page, match).scroll_into_view_if_needed()
        expect(card(page, match)).to_be_in_viewport()
    # And a link above the brackets leads to each of them.
    page.evaluate("window.scrollTo(0, 0)")
    expect(page.locator("nav.jump a")).to_have_text(
        ["Winners bracket", "Losers bracket", "Grand final"]
    )
    page.locator("nav.jump a", has_text="Grand final").click()
    expect(card(page, grand_final)).to_be_in_viewport()

    # One result, reported through the API: the page replaces the cards of the matches it
    # changed (the match, where its winner and its loser went), nothing else.
    match = ready(tournament, bracket="winners")
    expected = {match.pk, match.next_match_id, match.loser_next_match_id}
    page.evaluate(WATCH_BOARD)
    for pk in (match.participant_a_id, match.participant_b_id):
        captain = Participant.objects.get(pk=pk).captain
        token = committed(lambda user=captain: Token.objects.get_or_create(user=user)[0].key)
        status, body = server.post(
            f"/api/matches/{match.pk}/report",
            {"winner": match.participant_a_id, "scores": [2, 0]},
            token=token,
        )
        assert status == 200, body
    expect(page.locator("#live")).to_have_attribute("data-version", str(version_of(tournament)))
    expect(card(page, match)).to_have_attribute("data-status", "completed")
    winner, loser = match.participant_a_id, match.participant_b_id
    for pk, participant in ((match.next_match_id, winner), (match.loser_next_match_id, loser)):
        moved_to = page.locator(f'.match[data-match-id="{pk}"]')
        expect(moved_to.locator(f'[data-participant="{participant}"]')).to_have_count(1)

    changes = page.evaluate("window.boardChanges")
    replaced = {int(change.split()[1]) for change in changes if change[1:].startswith("match ")}
    assert replaced == expected, changes
    assert all(change[1:].startswith("match ") for change in changes), changes
    # One card replaced per event that names it (two for the reported match, one each for
    # the two it fed): out and in.
    assert len(changes) <= 2 * 4, changes


# The docs' picture of the tournaments list (/), taken again when UPDATE_SCREENSHOTS=1.
HOME_SCREENSHOT = Path(settings.BASE_DIR) / "docs" / "screenshots" / "home.png"


def test_the_tournaments_list_leads_to_each_live_page_on_a_desktop_and_a_phone(
    browser, server, make_user
):
    def tournaments_in_every_state():
        organizer = make_user("organizer")

        def create(name, **fields):
            fields = {"format": "single_elimination", "max_participants": 8} | fields
            return tournament_create(organizer=organizer, name=name, **fields)

        def join(tournament, count):
            for _ in range(count):
                tournament_join(tournament_id=tournament.pk, user=make_user(funds=10_000))

        finished = create("Winter Invitational", game="Chess", max_participants=2, entry_fee=2500)
        join(finished, 2)
        tournament_start(tournament_id=finished.pk, user=organizer)
        play_match = ready(finished)
        for pk in (play_match.participant_a_id, play_match.participant_b_id):
            match_report(
                match_id=play_match.pk,
                user=Participant.objects.get(pk=pk).captain,
                winner_id=play_match.participant_a_id,
                scores=[2, 0],
            )
        called_off = create("Spring Scrims", format="round_robin", entry_fee=500)
        join(called_off, 3)
        tournament_cancel(tournament_id=called_off.pk, user=organizer)
        running = create("Friday Cup", game="StarCraft II", format="double_elimination")
        join(running, 4)
        tournament_start(tournament_id=running.pk, user=organizer)
        open_cup = create("Saturday Swiss", game="Chess", format="swiss", max_participants=16)
        join(open_cup, 5)
        return create("Team Showdown", game="Valorant", team_size=5, entry_fee=1000)

    newest = committed(tournaments_in_every_state)

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(server.url("/"))
        expect(page.locator("h1")).to_have_text("Tournaments")
        expect(page.locator("tbody tr")).to_have_count(5)
        if os.environ.get("UPDATE_SCREENSHOTS") == "1":
            page.screenshot(path=HOME_SCREENSHOT)

        # The filter works from the keyboard: choose a status, Tab to the button, Enter.
        page.get_by_label("Status").focus()
        page.get_by_label("Status").select_option("in_progress")
        page.keyboard.press("Tab")
        expect(page.get_by_role("button", name="Show")).to_be_focused()
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(r"/\?status=in_progress$"))
        expect(page.locator("tbody tr")).to_have_count(1)

        # On a phone the list fits the width: one card per tournament, nothing to scroll.
        page.set_viewport_size({"width": 375, "height": 740})
        page.goto(server.url("/"))
        assert page.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )

        page.get_by_role("link", name=newest.name, exact=True).click()
        expect(page).to_have_url(server.url(f"/tournaments/{newest.pk}/live"))
        expect(page.locator("#indicator")).to_have_text("Live")
        assert errors == [], errors
    finally:
        context.close()
