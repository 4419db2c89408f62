"""Team-join throughput: the HTTP API against the same transaction in raw SQL, and
against the cheapest authenticated request through the same server; result reports too.

What is measured
----------------
A *join* is one team of ``--team-size`` funded players registering for a tournament that
charges every member an entry fee (``tournaments.services.tournament_join``). Two paths do
the same number of joins from the same number of client threads:

* **http** - ``POST /api/tournaments/{id}/join`` with ``{"team": id}`` and the captain's
  ``Authorization: Token``, served by the app under ``--server`` in ``--processes``
  processes, run production-like (``DEBUG=0``, PostgreSQL, Redis; tasks go to the broker,
  ``CELERY_TASK_ALWAYS_EAGER=0``, so a team join enqueues its notification on Redis as in
  production; no worker runs them). Each client thread keeps one keep-alive connection
  (stdlib ``http.client``). Everything the app does per request is in the number:
  the server, middleware, token auth, reading the tournament and the team, the
  transaction, rendering, the after-commit publish and enqueue.
* **raw** - the transaction alone, in SQL, with psycopg 3 (default settings), one
  connection per thread: lock the tournament row, then the roster's wallets and the
  escrow ``FOR UPDATE`` in pk order (the lock order of ``tournaments/locks.py``), check
  funds, "is a member already registered", the guarded ``UPDATE`` of the
  tournament row, insert the participant and its members, ``UPDATE ... FROM (VALUES ...)``
  of the balances, insert the posting, its entries and the tournament event. The client
  already knows the roster, wallet ids and escrow id (the app reads them per request).

Each path runs two scenarios on fresh tournaments, so that no path sees rows the other
left behind in its own tournaments:

* **across** - team ``i`` joins tournament ``i % --tournaments``: little row contention.
* **one** - every team joins one tournament (1024 places; more teams use more
  tournaments): every join queues on that tournament's row lock.

Then two phases of result reports (http only), ``--reports`` each, in round robins of
16 solo players (all their matches ready at the start), spread over the tournaments as
"across" spreads joins: ``report`` is each match's first report by side a
(``POST /api/matches/{id}/report``, the match awaits confirmation: one
``match.updated`` event), ``confirm`` the agreeing report of side b (the match completes:
its events, the standings, the notification task).

The floor
---------
Last, one more http phase (``floor``) sends the same number of the cheapest authenticated
API request, ``GET /api/me`` with each captain's token (token auth, one indexed SELECT, a
small JSON body), through the same server from the same threads: what the stack costs per
request before a write does anything. Its rate against the raw join rate is the ceiling of
http/raw on this machine; a join's rate against it (``join/floor``), and a report's
(``report/floor``, ``confirm/floor``), say what the write itself costs (issue 14's goal:
at least 0.5, i.e. at most twice the floor's server CPU per request).

The table shows joins (successful ones: 201 or 200 / committed; "failed" counts the rest,
broken down below the table), seconds, joins per second, median and 95th-percentile
latency. The CPU columns (Linux only) say where the cores went during the timed window, in
CPU milliseconds per request: ``server`` (every process of the server: daphne's, or
gunicorn's or uvicorn's master and workers), ``postgres`` (all its processes), ``client``
(this process's client threads) and ``machine`` (every core's busy time, so also anything
else running on the machine: a test suite running beside the benchmark shows up there,
and slows both paths). Results also go to ``bench/results/joins-<timestamp>[-<label>].json``
(``--label``; the server's log beside it). Nothing is asserted: this is a hand-run tool.

How to run (from the project root, PostgreSQL on 127.0.0.1:5432 with trust auth for
user postgres, Redis on 127.0.0.1:6379)::

    .venv/bin/python bench/joins.py                      # daphne, 400 teams of 5, 8 threads
    .venv/bin/python bench/joins.py --server gunicorn --processes 2 --server-threads 4
    .venv/bin/python bench/joins.py --teams 800 --threads 16 --keep

``--server``: ``daphne`` (one process per port; with ``--processes`` N the client threads
take the ports in turn), ``gunicorn`` (``project.wsgi`` with ``gunicorn.conf.py``, N
workers of ``--server-threads`` threads each, default 8) or ``uvicorn``
(``project.asgi``, ``--workers`` N). ``--py-spy PATH`` records each timed http phase of
every serving process with that py-spy binary (collapsed stacks beside the results).

It drops and recreates the database ``atom_bench`` (``--database``), migrates it, creates
players, wallets, deposits, teams and tournaments through the app's own services (in a
child process, with a fast password hasher: only the requests are timed), starts the
server on free ports, runs the phases, stops the server and drops the database (unless
``--keep``). It uses Redis database 14 (flushed at the start, after the setup and at the
end: the queued notification tasks) and touches nothing else.

Phase order: warm-up (http, then raw, then reports; not timed), then per scenario http,
then raw, then the reports, then the floor, each after a CHECKPOINT so that none pays for
the previous one's dirty pages. Client threads run on the same machine as the server and
PostgreSQL and share its cores with them. The benchmark runs the app code of the working
tree as it is. After the phases it checks that http and raw wrote the same rows per
scenario and that the ledger balances, and warns if not.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.client
import itertools
import json
import math
import os
import platform
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from common import (
    PG_SERVER,
    PROJECT_DIR,
    RESULTS_DIR,
    SERVERS,
    app_env,
    app_servers_start,
    database_drop,
    database_maintain,
    database_recreate,
    manage,
    process_cpu,
    profiler_start,
    profiler_stop,
    redis_flush,
)
from psycopg.types.json import Jsonb

REDIS_URL = "redis://127.0.0.1:6379/14"

ENTRY_FEE = 100  # minor units, charged to every roster member
# Every team joins at most 6 tournaments (2 warm-ups, 2 scenarios x 2 paths).
DEPOSIT = 10 * 6 * ENTRY_FEE
MAX_PARTICIPANTS = 1024  # the API's upper bound
PASSWORD = "bench-Join-pass-4821"
SCENARIOS = ("across", "one")
PATHS = ("http", "raw")
# Result reports: round robins of this many solo players (120 matches each, all ready at
# the start); at most REPORTS_PER_TOURNAMENT of them reported, so that no tournament
# completes (its payouts are another benchmark's business).
REPORT_PLAYERS = 16
REPORTS_PER_TOURNAMENT = 100
REPORT_PHASES = ("report", "confirm")


# --- Setup, through the app's services (runs in a child process) ------------------------------


def setup_plan(args: argparse.Namespace) -> dict:
    """How many tournaments each phase gets. Each holds at most 1024 teams."""
    least = math.ceil(args.teams / MAX_PARTICIPANTS)
    groups = {"warmup-http": 1, "warmup-raw": 1}
    for path in PATHS:
        groups[f"across-{path}"] = max(args.tournaments, least)
        groups[f"one-{path}"] = least
    report_groups = {}
    if args.reports:
        report_groups = {
            "warmup-report": 1,
            "report": max(8, math.ceil(args.reports / REPORTS_PER_TOURNAMENT)),
        }
    return {
        "teams": args.teams,
        "team_size": args.team_size,
        "groups": groups,
        "report_groups": report_groups,
    }


def setup_run(env: dict[str, str], plan: dict) -> dict:
    """Run ``setup_child`` in a fresh interpreter with the app's settings; return its data."""
    with tempfile.TemporaryDirectory() as tmp:
        plan_path, out_path = Path(tmp) / "plan.json", Path(tmp) / "out.json"
        plan_path.write_text(json.dumps(plan))
        subprocess.run(
            [sys.executable, __file__, "--setup-child", str(plan_path), str(out_path)],
            cwd=PROJECT_DIR,
            env=env,
            check=True,
        )
        return json.loads(out_path.read_text())


def setup_child(plan_path: str, out_path: str) -> None:
    """Create funded players, teams and tournaments with the app's own services.

    Everything is one transaction (the services' own ``atomic`` blocks become savepoints):
    one commit instead of thousands keeps the setup to seconds.
    """
    sys.path.insert(0, str(PROJECT_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    import django

    django.setup()
    from django.db import transaction
    from django.test.utils import override_settings

    from matches.models import Match
    from matches.services import tournament_start
    from tournaments.models import TeamMember
    from tournaments.serializers import TournamentSerializer
    from tournaments.services import team_create, tournament_create, tournament_join
    from users.services import user_register
    from wallets.services import deposit_create

    plan = json.loads(Path(plan_path).read_text())
    started = time.monotonic()
    # The default hasher (PBKDF2) costs ~0.3 s a user on this machine; setup is not timed.
    fast_hasher = override_settings(
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]
    )
    with fast_hasher, transaction.atomic():
        organizer, _ = user_register(username="bench-organizer", password=PASSWORD)
        teams = []
        for i in range(plan["teams"]):
            members = []
            for j in range(plan["team_size"]):
                user, token = user_register(username=f"bench-t{i:05d}-m{j}", password=PASSWORD)
                wallet = deposit_create(user_id=user.pk, amount=DEPOSIT)
                members.append(
                    {"id": user.pk, "username": user.username, "wallet": wallet.pk, "token": token}
                )
            captain = members[0]
            team = team_create(user=_user(captain["id"]), name=f"bench team {i}")
            TeamMember.objects.bulk_create(
                TeamMember(team=team, user_id=m["id"]) for m in members[1:]
            )
            teams.append(
                {
                    "id": team.pk,
                    "name": team.name,
                    "captain": captain["id"],
                    "token": captain["token"],
                    "members": members,
                }
            )

        tournaments = {}
        for group, count in plan["groups"].items():
            tournaments[group] = []
            for k in range(count):
                tournament = tournament_create(
                    organizer=organizer,
                    name=f"bench {group} {k}",
                    format="single_elimination",
                    max_participants=MAX_PARTICIPANTS,
                    team_size=plan["team_size"],
                    entry_fee=ENTRY_FEE,
                )
                # The serialized tournament is what the raw path puts in its event payload.
                tournaments[group].append(
                    dict(TournamentSerializer(tournament).data, escrow=tournament.escrow_id)
                )

        # Reports: per group, each tournament's matches as (match, side a's participant,
        # side a's token, side b's token), interleaved across the tournaments.
        reports = {}
        for group, count in plan["report_groups"].items():
            per_tournament = []
            for k in range(count):
                tournament = tournament_create(
                    organizer=organizer,
                    name=f"bench {group} {k}",
                    format="round_robin",
                    max_participants=REPORT_PLAYERS,
                )
                tokens = {}
                for p in range(REPORT_PLAYERS):
                    user, token = user_register(
                        username=f"bench-{group}-{k:03d}-p{p:02d}", password=PASSWORD
                    )
                    tokens[user.pk] = token
                    tournament_join(tournament_id=tournament.pk, user=user)
                tournament_start(tournament_id=tournament.pk, user=organizer)
                matches = (
                    Match.objects.filter(tournament=tournament, status=Match.Status.READY)
                    .select_related("participant_a", "participant_b")
                    .order_by("round", "position")
                )
                per_tournament.append(
                    [
                        (
                            m.pk,
                            m.participant_a_id,
                            tokens[m.participant_a.captain_id],
                            tokens[m.participant_b.captain_id],
                        )
                        for m in matches[:REPORTS_PER_TOURNAMENT]
                    ]
                )
            reports[group] = [
                match
                for row in itertools.zip_longest(*per_tournament)
                for match in row
                if match is not None
            ]

    Path(out_path).write_text(
        json.dumps({"teams": teams, "tournaments": tournaments, "reports": reports})
    )
    users = plan["teams"] * plan["team_size"]
    print(
        f"  setup: {users} players, {plan['teams']} teams, "
        f"{sum(plan['groups'].values())} tournaments in {time.monotonic() - started:.1f} s"
    )


def _user(pk: int):
    from users.models import User

    return User.objects.get(pk=pk)


# --- CPU accounting (Linux /proc; skipped elsewhere) ------------------------------------------


def cpu_snapshot(servers) -> dict[str, float]:
    """CPU seconds used so far, by part. On a small machine everything shares the cores, so
    this shows where a join's CPU goes:

    * ``server``: every process of the server (``common.AppServers``), all their threads
      (``server-system``: the part of it in the kernel; in the results, not the table);
    * ``postgres``: every PostgreSQL process alive at both snapshots (the backends of the
      clients and of the server's pools are: they are opened before the clock starts);
    * ``client``: this benchmark process (its client threads);
    * ``machine``: every core's busy time, including anything else running here.
    """
    snapshot = {"client": time.process_time()}
    with contextlib.suppress(OSError, ValueError, IndexError):
        tick = os.sysconf("SC_CLK_TCK")
        with open("/proc/stat") as f:
            jiffies = [int(x) for x in f.readline().split()[1:]]
        # user nice system idle iowait irq softirq steal (guest is inside user already)
        snapshot["machine"] = (sum(jiffies[:8]) - jiffies[3] - jiffies[4]) / tick
        snapshot["server"] = servers.cpu()
        snapshot["server-system"] = servers.cpu_system()
        for path in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                name, seconds = process_cpu(path, tick)
                if name == "postgres":
                    snapshot[f"pg:{path.parent.name}"] = seconds
    return snapshot


def cpu_used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    used = {part: after[part] - before[part] for part in before if part in after}
    postgres = [part for part in used if part.startswith("pg:")]
    if postgres:
        used["postgres"] = sum(used.pop(part) for part in postgres)
    return used


# --- Running a phase ------------------------------------------------------------------------


@dataclass
class PhaseResult:
    scenario: str
    path: str
    attempted: int
    seconds: float
    outcomes: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # see cpu_snapshot

    @property
    def joins(self) -> int:
        return self.outcomes["ok"]

    @property
    def rate(self) -> float:
        return self.joins / self.seconds if self.seconds else 0.0

    def percentile_ms(self, q: float) -> float:
        if len(self.latencies) < 2:
            return 0.0
        return statistics.quantiles(self.latencies, n=100)[int(q) - 1] * 1000

    def cpu_ms_per_join(self, part: str) -> float | None:
        if part not in self.cpu_seconds or not self.joins:
            return None
        return self.cpu_seconds[part] / self.joins * 1000

    def as_dict(self) -> dict:
        return {
            "scenario": self.scenario,
            "path": self.path,
            "attempted": self.attempted,
            "joins": self.joins,
            "failed": self.attempted - self.joins,
            "outcomes": dict(self.outcomes),
            "seconds": round(self.seconds, 4),
            "joins_per_s": round(self.rate, 1),
            "p50_ms": round(self.percentile_ms(50), 2),
            "p95_ms": round(self.percentile_ms(95), 2),
            "cpu_ms_per_join": {
                part: None if (ms := self.cpu_ms_per_join(part)) is None else round(ms, 2)
                for part in self.cpu_seconds
            },
        }


def run_concurrently(jobs, threads, open_client, do_job, close_client, measure):
    """Run ``do_job(client, job)`` for every job from ``threads`` threads; each thread has
    its own client. The clock starts when every thread has its client ready and stops when
    the last job finishes; ``measure()`` (a CPU snapshot) is taken at both moments, while
    every client is still connected. Returns (seconds, outcome counts, latencies, CPU
    seconds used)."""
    work: queue.SimpleQueue = queue.SimpleQueue()
    for job in jobs:
        work.put(job)
    snapshots = []
    # A barrier's action runs once, when every party has arrived and before any leaves.
    ready = threading.Barrier(threads + 1, action=lambda: snapshots.append(measure()))
    done = threading.Barrier(threads, action=lambda: snapshots.append(measure()))

    def worker():
        try:
            client = open_client()
        except BaseException:
            ready.abort()
            done.abort()
            raise
        outcomes, latencies = Counter(), []
        try:
            ready.wait()
            while True:
                try:
                    job = work.get_nowait()
                except queue.Empty:
                    break
                began = time.perf_counter()
                try:
                    outcome = do_job(client, job)
                except Exception as error:  # counted, not fatal: the table shows it
                    outcome = f"error {type(error).__name__}"
                    client = _reopen(client, open_client, close_client)
                latencies.append(time.perf_counter() - began)
                outcomes[outcome] += 1
            finished = time.perf_counter()
            done.wait()
        except BaseException:
            done.abort()
            raise
        finally:
            close_client(client)
        return finished, outcomes, latencies

    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = [pool.submit(worker) for _ in range(threads)]
        try:
            ready.wait(timeout=120)
        except threading.BrokenBarrierError:
            for future in futures:
                future.result()  # raises the error of the thread that could not start
            raise
        started = time.perf_counter()
        results = [future.result() for future in futures]
    total, latencies = Counter(), []
    for _, outcomes, lat in results:
        total.update(outcomes)
        latencies.extend(lat)
    seconds = max(r[0] for r in results) - started
    return seconds, total, latencies, cpu_used(*snapshots)


def _reopen(client, open_client, close_client):
    """After a failed job the client may be unusable (a dropped connection): replace it."""
    with contextlib.suppress(Exception):
        close_client(client)
    return open_client()


def jobs_for(scenario: str, teams: list[dict], tournaments: list[dict]) -> list[tuple]:
    """(tournament, team) pairs. "across": consecutive jobs go to different tournaments."""
    if scenario == "across":
        return [(tournaments[i % len(tournaments)], t) for i, t in enumerate(teams)]
    return [(tournaments[i // MAX_PARTICIPANTS], t) for i, t in enumerate(teams)]


# --- The HTTP path ---------------------------------------------------------------------------


def _keep_alive_phase(ports: list[int], jobs: list, threads: int, do_job, measure):
    """``do_job(conn, job)`` for every job over keep-alive connections to the server, one
    per client thread; with several ports (daphne processes) the threads take them in
    turn."""
    turns = itertools.cycle(ports)
    turns_lock = threading.Lock()

    def open_client():
        with turns_lock:
            port = next(turns)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.connect()  # before the clock starts, like the raw path's connections
        return conn

    return run_concurrently(jobs, threads, open_client, do_job, lambda conn: conn.close(), measure)


def _post_outcome(conn, path: str, body: dict, token: str, expected: int) -> str:
    """POST ``body`` to ``path``: "ok" on ``expected``, else the status and error code."""
    conn.request(
        "POST",
        path,
        body=json.dumps(body),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    response = conn.getresponse()
    answer = response.read()
    if response.status == expected:
        return "ok"
    try:
        code = json.loads(answer).get("code", "")
    except ValueError:
        code = ""
    return f"{response.status} {code}".strip()


def http_phase(ports: list[int], jobs: list[tuple], threads: int, measure=dict):
    def do_job(conn, job):
        tournament, team = job
        return _post_outcome(
            conn,
            f"/api/tournaments/{tournament['id']}/join",
            {"team": team["id"]},
            team["token"],
            201,
        )

    return _keep_alive_phase(ports, jobs, threads, do_job, measure)


def report_phase(ports: list[int], phase: str, reports: list, threads: int, measure=dict):
    """``POST /api/matches/{id}/report`` naming side a the winner: by side a (``report``:
    the first report) or by side b (``confirm``: the agreeing one, which completes it)."""

    def do_job(conn, job):
        match_id, winner, token_a, token_b = job
        token = token_a if phase == "report" else token_b
        return _post_outcome(
            conn, f"/api/matches/{match_id}/report", {"winner": winner}, token, 200
        )

    return _keep_alive_phase(ports, reports, threads, do_job, measure)


def floor_phase(ports: list[int], teams: list[dict], threads: int, measure=dict):
    """``GET /api/me`` with each captain's token: the cheapest authenticated request."""

    def do_job(conn, team):
        conn.request("GET", "/api/me", headers={"Authorization": f"Token {team['token']}"})
        response = conn.getresponse()
        response.read()
        return "ok" if response.status == 200 else str(response.status)

    return _keep_alive_phase(ports, teams, threads, do_job, measure)


# --- The raw SQL path ------------------------------------------------------------------------


class Refused(Exception):
    """A rule refused the join (the transaction rolls back), like the app's 409s."""


def raw_join(conn: psycopg.Connection, tournament: dict, team: dict) -> str:
    """tournament_join's transaction, statement for statement (see the module docstring)."""
    fee = tournament["entry_fee"]
    roster = team["members"]
    user_ids = [m["id"] for m in roster]
    try:
        with conn.transaction(), conn.cursor() as cur:
            # 0. Lock the tournament row first (tournaments/locks.py): the app's read of the
            # tournament is this locking read.
            cur.execute(
                "SELECT status, participant_count, max_participants FROM tournaments_tournament "
                "WHERE id = %s FOR UPDATE",
                [tournament["id"]],
            )
            if cur.fetchone() is None:
                raise Refused("not_found")

            # 1. Lock the roster's wallets and the escrow, in pk order.
            cur.execute(
                "SELECT id, kind, user_id, balance FROM wallets_account "
                "WHERE id = %s OR user_id = ANY(%s) ORDER BY id FOR UPDATE",
                [tournament["escrow"], user_ids],
            )
            locked = {row[0]: row for row in cur.fetchall()}
            balances = {row[2]: row[3] for row in locked.values() if row[2] is not None}
            if any(balances.get(uid, -1) < fee for uid in user_ids):
                raise Refused("insufficient_funds")

            # 2. Is any roster member already in this tournament?
            cur.execute(
                "SELECT user_id FROM tournaments_participantmember "
                "WHERE tournament_id = %s AND user_id = ANY(%s) AND active",
                [tournament["id"], user_ids],
            )
            if cur.fetchall():
                raise Refused("already_registered")

            # 3. Take a place: the guarded UPDATE of the tournament row locked above.
            cur.execute(
                "UPDATE tournaments_tournament SET participant_count = participant_count + 1, "
                "prize_pool = prize_pool + %s, version = version + 1 "
                "WHERE id = %s AND (status = %s AND participant_count < max_participants) "
                "RETURNING version, status, participant_count, prize_pool, refunds_pending",
                [fee * len(roster), tournament["id"], "registration"],
            )
            counters = cur.fetchone()
            if counters is None:
                raise Refused("tournament_full")
            version, status, participant_count, prize_pool, refunds_pending = counters
            now = datetime.now(UTC)

            # 4. The participant and its roster.
            cur.execute(
                "INSERT INTO tournaments_participant "
                "(tournament_id, team_id, captain_id, name, seed, status, checked_in, "
                "created_at) VALUES (%s, %s, %s, %s, NULL, 'registered', false, %s) "
                "RETURNING id",
                [tournament["id"], team["id"], team["captain"], team["name"], now],
            )
            participant_id = cur.fetchone()[0]
            cur.execute(
                "INSERT INTO tournaments_participantmember "
                "(participant_id, tournament_id, user_id, active) VALUES "
                + ", ".join(["(%s, %s, %s, true)"] * len(roster))
                + " RETURNING id",
                [p for uid in user_ids for p in (participant_id, tournament["id"], uid)],
            )
            cur.fetchall()

            # 5. The ledger: balances, one posting, its entries (as wallets.services does).
            lines = {m["wallet"]: -fee for m in roster}
            lines[tournament["escrow"]] = fee * len(roster)
            cur.execute(
                "UPDATE wallets_account SET balance = wallets_account.balance "
                "+ CAST(v.column2 AS bigint) FROM (VALUES "
                + ", ".join(["(%s, %s)"] * len(lines))
                + ") AS v WHERE wallets_account.id = CAST(v.column1 AS bigint)",
                [p for pair in lines.items() for p in pair],
            )
            cur.execute(
                "INSERT INTO wallets_posting (kind, reference, tournament_id, created_at) "
                "VALUES ('entry_fee', %s, %s, %s) RETURNING id",
                [f"participant:{participant_id}", tournament["id"], now],
            )
            posting_id = cur.fetchone()[0]
            cur.execute(
                "INSERT INTO wallets_entry "
                "(posting_id, account_id, amount, balance_after, created_at) VALUES "
                + ", ".join(["(%s, %s, %s, %s, %s)"] * len(lines))
                + " RETURNING id",
                [
                    p
                    for account_id, amount in lines.items()
                    for p in (posting_id, account_id, amount, locked[account_id][3] + amount, now)
                ],
            )
            cur.fetchall()

            # 6. The live event, with the same payload shape as the app's.
            participant = {
                "id": participant_id,
                "name": team["name"],
                "seed": None,
                "team": team["id"],
                "captain": team["captain"],
                "status": "registered",
                "members": [{"id": m["id"], "username": m["username"]} for m in roster],
            }
            tournament_data = {k: v for k, v in tournament.items() if k != "escrow"}
            tournament_data.update(
                version=version,
                status=status,
                participant_count=participant_count,
                prize_pool=prize_pool,
                refunds_pending=refunds_pending,
            )
            cur.execute(
                "INSERT INTO tournaments_tournamentevent (tournament_id, version, name, data, "
                "created_at) VALUES (%s, %s, 'participant.joined', %s, %s) RETURNING id",
                [
                    tournament["id"],
                    version,
                    Jsonb({"participant": participant, "tournament": tournament_data}),
                    now,
                ],
            )
            cur.fetchone()
    except Refused as refusal:
        return f"refused {refusal}"
    return "ok"


def raw_phase(database: str, jobs: list[tuple], threads: int, measure=dict):
    def open_client():
        return psycopg.connect(f"{PG_SERVER}/{database}")

    def do_job(conn, job):
        return raw_join(conn, *job)

    return run_concurrently(jobs, threads, open_client, do_job, lambda conn: conn.close(), measure)


# --- Checks, report --------------------------------------------------------------------------


def rows_written(database: str, tournaments: list[dict]) -> dict:
    """What a phase left in the database; http and raw of one scenario should match."""
    ids = [t["id"] for t in tournaments]
    escrows = [t["escrow"] for t in tournaments]
    with psycopg.connect(f"{PG_SERVER}/{database}") as conn:
        one = lambda sql, params: conn.execute(sql, params).fetchone()[0]  # noqa: E731
        return {
            "participants": one(
                "SELECT count(*) FROM tournaments_participant WHERE tournament_id = ANY(%s)", [ids]
            ),
            "members": one(
                "SELECT count(*) FROM tournaments_participantmember WHERE tournament_id = ANY(%s)",
                [ids],
            ),
            "events": one(
                "SELECT count(*) FROM tournaments_tournamentevent WHERE tournament_id = ANY(%s)",
                [ids],
            ),
            "postings": one(
                "SELECT count(*) FROM wallets_posting WHERE tournament_id = ANY(%s)", [ids]
            ),
            "entries": one(
                "SELECT count(*) FROM wallets_entry e JOIN wallets_posting p "
                "ON p.id = e.posting_id WHERE p.tournament_id = ANY(%s)",
                [ids],
            ),
            "participant_count": int(
                one(
                    "SELECT sum(participant_count) FROM tournaments_tournament WHERE id = ANY(%s)",
                    [ids],
                )
            ),
            "escrow_balance": int(
                one("SELECT sum(balance) FROM wallets_account WHERE id = ANY(%s)", [escrows])
            ),
        }


def tasks_queued(url: str) -> int:
    """Messages waiting in Celery's default queue (a Redis list named "celery")."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        return client.llen("celery")
    finally:
        client.close()


def ledger_balanced(database: str) -> bool:
    """The ledger's invariant: all balances sum to zero, and each equals its entries."""
    with psycopg.connect(f"{PG_SERVER}/{database}") as conn:
        total = conn.execute("SELECT sum(balance) FROM wallets_account").fetchone()[0]
        drift = conn.execute(
            "SELECT count(*) FROM wallets_account a WHERE a.balance <> "
            "(SELECT coalesce(sum(amount), 0) FROM wallets_entry e WHERE e.account_id = a.id)"
        ).fetchone()[0]
    return total == 0 and drift == 0


CPU_COLUMNS = (("server", 6), ("postgres", 8), ("client", 6), ("machine", 7))


def _cpu_cell(result: PhaseResult, part: str, width: int) -> str:
    value = result.cpu_ms_per_join(part)
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.1f}"


def report(results: list[PhaseResult], floor: PhaseResult) -> dict[str, float]:
    """Print the table and the ratios; return the ratios: ``<scenario>`` is http/raw,
    ``floor-<scenario>`` the floor's rate over raw, ``<phase>/floor`` a write's rate over
    the floor's through the same server, and ``<phase>/floor-cpu`` the floor's server CPU
    per request over the write's (the same goal read from the CPU: at least 0.5)."""
    header = (
        f"{'scenario':<8} {'path':<5} {'joins':>6} {'failed':>6} {'seconds':>8} "
        f"{'joins/s':>8} {'p50 ms':>7} {'p95 ms':>7}   cpu ms/join: "
        f"{'server':>6} {'postgres':>8} {'client':>6} {'machine':>7}"
    )
    print()
    print(header)
    print("-" * len(header))
    for r in [*results, floor]:
        print(
            f"{r.scenario:<8} {r.path:<5} {r.joins:>6} {r.attempted - r.joins:>6} "
            f"{r.seconds:>8.2f} {r.rate:>8.1f} {r.percentile_ms(50):>7.1f} "
            f"{r.percentile_ms(95):>7.1f}{'':>16}"
            + " ".join(_cpu_cell(r, part, width) for part, width in CPU_COLUMNS)
        )
    ratios = {}
    by_key = {(r.scenario, r.path): r for r in results}
    print()
    for scenario in SCENARIOS:
        raw = by_key[(scenario, "raw")].rate
        ratios[scenario] = round(by_key[(scenario, "http")].rate / raw, 3) if raw else 0.0
        print(f"http/raw {scenario:<7} {ratios[scenario]:.2f}")
        if raw:
            ceiling = floor.rate / raw
            ratios[f"floor-{scenario}"] = round(ceiling, 3)
            print(f"floor/raw {scenario:<6} {ceiling:.2f}   (GET /api/me against raw joins)")
    floor_cpu = floor.cpu_ms_per_join("server")
    for r in results:
        if r.path != "http" or not floor.rate:
            continue
        name = "join-" + r.scenario if r.scenario in SCENARIOS else r.scenario
        ratios[f"{name}/floor"] = round(r.rate / floor.rate, 3)
        cpu = r.cpu_ms_per_join("server")
        line = f"{name + '/floor':<18} {r.rate / floor.rate:.2f}"
        if cpu and floor_cpu:
            ratios[f"{name}/floor-cpu"] = round(floor_cpu / cpu, 3)
            line += f"   server CPU {cpu:.1f} against {floor_cpu:.1f} ms: {floor_cpu / cpu:.2f}"
        print(line + "   (goal >= 0.50)")
    for r in [*results, floor]:
        failures = {k: v for k, v in r.outcomes.items() if k != "ok"}
        if failures:
            print(f"failures {r.scenario}/{r.path}: {failures}")
    return ratios


# --- Main ------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--teams", type=int, default=400, help="joins per phase (default 400)")
    parser.add_argument("--team-size", type=int, default=5, help="players per team (2..16)")
    parser.add_argument("--threads", type=int, default=8, help="client threads per path")
    parser.add_argument(
        "--tournaments",
        type=int,
        default=50,
        help='tournaments of the "across" scenario (default 50)',
    )
    parser.add_argument(
        "--reports", type=int, default=400, help="reports per report phase (default 400; 0: none)"
    )
    parser.add_argument("--server", choices=SERVERS, default="daphne", help="default daphne")
    parser.add_argument(
        "--processes", type=int, default=1, help="server processes (gunicorn: workers)"
    )
    parser.add_argument(
        "--server-threads", type=int, default=8, help="gunicorn's threads per worker (8)"
    )
    parser.add_argument("--py-spy", metavar="PATH", help="profile the http phases with py-spy")
    parser.add_argument("--label", default="", help="added to the results' file names")
    parser.add_argument("--database", default="atom_bench", help="dropped and recreated!")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    if not 2 <= args.team_size <= 16:
        parser.error("--team-size must be 2..16 (a team tournament)")
    if args.teams < 1 or args.threads < 1 or args.tournaments < 1:
        parser.error("--teams, --threads and --tournaments must be positive")
    if args.reports < 0 or args.processes < 1 or args.server_threads < 1:
        parser.error("--reports must be 0 or more, --processes and --server-threads positive")
    return args


def main() -> None:
    args = parse_args()
    env = app_env(args.database, redis_url=REDIS_URL)
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"joins-{stamp}" + (f"-{args.label}" if args.label else "")
    servers = None
    try:
        print(f"database {args.database}: recreate and migrate")
        database_recreate(args.database)
        redis_flush(REDIS_URL)
        manage(env, "migrate", "--noinput", "--verbosity", "0")
        plan = setup_plan(args)
        data = setup_run(env, plan)
        database_maintain(args.database, analyze=True)
        redis_flush(REDIS_URL)  # the setup's notification tasks
        teams, tournaments, reports = data["teams"], data["tournaments"], data["reports"]

        servers = app_servers_start(
            args.server,
            processes=args.processes,
            threads=args.server_threads,
            env=env,
            log_path=RESULTS_DIR / f"{name}-{args.server}.log",
        )
        print(servers.describe())
        ports = servers.ports
        measure = functools.partial(cpu_snapshot, servers)

        def profiled(label: str, run):
            """``run()``, recorded by py-spy (``--py-spy``) in every serving process."""
            if not args.py_spy:
                return run()
            profilers = profiler_start(args.py_spy, servers.pids(), RESULTS_DIR / f"{name}-{label}")
            try:
                return run()
            finally:
                profiler_stop(profilers)

        # Warm-up, not timed: the server's first requests import code and open pool
        # connections (in every worker); psycopg prepares a statement after its 5th use on a
        # connection.
        warm = teams[: min(len(teams), 4 * args.threads * args.processes)]
        http_phase(ports, jobs_for("one", warm, tournaments["warmup-http"]), args.threads)
        raw_phase(args.database, jobs_for("one", warm, tournaments["warmup-raw"]), args.threads)
        if reports:
            for phase in REPORT_PHASES:
                report_phase(ports, phase, reports["warmup-report"][: len(warm)], args.threads)

        results, checks = [], {}
        for scenario in SCENARIOS:
            for path in PATHS:
                group = tournaments[f"{scenario}-{path}"]
                jobs = jobs_for(scenario, teams, group)
                database_maintain(args.database)
                print(
                    f"{scenario}/{path}: {len(jobs)} joins into {len(group)} tournament(s), "
                    f"{args.threads} threads"
                )
                if path == "http":
                    outcome = profiled(
                        f"{scenario}-http",
                        lambda jobs=jobs: http_phase(ports, jobs, args.threads, measure),
                    )
                else:
                    outcome = raw_phase(args.database, jobs, args.threads, measure)
                results.append(PhaseResult(scenario, path, len(jobs), *outcome))
                checks[f"{scenario}-{path}"] = rows_written(args.database, group)

        if reports:
            timed = reports["report"][: args.reports]
            for phase in REPORT_PHASES:
                database_maintain(args.database)
                print(f"{phase}: {len(timed)} reports, {args.threads} threads")
                outcome = profiled(
                    phase,
                    lambda phase=phase: report_phase(ports, phase, timed, args.threads, measure),
                )
                results.append(PhaseResult(phase, "http", len(timed), *outcome))

        database_maintain(args.database)
        print(f"floor: {len(teams)} GET /api/me, {args.threads} threads")
        outcome = profiled("floor", lambda: floor_phase(ports, teams, args.threads, measure))
        floor = PhaseResult("floor", "http", len(teams), *outcome)
        ratios = report(results, floor)
        for scenario in SCENARIOS:
            if checks[f"{scenario}-http"] != checks[f"{scenario}-raw"]:
                print(
                    f"WARNING {scenario}: http and raw wrote different rows: "
                    f"{checks[f'{scenario}-http']} vs {checks[f'{scenario}-raw']}"
                )
        balanced = ledger_balanced(args.database)
        if not balanced:
            print("WARNING: the ledger does not balance")
        # No worker runs: every team join's and completed match's notification task is
        # still on the broker.
        queued = tasks_queued(REDIS_URL)
        print(f"notification tasks on the broker: {queued}")

        out = RESULTS_DIR / f"{name}.json"
        gunicorn_threads = args.server_threads if args.server == "gunicorn" else None
        out.write_text(
            json.dumps(
                {
                    "started_at": stamp,
                    "command": " ".join(sys.argv),
                    "args": vars(args),
                    "setup": {
                        "entry_fee": ENTRY_FEE,
                        "server": args.server,
                        "server_processes": args.processes,
                        "server_threads": gunicorn_threads,
                        "ports": ports,
                        "cpus": os.cpu_count(),
                        "python": platform.python_version(),
                        "psycopg": psycopg.__version__,
                        "load_average": os.getloadavg(),
                    },
                    "tasks_queued": queued,
                    "results": [r.as_dict() for r in results],
                    "floor": floor.as_dict(),
                    "ratios": ratios,
                    "rows_written": checks,
                    "ledger_balanced": balanced,
                },
                indent=2,
            )
            + "\n"
        )
        print(f"\nwritten {out.relative_to(PROJECT_DIR)}")
    finally:
        if servers is not None:
            servers.stop()
        redis_flush(REDIS_URL)
        if args.keep:
            print(f"kept database {args.database}")
        else:
            database_drop(args.database)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--setup-child":
        setup_child(sys.argv[2], sys.argv[3])
    else:
        main()
