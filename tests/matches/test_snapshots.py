"""One read per version (matches.snapshots): concurrent connects share one snapshot read,
a change between the read and the send keeps the seam exact, and REST answers from the
same cache with an ETag and 304."""

import asyncio
import threading
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from consumers.hub import db_call
from matches import snapshots as snapshots_module
from matches.snapshots import SnapshotCache, snapshots
from tests.consumers.test_sockets import (  # noqa: F401 - fixtures
    _live,
    connect,
    cup,
    events_until,
    join,
    receive,
    receive_close,
)
from tournaments.services import tournament_join

SNAPSHOT_QUERIES = 5  # the tournament, participants, rosters, reports, matches (+ SET, BEGIN)


async def test_concurrent_connects_cause_one_snapshot_read(cup, monkeypatch):  # noqa: F811
    for i in range(3):
        await join(cup, f"p{i}")
    read = snapshots_module.snapshot_read
    release = threading.Event()
    reads = []

    def slow_read(tournament_id, started):
        reads.append(tournament_id)
        release.wait(5)  # every connect arrives while the first read is in flight
        with CaptureQueriesContext(connection) as queries:
            snapshot = read(tournament_id, started)
        reads.append(len([q for q in queries if q["sql"].startswith("SELECT")]))
        return snapshot

    monkeypatch.setattr(snapshots, "_read", slow_read)
    path = f"/ws/tournaments/{cup.tournament.pk}/"
    pending = [asyncio.ensure_future(connect(path)) for _ in range(20)]
    await asyncio.sleep(0.3)
    release.set()
    sockets = await asyncio.gather(*pending)
    frames = [await ws.receive_from(timeout=5) for ws in sockets]

    assert reads == [cup.tournament.pk, SNAPSHOT_QUERIES]  # one read, five SELECTs
    assert len(set(frames)) == 1  # the same encoded frame for every socket
    assert '"version":3' in frames[0]
    # Live events reach every socket after the shared snapshot, none missed.
    await join(cup, "after")
    for ws in sockets:
        assert await events_until(ws, 4) == [4]
        await ws.disconnect()


@pytest.mark.parametrize("moment", ["before_the_read", "after_the_read"])
async def test_a_change_beside_the_shared_read_is_delivered_exactly_once(
    cup,  # noqa: F811
    monkeypatch,
    moment,
):
    """A join commits just before the snapshot read, or between the read and the send;
    the socket that caused the read and one that joins while it runs both see it once."""
    await join(cup, "p0")
    read = snapshots_module.snapshot_read
    in_read = threading.Event()
    go_on = threading.Event()

    def read_with_a_commit_beside(tournament_id, started):
        in_read.set()
        go_on.wait(5)
        if moment == "before_the_read":
            tournament_join(tournament_id=cup.tournament.pk, user=cup.make_user("seam"))
            return read(tournament_id, started)
        snapshot = read(tournament_id, started)
        tournament_join(tournament_id=cup.tournament.pk, user=cup.make_user("seam"))
        return snapshot

    monkeypatch.setattr(snapshots, "_read", read_with_a_commit_beside)
    path = f"/ws/tournaments/{cup.tournament.pk}/"
    first = asyncio.ensure_future(connect(path))
    await asyncio.to_thread(in_read.wait, 5)
    second = asyncio.ensure_future(connect(path))
    await asyncio.sleep(0.2)
    go_on.set()
    sockets = await asyncio.gather(first, second)
    monkeypatch.setattr(snapshots, "_read", read)
    await join(cup, "after")
    for ws in sockets:
        snapshot = await receive(ws)
        assert snapshot["type"] == "snapshot"
        versions = await events_until(ws, 3) if snapshot["version"] < 3 else []
        assert [snapshot["version"], *versions] == list(range(snapshot["version"], 4))
        assert await ws.receive_nothing(timeout=0.3)
        await ws.disconnect()


def test_a_reader_the_read_in_flight_cannot_serve_starts_the_next_one():
    """Single flight keeps one read per tournament at a time; one that began before what a
    waiter needs is followed by a new read, not returned."""
    versions = iter([5, 7])
    started_reads = []
    in_read = threading.Event()
    go_on = threading.Event()

    def read(tournament_id, started):
        started_reads.append(started)
        if len(started_reads) == 1:
            in_read.set()
            go_on.wait(5)
        return snapshots_module.Snapshot(next(versions), started, "", "", "")

    cache = SnapshotCache(read)
    results = {}
    leader = threading.Thread(target=lambda: results.setdefault("a", cache.get(1)))
    leader.start()
    in_read.wait(5)
    waiter = threading.Thread(target=lambda: results.setdefault("b", cache.get(1, at_least=6)))
    cheap = threading.Thread(target=lambda: results.setdefault("c", cache.get(1, at_least=5)))
    waiter.start()
    cheap.start()
    go_on.set()
    for thread in (leader, waiter, cheap):
        thread.join(5)
    assert (results["a"].version, results["b"].version, results["c"].version) == (5, 7, 5)
    assert cache.reads == 2
    assert cache.get(1, at_least=7) is results["b"]  # kept: no third read
    assert cache.reads == 2


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/tournaments/{id}", "/api/tournaments/{id}/bracket"])
def test_rest_reads_carry_the_version_as_etag_and_answer_304(
    path, make_user, anon, django_assert_num_queries
):
    from tournaments.services import tournament_create

    tournament = tournament_create(
        organizer=make_user(), name="Cup", format="swiss", max_participants=8
    )
    url = path.format(id=tournament.pk)
    first = anon.get(url)
    assert first.status_code == 200
    assert first["ETag"] == f'"{tournament.version}"'
    assert first["Cache-Control"] == "no-cache"

    with django_assert_num_queries(1):  # the version, nothing rendered
        unchanged = anon.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert unchanged["ETag"] == first["ETag"]
    with django_assert_num_queries(1):  # the version; the body comes from the cache
        again = anon.get(url)
    assert again.content == first.content

    tournament_join(tournament_id=tournament.pk, user=make_user())
    changed = anon.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert changed.status_code == 200
    assert changed["ETag"] == f'"{tournament.version + 1}"'
    assert changed.json() != first.json()
    assert anon.get(url, HTTP_IF_NONE_MATCH=f'"0", {changed["ETag"]}').status_code == 304
    assert anon.get(url, HTTP_IF_NONE_MATCH="*").status_code == 304
    assert anon.get(path.format(id=tournament.pk + 1000)).status_code == 404


@pytest.mark.django_db
def test_the_schema_documents_if_none_match_and_304(anon):
    schema = anon.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    for path in ("/api/tournaments/{tournament_id}", "/api/tournaments/{tournament_id}/bracket"):
        operation = schema["paths"][path]["get"]
        assert "304" in operation["responses"], path
        assert "If-None-Match" in [p["name"] for p in operation["parameters"]], path


async def test_a_socket_waiting_for_its_snapshot_buffers_at_most_the_limit(
    cup,  # noqa: F811
    monkeypatch,
):
    """Events that arrive while a socket waits for its snapshot are kept up to
    ``BUFFER_LIMIT``; one more closes it with 4408 (resume with ?since=) instead of
    holding an unbounded list."""
    from consumers import live

    monkeypatch.setattr(live, "BUFFER_LIMIT", 3)
    read = snapshots_module.snapshot_read
    go_on = threading.Event()
    in_read = threading.Event()

    finished = threading.Event()

    def slow_read(tournament_id, started):
        in_read.set()
        go_on.wait(5)
        try:
            return read(tournament_id, started)
        finally:
            finished.set()

    path = f"/ws/tournaments/{cup.tournament.pk}/"
    # A socket already live: the topic releases events to listeners as they come.
    watcher = await connect(path)
    assert (await receive(watcher))["type"] == "snapshot"
    await join(cup, "first")  # the cached snapshot is now behind: the next connect reads
    assert await events_until(watcher, 1) == [1]

    monkeypatch.setattr(snapshots, "_read", slow_read)
    waiting = asyncio.ensure_future(connect(path))
    await asyncio.to_thread(in_read.wait, 5)
    for i in range(3):
        await join(cup, f"kept{i}")
    await asyncio.sleep(0.3)  # three events buffered: still open
    socket = await waiting
    assert await socket.receive_nothing(timeout=0.2)
    await join(cup, "one-too-many")
    assert await receive_close(socket) == 4408
    go_on.set()
    await asyncio.to_thread(finished.wait, 5)  # no read left running into the teardown
    assert await events_until(watcher, 5) == [2, 3, 4, 5]  # the live one is unaffected
    await watcher.disconnect()


async def test_snapshot_reads_run_at_most_snapshot_threads_at_once(cup, monkeypatch):  # noqa: F811
    from consumers import hub as hub_module
    from tournaments.services import tournament_create

    cups = [cup.tournament.pk] + [
        (
            await db_call(
                tournament_create,
                organizer=cup.organizer,
                name=f"Cup {i}",
                format="swiss",
                max_participants=8,
            )
        ).pk
        for i in range(4)
    ]
    read = snapshots_module.snapshot_read
    running, most = [0], [0]
    lock = threading.Lock()

    def counted_read(tournament_id, started):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            time.sleep(0.2)
            return read(tournament_id, started)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(snapshots, "_read", counted_read)
    sockets = await asyncio.gather(*(connect(f"/ws/tournaments/{pk}/") for pk in cups))
    frames = [await receive(ws) for ws in sockets]
    assert [f["tournament"]["id"] for f in frames] == cups
    assert most[0] == hub_module.SNAPSHOT_THREADS
    for ws in sockets:
        await ws.disconnect()
