"""The live page as the server renders it (consumers/views.py), without a browser.

The page carries the socket's own snapshot (JSON, with its version) for live.js to draw
at once and resume from, the server's standings and placements, and the same state as
plain HTML for a client without JavaScript: participants, matches by round (byes named,
not listed as matches), standings, each match linking to its room.
"""

import html
import json
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from consumers.selectors import tournament_snapshot
from consumers.views import pages
from matches.models import Match
from matches.services import match_report, tournament_start
from tests.consumers.ties import (
    round_robin_tied_on_head_to_head,
    seed_of,
    swiss_tied_on_buchholz,
)
from tournaments.models import Participant, Tournament
from tournaments.services import tournament_cancel, tournament_create, tournament_join

pytestmark = pytest.mark.django_db


@pytest.fixture
def client():
    return Client()


@pytest.fixture
def started(make_user):
    def make(format: str, n: int, **fields) -> Tournament:
        organizer = make_user()
        tournament = tournament_create(
            organizer=organizer,
            name=fields.pop("name", f"Cup {format}"),
            format=format,
            max_participants=n,
            **fields,
        )
        for _ in range(n):
            tournament_join(tournament_id=tournament.pk, user=make_user())
        return tournament_start(tournament_id=tournament.pk, user=organizer)

    return make


def live_page(client, tournament) -> str:
    response = client.get(f"/tournaments/{tournament.pk}/live")
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"].startswith("text/html")
    return response.content.decode()


def embedded(page: str, element_id: str):
    found = re.search(
        rf'<script id="{element_id}" type="application/json">(.*?)</script>', page, re.S
    )
    assert found, f"no #{element_id} in the page"
    return json.loads(found.group(1))


def static_board(page: str) -> str:
    found = re.search(r'<main id="board" class="board">(.*?)</main>', page, re.S)
    assert found
    return found.group(1)


def listed_matches(page: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<li data-match-id="(\d+)"', static_board(page))]


def standings_order(page: str) -> list[int]:
    table = re.search(r'<section class="panel static-standings">(.*?)</section>', page, re.S)
    assert table, "no standings in the page"
    return [int(pk) for pk in re.findall(r'<tr data-participant="(\d+)"', table.group(1))]


def champion(page: str) -> tuple[str, str]:
    found = re.search(r'<strong data-champion="(\d*)">([^<]*)</strong>', page)
    assert found, "no champion banner"
    return found.group(1), html.unescape(found.group(2))


def test_the_page_embeds_the_sockets_snapshot_at_its_version(client, started):
    tournament = started("double_elimination", 4)
    version = Tournament.objects.get(pk=tournament.pk).version

    page = live_page(client, tournament)

    assert f'data-version="{version}"' in page
    snapshot = embedded(page, "snapshot")
    # The socket's own frame, as a client connecting now would receive it.
    _, frame = tournament_snapshot(tournament_id=tournament.pk)
    assert snapshot == json.loads(frame)
    assert snapshot["type"] == "snapshot" and snapshot["version"] == version
    results = embedded(page, "results")
    # Standings only for the group formats; placements only once completed.
    assert results == {"version": version, "standings": None, "placements": None}
    assert "Loading the bracket" not in page


def test_without_javascript_the_page_lists_participants_matches_and_links(client, started):
    tournament = started("single_elimination", 4, name="Friday Cup")
    match = Match.objects.filter(tournament=tournament, round=1).order_by("position").first()
    a, b = (
        Participant.objects.get(pk=pk) for pk in (match.participant_a_id, match.participant_b_id)
    )
    for side in (a, b):
        match_report(match_id=match.pk, user=side.captain, winner_id=a.pk, scores=[3, 1])

    page = live_page(client, tournament)
    board = static_board(page)

    # Header: name, words for the format and status, links to the other pages.
    assert '<h1 id="name">Friday Cup</h1>' in page
    assert "Single elimination · 4 players · free entry" in page
    assert ">In progress</span>" in page
    assert f'href="/tournaments/{tournament.pk}"' in page
    assert 'href="/"' in page
    # Matches by round, each linking to its room, in bracket order.
    every = list(
        Match.objects.filter(tournament=tournament)
        .order_by("round", "position")
        .values_list("pk", flat=True)
    )
    assert listed_matches(page) == every
    for pk in every:
        assert f'<a href="/matches/{pk}">' in board
    assert "<h3>Semifinals</h3>" in board and "<h3>Final</h3>" in board
    played = re.search(rf'<li data-match-id="{match.pk}" data-status="completed">(.*?)</li>', board)
    assert played, board
    assert f'<span class="winner"><span class="seed">{a.seed}</span> {a.name} <b>3</b></span>' in (
        played.group(1)
    )
    assert "Finished" in played.group(1)
    assert "Waiting for players" in board  # the final
    # Participants, by seed.
    roster = re.search(r'<ol class="static-roster">(.*?)</ol>', board, re.S).group(1)
    names = [html.unescape(n) for n in re.findall(r"</span> ([^<]+)</li>", roster)]
    assert names == list(
        Participant.objects.filter(tournament=tournament)
        .order_by("seed")
        .values_list("name", flat=True)
    )
    # Nothing claims a connection that a page without JavaScript never makes.
    assert re.search(r'<button id="indicator"[^>]*\shidden\b', page)


def test_byes_are_named_under_their_round_not_listed_as_matches(client, started):
    """Five players in an eight-slot bracket: three byes in round 1, which nobody plays."""
    tournament = started("single_elimination", 5)
    byes = Match.objects.filter(tournament=tournament, is_bye=True)
    assert byes.count() == 3

    page = live_page(client, tournament)

    assert sorted(listed_matches(page)) == sorted(
        Match.objects.filter(tournament=tournament, is_bye=False).values_list("pk", flat=True)
    )
    bye_names = sorted(Participant.objects.get(pk=m.participant_a_id).name for m in byes)
    line = re.search(r'<p class="muted static-byes">Byes: ([^<]*)</p>', page)
    assert line and sorted(line.group(1).split(", ")) == bye_names
    # The embedded snapshot still has every match: the byes feed the bracket's layout.
    assert (
        len(embedded(page, "snapshot")["matches"])
        == Match.objects.filter(tournament=tournament).count()
    )


@pytest.mark.parametrize(
    "scenario", [swiss_tied_on_buchholz, round_robin_tied_on_head_to_head], ids=["swiss", "rr"]
)
def test_standings_and_champion_are_the_servers_tiebreaks_not_the_seeds(
    client, make_user, scenario
):
    tournament, play_out = scenario(make_user)
    play_out()
    tournament.refresh_from_db()
    assert tournament.status == "completed"
    first, second = seed_of(tournament, 2), seed_of(tournament, 1)

    page = live_page(client, tournament)

    standings = client.get(f"/api/tournaments/{tournament.pk}/standings").json()
    # The case at hand: level on points at the top, seed 2 ranked above seed 1.
    assert [r["participant"] for r in standings[:2]] == [first.pk, second.pk]
    assert standings[0]["points"] == standings[1]["points"]
    completed = client.get(f"/api/tournaments/{tournament.pk}/events?since=0").json()["events"]
    placements = next(e for e in completed if e["event"] == "tournament.completed")["data"][
        "placements"
    ]
    assert placements[:2] == [[first.pk], [second.pk]]

    assert standings_order(page) == [row["participant"] for row in standings]
    assert champion(page) == (str(first.pk), first.name)
    assert f"Runner-up: {second.name}" in page
    results = embedded(page, "results")
    assert results["standings"] == standings
    assert results["placements"] == placements
    assert results["version"] == embedded(page, "snapshot")["version"] == tournament.version


def test_a_completed_elimination_names_its_champion(client, started):
    tournament = started("single_elimination", 2)
    final = Match.objects.get(tournament=tournament)
    winner = Participant.objects.get(pk=final.participant_b_id)
    for pk in (final.participant_a_id, final.participant_b_id):
        captain = Participant.objects.get(pk=pk).captain
        match_report(match_id=final.pk, user=captain, winner_id=winner.pk, scores=[0, 2])

    page = live_page(client, tournament)

    assert champion(page) == (str(winner.pk), winner.name)
    assert embedded(page, "results")["placements"] == [[winner.pk], [final.participant_a_id]]


def test_a_cancelled_tournament_says_so_and_registration_lists_who_joined(
    client, make_user, started
):
    organizer = make_user()
    open_cup = tournament_create(
        organizer=organizer, name="Open", format="swiss", max_participants=8
    )
    tournament_join(tournament_id=open_cup.pk, user=make_user("early-bird"))
    page = live_page(client, open_cup)
    assert "Registered so far" in page and "early-bird" in page
    assert "1 of 8 registered" in page
    assert "The bracket appears here as soon as the organizer starts the tournament." in page

    tournament_cancel(tournament_id=open_cup.pk, user=organizer)
    page = live_page(client, open_cup)
    assert '<div class="banner cancelled">This tournament was cancelled.' in page


def test_names_cannot_break_out_of_the_embedded_json_or_the_html(client, make_user):
    organizer = make_user()
    name = '</script><script>alert("x")</script><!--'
    tournament = tournament_create(
        organizer=organizer, name=name, format="single_elimination", max_participants=4
    )

    page = live_page(client, tournament)

    assert "<script>alert" not in page
    assert page.count("</script>") == 4  # feed.js, live.js, the two JSON elements
    assert embedded(page, "snapshot")["tournament"]["name"] == name
    assert html.escape(name) in page


def test_queries_do_not_grow_with_the_bracket_and_a_version_is_rendered_once(client, started):
    small, big = started("swiss", 4), started("swiss", 32)

    def reads(tournament) -> list[str]:
        """The page's SELECTs (the savepoints of its read-only transaction aside)."""
        with CaptureQueriesContext(connection) as captured:
            live_page(client, tournament)
        return [q["sql"] for q in captured if q["sql"].startswith("SELECT")]

    # The version; the tournament and its standings (participants, matches), in one read;
    # the snapshot's five reads.
    assert len(reads(small)) == len(reads(big)) == 9
    # The same version again: the page this process rendered, after one query.
    again = reads(big)
    assert len(again) == 1 and "tournaments_tournament" in again[0], again
    # Rendered again (the snapshot from the process's cache) once the version moved.
    pages.clear()
    assert len(reads(big)) == 4


def test_a_new_version_is_a_new_page(client, started):
    tournament = started("single_elimination", 2)
    match = Match.objects.get(tournament=tournament)
    before = live_page(client, tournament)
    assert 'data-status="ready"' in static_board(before)

    for pk in (match.participant_a_id, match.participant_b_id):
        captain = Participant.objects.get(pk=pk).captain
        match_report(match_id=match.pk, user=captain, winner_id=match.participant_a_id)

    after = live_page(client, tournament)
    assert f'data-version="{Tournament.objects.get(pk=tournament.pk).version}"' in after
    assert 'data-status="completed"' in static_board(after)
    assert champion(after)[0] == str(match.participant_a_id)


def test_an_unknown_tournament_is_a_404_and_only_safe_methods_are_allowed(client, started):
    assert client.get("/tournaments/999999/live").status_code == 404
    tournament = started("single_elimination", 2)
    assert client.head(f"/tournaments/{tournament.pk}/live").status_code == 200
    assert client.post(f"/tournaments/{tournament.pk}/live").status_code == 405
