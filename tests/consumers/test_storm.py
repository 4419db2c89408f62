"""A connect storm against real servers while results are reported (issue 10).

Two daphne processes on the test database and Redis, as in production. A few spectators
watch from before the first report (resuming with ``?since=``); then, while players report
through both processes' REST API, many more open the tournament's socket at the same moment
and each gets a snapshot at whatever version the tournament has reached. Every socket must
then receive every later version exactly once and in order, and what it holds at the end
(its snapshot with the events applied) must be the bracket the REST API serves.
"""

import asyncio
import json
import threading

import pytest
from rest_framework.authtoken.models import Token
from websockets.asyncio.client import connect

from matches.models import Match
from matches.services import tournament_start
from tests.processes import daphnes_running, http_call
from tournaments.services import tournament_create, tournament_join

TIMEOUT = 30
PLAYERS = 12  # a round robin: 66 matches, all ready at the start
AFTER_THE_STORM = 5  # reports made once every storm socket is open
EARLY = 10  # per process
STORM = 100  # per process, opened at once


@pytest.fixture
def servers(transactional_db):
    with daphnes_running(2, DATABASE_POOL_MAX_SIZE="4") as ports:
        yield ports


@pytest.fixture
def league(transactional_db, make_user):
    organizer = make_user("org")
    tournament = tournament_create(
        organizer=organizer, name="Storm", format="round_robin", max_participants=PLAYERS
    )
    sides = [
        tournament_join(tournament_id=tournament.pk, user=make_user(f"p{i}"))
        for i in range(PLAYERS)
    ]
    tournament_start(tournament_id=tournament.pk, user=organizer)
    captains = {side.pk: Token.objects.get(user_id=side.captain_id).key for side in sides}
    reports = [
        (match.pk, match.participant_a_id, captains[match.participant_a_id])
        for match in Match.objects.filter(tournament=tournament).order_by("round", "position")
    ]
    return tournament.pk, reports


class Watcher:
    """One socket: its snapshot (or the version it resumed after) and every event after."""

    def __init__(self, url: str, origin: str):
        self.url, self.origin = url, origin
        self.snapshot: dict | None = None
        self.versions: list[int] = []
        self.matches: dict[int, dict] = {}
        self.socket = None

    async def open(self) -> None:
        self.socket = await connect(self.url, origin=self.origin, open_timeout=TIMEOUT)

    async def read_until(self, version: int) -> None:
        async with self.socket:
            while not self.versions or self.versions[-1] < version:
                frame = json.loads(await asyncio.wait_for(self.socket.recv(), TIMEOUT))
                if frame["type"] == "snapshot":
                    assert self.snapshot is None and not self.versions, "a second snapshot"
                    self.snapshot = frame
                    self.matches = {m["id"]: m for m in frame["matches"]}
                    continue
                assert frame["type"] == "event", frame
                self.versions.append(frame["version"])
                match = frame["data"].get("match")
                if match is not None:
                    self.matches[match["id"]] = match


async def test_a_storm_of_connects_during_reports_loses_and_repeats_nothing(servers, league):
    tournament, reports = league
    status, body = http_call(servers[0], "GET", f"/api/tournaments/{tournament}")
    assert status == 200
    start = json.loads(body)["version"]

    def watcher(port: int, query: str = "") -> Watcher:
        return Watcher(
            f"ws://127.0.0.1:{port}/ws/tournaments/{tournament}/{query}",
            f"http://127.0.0.1:{port}",
        )

    early = [watcher(port, f"?since={start}") for port in servers for _ in range(EARLY)]
    await asyncio.gather(*(w.open() for w in early))

    # Players report through both processes, one after the other, from a thread, before,
    # while and after the storm connects.
    failures = []
    started, stormed = threading.Event(), threading.Event()

    def report() -> int:
        after = 0
        for i, (match_id, winner, token) in enumerate(reports):
            if len(reports) - i == AFTER_THE_STORM:
                # The last few reports wait for the storm, however slowly the machine opens
                # its sockets: some snapshots must then be older than the final version.
                stormed.wait(TIMEOUT)
            status, body = http_call(
                servers[i % 2],
                "POST",
                f"/api/matches/{match_id}/report",
                token=token,
                body={"winner": winner},
            )
            if status != 200:
                failures.append((status, body))
            if i == 5:
                started.set()
            after += stormed.is_set()
            if after == AFTER_THE_STORM:
                return i + 1
        return len(reports)

    reporter = asyncio.create_task(asyncio.to_thread(report))
    await asyncio.to_thread(started.wait, TIMEOUT)
    storm = [watcher(port) for port in servers for _ in range(STORM)]
    await asyncio.gather(*(w.open() for w in storm))
    stormed.set()
    reported = await reporter
    assert failures == []

    status, body = http_call(servers[1], "GET", f"/api/tournaments/{tournament}/bracket")
    assert status == 200
    final = json.loads(body)
    assert final["version"] == start + reported  # a first report is one event
    await asyncio.gather(*(w.read_until(final["version"]) for w in early + storm))

    bracket = {m["id"]: m for m in final["matches"]}
    for w in early:
        assert w.snapshot is None
        assert w.versions == list(range(start + 1, final["version"] + 1))
    snapshot_versions = set()
    for w in storm:
        assert w.snapshot is not None
        snapshot_versions.add(w.snapshot["version"])
        assert w.versions == list(range(w.snapshot["version"] + 1, final["version"] + 1))
        assert w.matches == bracket  # the snapshot and the events after it add up
    # The storm met the reports: some sockets' snapshots are older than the last report.
    assert min(snapshot_versions) < final["version"]
