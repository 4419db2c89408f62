"""feed.js (``LiveFeed``) on the match socket, ``/ws/matches/{id}/``, in a real browser.

The live page's own tests drive the tournament socket (``resume: true``). Here the feed is
opened by hand in the page (feed.js is loaded there), as the match room does, with a
session cookie for the authentication (API.md: a browser page authenticates by its
session): ``resume: false``, so every connection starts from the snapshot the server
sends; replies to ``send``; the final close codes (4401, 4403, 4404) stop it retrying.
"""

import pytest
from django.conf import settings
from django.test import Client

from matches.models import Match
from tests.browser import TIMEOUT_MS, committed
from tournaments.models import Participant, Tournament
from tournaments.services import tournament_create, tournament_join

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = pytest.mark.django_db(transaction=True)

# Opens a feed in the page and records what it reports in window.trace.
OPEN_FEED = """(path) => {
  const trace = { statuses: [], snapshots: [], events: [], replies: [], errors: [], versions: [] };
  window.trace = trace;
  window.feed = LiveFeed.open({
    path,
    resume: false,
    onSnapshot(frame) { trace.snapshots.push(frame); },
    onEvent(frame) { trace.events.push(frame); trace.versions.push(window.feed.version); },
    onReply(frame) { trace.replies.push(frame); },
    onError(frame) { trace.errors.push(frame); },
    onStatus(state, text) { trace.statuses.push([state, text]); },
  });
}"""


def trace(page) -> dict:
    return page.evaluate("window.trace")


def wait_for(page, expression: str) -> None:
    page.wait_for_function(expression, timeout=TIMEOUT_MS)


@pytest.fixture
def duel(make_user):
    """A started two-player final: (tournament, match, captain a, captain b, organizer)."""

    def make():
        organizer = make_user("organizer")
        tournament = tournament_create(
            organizer=organizer, name="Duel", format="single_elimination", max_participants=2
        )
        players = [make_user("side-a"), make_user("side-b")]
        for player in players:
            tournament_join(tournament_id=tournament.pk, user=player)
        from matches.services import tournament_start

        tournament_start(tournament_id=tournament.pk, user=organizer)
        match = Match.objects.get(tournament=tournament)
        a = Participant.objects.get(pk=match.participant_a_id).captain
        b = Participant.objects.get(pk=match.participant_b_id).captain
        return tournament, match, a, b, organizer

    return committed(make)


def signed_in(browser, server, user=None):
    """A browser context holding ``user``'s session cookie (none: anonymous), on a page of
    the server that loads feed.js (the tournament's live page)."""
    context = browser.new_context(viewport={"width": 1000, "height": 700})
    if user is not None:

        def login():
            client = Client()
            client.force_login(user)
            return client.cookies[settings.SESSION_COOKIE_NAME].value

        context.add_cookies(
            [
                {
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": committed(login),
                    "url": server.url("/"),
                }
            ]
        )
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors
    return context, page


def test_a_player_follows_and_reports_over_the_match_socket_and_reconnects_from_a_snapshot(
    browser, server, duel
):
    tournament, match, side_a, _side_b, _organizer = duel
    context, page = signed_in(browser, server, side_a)
    try:
        sockets = []  # (url, route) of every match socket the page opened

        def route(ws):
            ws.connect_to_server()  # frames pass both ways untouched
            sockets.append((ws.url, ws))

        page.route_web_socket("**/ws/matches/**", route)
        page.goto(server.url(f"/tournaments/{tournament.pk}/live"))
        page.evaluate(OPEN_FEED, f"/ws/matches/{match.pk}/")

        # In sync once the snapshot came: "connecting", then "live".
        wait_for(page, "window.trace.statuses.some(([s]) => s === 'live')")
        seen = trace(page)
        assert [s for s, _ in seen["statuses"]] == ["connecting", "live"]
        snapshot = seen["snapshots"][0]
        assert snapshot["match"]["id"] == match.pk and snapshot["match"]["status"] == "ready"
        version = Tournament.objects.get(pk=tournament.pk).version
        assert snapshot["version"] == version == page.evaluate("window.feed.version")
        assert sockets[0][0].endswith(f"/ws/matches/{match.pk}/")  # no ?since=: resume false

        # A report: the reply answers its request_id, the event shows the match changed.
        sent = page.evaluate(
            "(winner) => feed.send({action: 'report', winner, scores: [2, 1], request_id: 'r1'})",
            match.participant_a_id,
        )
        assert sent is True
        wait_for(page, "window.trace.replies.length === 1 && window.trace.events.length >= 1")
        seen = trace(page)
        reply = seen["replies"][0]
        assert (reply["request_id"], reply["ok"], reply["match"]["status"]) == (
            "r1",
            True,
            "awaiting_confirmation",
        )
        event = seen["events"][0]
        assert event["event"] == "match.updated" and event["data"]["match"]["id"] == match.pk
        assert event["version"] > version
        # feed.version moves to an event's version once its callback has returned.
        assert page.evaluate("window.feed.version") == event["version"]
        assert seen["versions"][0] == version

        # A refused action is a reply too, with the REST code.
        page.evaluate(
            "(winner) => window.feed.send({action: 'report', winner, request_id: 'r2'})",
            match.participant_a_id,
        )
        wait_for(page, "window.trace.replies.length === 2")
        refused = trace(page)["replies"][1]
        assert (refused["request_id"], refused["ok"], refused["code"]) == (
            "r2",
            False,
            "already_reported",
        )

        # The connection drops (as at a server restart): the feed reconnects after its
        # backoff and starts again from a fresh snapshot, not from a version.
        sockets[0][1].close(code=1012, reason="restart")
        wait_for(page, "window.trace.snapshots.length === 2")
        seen = trace(page)
        states = [s for s, _ in seen["statuses"]]
        assert states[-1] == "live" and "reconnecting" in states
        assert len(sockets) == 2 and sockets[1][0].endswith(f"/ws/matches/{match.pk}/")
        assert seen["snapshots"][1]["match"]["status"] == "awaiting_confirmation"

        # Closed by the page: nothing more is sent, and it does not come back.
        page.evaluate("window.feed.close()")
        assert page.evaluate("window.feed.send({action: 'report'})") is False
        page.wait_for_timeout(1500)
        assert len(sockets) == 2
        assert page.errors == []
    finally:
        context.close()


@pytest.mark.parametrize(
    ("who", "state", "text"),
    [
        ("stranger", "forbidden", "Not allowed to follow this"),
        ("anonymous", "unauthenticated", "Sign in to follow this"),
        ("unknown match", "gone", "Match not found"),
    ],
)
def test_a_refusal_is_final_and_the_feed_says_which(
    browser, server, duel, make_user, who, state, text
):
    tournament, match, *_ = duel
    user = committed(make_user, "stranger") if who != "anonymous" else None
    match_id = match.pk if who != "unknown match" else 999_999
    context, page = signed_in(browser, server, user)
    try:
        opened = []
        page.on("websocket", lambda ws: opened.append(ws.url) if "/ws/matches/" in ws.url else None)
        page.goto(server.url(f"/tournaments/{tournament.pk}/live"))
        page.evaluate(OPEN_FEED, f"/ws/matches/{match_id}/")
        if who == "anonymous":
            # Without a session the server waits for an "auth" frame first; anything else
            # is refused at once.
            wait_for(page, "window.feed.send({action: 'report'})")

        wait_for(page, f"window.trace.statuses.some(([s]) => s === '{state}')")
        refused_after = len(opened)
        page.wait_for_timeout(1500)  # longer than the first backoff: no retry comes
        seen = trace(page)
        assert seen["statuses"][-1] == [state, text]
        assert seen["snapshots"] == []
        assert len(opened) == refused_after, seen
        # (Normally the first connection is the refused one; a connection the server
        # dropped for another reason first, under load, is retried, as it should be.)
        assert [s for s, _ in seen["statuses"]].count(state) == 1
        assert page.errors == []
    finally:
        context.close()
