"""The live page in a real browser: the server's results, and the state it arrives with.

- A tie at the top broken by the server's tiebreaks (swiss: Buchholz; round robin:
  head-to-head): the banner and the standings name the server's winner, both for a page
  that watched the last result arrive (``tournament.completed``'s placements) and for one
  opened afterwards (the page's own read of them). Issue 12 found the banner naming
  player1 from the page's own ranking, which broke ties by seed.
- The page draws the bracket from the snapshot it carries, before and without any socket,
  and its socket resumes from that version (``?since=``) instead of asking for a snapshot.
- Without JavaScript, the page is a readable list of the same state.
"""

import json

import pytest

from matches.models import Match
from matches.services import tournament_start
from tests.browser import TIMEOUT_MS, committed
from tests.consumers.test_live_page_browser import play
from tests.consumers.ties import (
    round_robin_tied_on_head_to_head,
    seed_of,
    swiss_tied_on_buchholz,
)
from tournaments.models import Participant, Tournament
from tournaments.services import tournament_create, tournament_join

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = pytest.mark.django_db(transaction=True)


def standings_names(page) -> list[str]:
    return page.locator(".standings-table tbody tr td:nth-child(2)").all_inner_texts()


@pytest.mark.parametrize(
    "scenario", [swiss_tied_on_buchholz, round_robin_tied_on_head_to_head], ids=["swiss", "rr"]
)
def test_the_champion_is_the_servers_winner_of_a_tie(page, server, make_user, scenario):
    tournament, play_out = committed(scenario, make_user)
    first, second = seed_of(tournament, 2), seed_of(tournament, 1)
    page.goto(server.url(f"/tournaments/{tournament.pk}/live"))
    expect(page.locator("#indicator")).to_have_attribute("data-state", "live")

    committed(play_out)

    expect(page.locator("#status")).to_have_text("Completed")
    champion = page.locator(".banner.champion [data-champion]")
    expect(champion).to_have_text(first.name)
    expect(champion).to_have_attribute("data-champion", str(first.pk))
    expect(page.locator(".banner.champion .runner-up")).to_have_text(f"Runner-up: {second.name}")
    # The premise: level on points, and the server put seed 2 first.
    status, standings = server.get(f"/api/tournaments/{tournament.pk}/standings")
    assert status == 200
    assert [row["participant"] for row in standings[:2]] == [first.pk, second.pk]
    assert standings[0]["points"] == standings[1]["points"]
    # The table is the server's, in its order, once it has answered for this version.
    version = str(Tournament.objects.get(pk=tournament.pk).version)
    expect(page.locator(".panel.standings")).to_have_attribute("data-version", version)
    expect(page.locator(".panel.standings")).to_have_attribute("data-source", "server")
    names = dict(Participant.objects.filter(tournament=tournament).values_list("pk", "name"))
    assert standings_names(page) == [names[row["participant"]] for row in standings]
    expect(page.locator(".standings-table tr.first")).to_have_attribute(
        "data-participant", str(first.pk)
    )

    # Opened afterwards: the same, from the page's own read, with no request for standings.
    requests = []
    page.on("request", lambda r: requests.append(r.url) if "/standings" in r.url else None)
    page.reload()
    expect(page.locator(".banner.champion [data-champion]")).to_have_text(first.name)
    expect(page.locator("#indicator")).to_have_attribute("data-state", "finished")
    assert standings_names(page) == [names[row["participant"]] for row in standings]
    assert requests == []


def test_without_placements_the_banner_waits_for_the_servers_final_table(page, server, make_user):
    """A completion seen without its placements (here removed from the frame on its way):
    the banner says the champion is being confirmed until the server's standings, asked
    once the tournament is over, name them; never the page's own count."""
    tournament, play_out = committed(swiss_tied_on_buchholz, make_user)
    first = seed_of(tournament, 2)

    def route(ws):
        upstream = ws.connect_to_server()

        def from_server(message):
            frame = json.loads(message)
            if frame.get("event") == "tournament.completed":
                del frame["data"]["placements"]
                message = json.dumps(frame)
            ws.send(message)

        upstream.on_message(from_server)

    page.route_web_socket("**/ws/tournaments/**", route)
    page.goto(server.url(f"/tournaments/{tournament.pk}/live"))
    expect(page.locator("#indicator")).to_have_attribute("data-state", "live")

    committed(play_out)

    expect(page.locator("#status")).to_have_text("Completed")
    expect(page.locator(".banner.champion [data-champion]")).to_have_text(first.name)


def test_the_page_draws_from_its_own_snapshot_and_resumes_from_its_version(page, server, make_user):
    def started():
        organizer = make_user()
        tournament = tournament_create(
            organizer=organizer, name="Resume", format="single_elimination", max_participants=4
        )
        for _ in range(4):
            tournament_join(tournament_id=tournament.pk, user=make_user())
        return tournament_start(tournament_id=tournament.pk, user=organizer)

    tournament = committed(started)
    version = Tournament.objects.get(pk=tournament.pk).version
    matches = Match.objects.filter(tournament=tournament).count()

    # No socket at all (every attempt is dropped before it reaches the server): the
    # bracket is drawn all the same.
    blocked = [True]

    def route(ws):
        if blocked[0]:
            ws.close(code=1011)
        else:
            ws.connect_to_server()

    page.route_web_socket("**/ws/tournaments/**", route)
    page.goto(server.url(f"/tournaments/{tournament.pk}/live"))
    expect(page.locator(".match")).to_have_count(matches)
    expect(page.locator("#live")).to_have_attribute("data-version", str(version))
    expect(page.locator("#indicator")).to_have_attribute("data-state", "reconnecting")
    expect(page.locator(".static-board")).to_have_count(0)  # the drawing replaced it

    # With the socket: it asks for what came after the page's version, and gets no snapshot.
    blocked[0] = False
    sockets = []

    def watch(ws):
        frames = []
        ws.on("framereceived", lambda payload: frames.append(json.loads(payload)))
        sockets.append((ws.url, frames))

    page.on("websocket", watch)
    page.reload()
    expect(page.locator("#indicator")).to_have_attribute("data-state", "live")
    assert sockets[0][0].endswith(f"/ws/tournaments/{tournament.pk}/?since={version}")
    # A result after the page was read arrives as the next event.
    first = Match.objects.filter(tournament=tournament, round=1).order_by("position").first()
    play(first)
    expect(page.locator(f'.match[data-match-id="{first.pk}"]')).to_have_attribute(
        "data-status", "completed"
    )
    frames = sockets[0][1]
    assert frames and all(frame["type"] == "event" for frame in frames)
    assert frames[0]["version"] == version + 1


def test_without_javascript_the_page_is_a_readable_list(browser, server, make_user):
    def started():
        organizer = make_user()
        tournament = tournament_create(
            organizer=organizer, name="Plain", format="single_elimination", max_participants=5
        )
        for _ in range(5):
            tournament_join(tournament_id=tournament.pk, user=make_user())
        return tournament_start(tournament_id=tournament.pk, user=organizer)

    tournament = committed(started)
    played = Match.objects.filter(tournament=tournament, is_bye=False).order_by("round", "position")
    context = browser.new_context(java_script_enabled=False, viewport={"width": 375, "height": 740})
    try:
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(server.url(f"/tournaments/{tournament.pk}/live"))
        expect(page.locator(".static-matches li")).to_have_count(played.count())
        expect(page.locator(".static-matches a")).to_have_count(played.count())
        for match in played:
            expect(page.locator(f'li[data-match-id="{match.pk}"] a')).to_have_attribute(
                "href", f"/matches/{match.pk}"
            )
        byes = Match.objects.filter(tournament=tournament, is_bye=True).order_by("position")
        names = [Participant.objects.get(pk=m.participant_a_id).name for m in byes]
        expect(page.locator(".static-byes")).to_have_text(f"Byes: {', '.join(names)}")
        expect(page.locator("#indicator")).to_be_hidden()
        expect(page.get_by_role("link", name="Tournament page")).to_have_attribute(
            "href", f"/tournaments/{tournament.pk}"
        )
        # Fits a phone's width.
        assert page.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )
    finally:
        context.close()
