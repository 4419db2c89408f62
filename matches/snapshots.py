"""A tournament's state at one version: read once, rendered once and encoded once per
process, for every reader that can use it.

A snapshot is read in one REPEATABLE READ transaction (``snapshot_read``) as plain rows,
rendered by hand (``tournaments.payloads``, ``matches.payloads``) and encoded once into the
three documents made of it: the socket's ``snapshot`` frame, the REST bracket and the REST
detail. The cache keeps the newest snapshot of each recently read tournament, and the same
string goes to every socket and every response.

Readers say what they can use:

- ``at_least=V``: a snapshot at version V or later. REST asks for the version it just
  read (its ``ETag``); a socket joining a topic that has released up to V asks for V,
  since the topic delivers it everything after V.
- ``started_after=T``: a snapshot whose read began at ``time.monotonic()`` T or later. A
  socket joining a topic that has not released anything yet asks for a read begun after
  the topic subscribed (``consumers.hub.Topic.epoch``): every change committed after that
  read began reaches the topic, so nothing falls between the snapshot and the live events.

Single flight: while a tournament's snapshot is being read, everyone else who needs it
waits for that read instead of starting their own; a reader the finished read cannot
serve (it began too early) starts the next one. Reads run in threads (the live
executor, or the REST worker's thread), so the cache is guarded by a lock.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from matches.payloads import bracket_rendered
from project.encoding import json_bytes, json_text
from tournaments.errors import TournamentNotFound
from tournaments.models import Tournament
from tournaments.payloads import participants_rendered, tournament_render
from tournaments.selectors import consistent_read

# Tournaments whose newest snapshot is kept. A 1,024-player double elimination's frame is
# about 0.6 MB (bench/snapshot.py), and the bracket and detail documents repeat its parts;
# the tournaments a process serves at once are few.
CACHED_TOURNAMENTS = 32


@dataclass(frozen=True)
class Snapshot:
    """The encodings of one version, each made once: only text is kept (a 2,016-match
    bracket is about 0.5 MB of it; its rendered dicts would be several times that)."""

    version: int
    started: float  # time.monotonic() just before its read began
    frame: str  # API.md's {"type": "snapshot", ...} frame of /ws/tournaments/{id}/
    bracket: str  # the body of GET /api/tournaments/{id}/bracket
    detail: str  # the body of GET /api/tournaments/{id}

    @classmethod
    def encode(cls, *, version, started, tournament, participants, matches) -> Snapshot:
        # The big parts are encoded once; the documents embed them as they are.
        participants, matches = (
            orjson.Fragment(json_bytes(part)) for part in (participants, matches)
        )
        return cls(
            version=version,
            started=started,
            frame=json_text(
                {
                    "type": "snapshot",
                    "version": version,
                    "tournament": tournament,
                    "participants": participants,
                    "matches": matches,
                }
            ),
            bracket=json_text({"version": version, "matches": matches}),
            detail=json_text(tournament | {"participants": participants}),
        )

    def usable(self, at_least: int | None, started_after: float | None) -> bool:
        return (at_least is None or self.version >= at_least) and (
            started_after is None or self.started >= started_after
        )


class _Flight:
    def __init__(self):
        self.done = threading.Event()
        self.snapshot: Snapshot | None = None
        self.error: BaseException | None = None


class SnapshotCache:
    def __init__(self, read: Callable[[int, float], Snapshot], size: int = CACHED_TOURNAMENTS):
        self._read = read  # (tournament_id, started) -> Snapshot; raises TournamentNotFound
        self._size = size
        self._lock = threading.Lock()
        self._snapshots: OrderedDict[int, Snapshot] = OrderedDict()
        self._flights: dict[int, _Flight] = {}
        self.reads = 0  # snapshots read since the process started (tests, benchmarks)

    def cached(
        self, tournament_id: int, *, at_least: int | None = None, started_after: float | None = None
    ) -> Snapshot | None:
        """The kept snapshot if it will do, else None; never reads (callers on the event
        loop: a connect storm then costs no thread hop per socket once the read is done)."""
        with self._lock:
            return self._kept(tournament_id, at_least, started_after)

    def _kept(self, tournament_id, at_least, started_after) -> Snapshot | None:
        """``cached``, with the lock held."""
        snapshot = self._snapshots.get(tournament_id)
        if snapshot is not None and snapshot.usable(at_least, started_after):
            self._snapshots.move_to_end(tournament_id)
            return snapshot
        return None

    def get(
        self, tournament_id: int, *, at_least: int | None = None, started_after: float | None = None
    ) -> Snapshot:
        while True:
            with self._lock:
                snapshot = self._kept(tournament_id, at_least, started_after)
                if snapshot is not None:
                    return snapshot
                flight = self._flights.get(tournament_id)
                leader = flight is None
                if leader:
                    flight = self._flights[tournament_id] = _Flight()
                    self.reads += 1
            if leader:
                self._fly(tournament_id, flight)
            else:
                flight.done.wait()
            if flight.error is not None:
                raise flight.error
            if flight.snapshot.usable(at_least, started_after):
                return flight.snapshot
            # The read began before what this reader needs: the next read will do.

    def clear(self) -> None:
        """Forget every snapshot (tests: each starts with a database of its own)."""
        with self._lock:
            self._snapshots.clear()

    def _fly(self, tournament_id: int, flight: _Flight) -> None:
        try:
            flight.snapshot = self._read(tournament_id, time.monotonic())
        except BaseException as error:
            flight.error = error
        finally:
            with self._lock:
                del self._flights[tournament_id]
                if flight.snapshot is not None:
                    kept = self._snapshots.get(tournament_id)
                    if kept is None or kept.version <= flight.snapshot.version:
                        self._snapshots[tournament_id] = flight.snapshot
                        self._snapshots.move_to_end(tournament_id)
                        while len(self._snapshots) > self._size:
                            self._snapshots.popitem(last=False)
            flight.done.set()


def snapshot_read(tournament_id: int, started: float) -> Snapshot:
    """The tournament at one version: five queries of plain rows (the tournament, its
    participants, their rosters, the reports, the matches) in one consistent read, no
    model instance per match. Raises TournamentNotFound."""
    with consistent_read():
        tournament = Tournament.objects.filter(pk=tournament_id).first()
        if tournament is None:
            raise TournamentNotFound(f"There is no tournament {tournament_id}.")
        return Snapshot.encode(
            version=tournament.version,
            started=started,
            tournament=tournament_render(tournament),
            participants=participants_rendered(tournament_id=tournament_id),
            matches=bracket_rendered(tournament_id=tournament_id),
        )


# The process's cache: sockets (through the live executor) and REST views share it.
snapshots = SnapshotCache(snapshot_read)
