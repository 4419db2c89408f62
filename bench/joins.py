"""Team-join throughput: the HTTP API against the same transaction in raw SQL, one run.

What is measured
----------------
A *join* is one team of ``--team-size`` funded players registering for a tournament that
charges every member an entry fee (``tournaments.services.tournament_join``). Two paths do
the same number of joins from the same number of client threads:

* **http** - ``POST /api/tournaments/{id}/join`` with ``{"team": id}`` and the captain's
  ``Authorization: Token``, served by ONE daphne process run production-like (``DEBUG=0``,
  PostgreSQL, Redis; tasks go to the broker, ``CELERY_TASK_ALWAYS_EAGER=0``, so a team
  join enqueues its notification on Redis as in production; no worker runs them). Each
  client thread keeps one keep-alive connection (stdlib ``http.client``). Everything the
  app does per request is in the number: middleware, token auth, reading the tournament
  and the team, the transaction, rendering, the after-commit publish and enqueue.
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

The table shows joins (successful ones: 201 / committed; "failed" counts the rest, broken
down below the table), seconds, joins per second, median and 95th-percentile latency, and
the ratio http / raw per scenario. The issue's goal is http >= 0.5 x raw for 5-member
teams. The CPU columns (Linux only) say where the cores went during the timed window, in
CPU milliseconds per join: ``daphne`` (the server process, all threads), ``postgres``
(all its processes), ``client`` (this process's client threads) and ``machine`` (every
core's busy time, so also anything else running on the machine: a test suite running
beside the benchmark shows up there, and slows both paths). Results also go
to ``bench/results/joins-<timestamp>.json`` (daphne's log beside it). Nothing is asserted:
this is a hand-run tool.

How to run (from the project root, PostgreSQL on 127.0.0.1:5432 with trust auth for
user postgres, Redis on 127.0.0.1:6379)::

    .venv/bin/python bench/joins.py                      # 400 teams of 5, 8 threads
    .venv/bin/python bench/joins.py --teams 800 --threads 16 --keep

It drops and recreates the database ``atom_bench`` (``--database``), migrates it, creates
players, wallets, deposits, teams and tournaments through the app's own services (in a
child process, with a fast password hasher: only the joins are timed), starts daphne on a
free port (``--port``), runs the phases, stops daphne and drops the database (unless
``--keep``). It uses Redis database 14 (flushed at the start and at the end: the queued
notification tasks) and touches nothing else.

The floor
---------
After the joins, one more http phase (``floor``) sends the same number of the cheapest
authenticated API request, ``GET /api/me`` with each captain's token (token auth, one
indexed SELECT, a small JSON body), through the same daphne process from the same
threads. It is what the stack costs per request before a join does anything: its rate
against the raw join rate is the ceiling of http/raw on this machine.

Phase order: warm-up (http, then raw; not timed), then per scenario http, then raw, each
after a CHECKPOINT so that neither pays for the other's dirty pages. Client threads run on
the same machine as daphne and PostgreSQL and share its cores with them. The benchmark
runs the app code of the working tree as it is. After the phases it checks that http and
raw wrote the same rows per scenario and that the ledger balances, and warns if not.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.client
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
    app_env,
    daphne_start,
    database_drop,
    database_maintain,
    database_recreate,
    free_port,
    manage,
    process_cpu,
    process_stop,
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


# --- Setup, through the app's services (runs in a child process) ------------------------------


def setup_plan(args: argparse.Namespace) -> dict:
    """How many tournaments each phase gets. Each holds at most 1024 teams."""
    least = math.ceil(args.teams / MAX_PARTICIPANTS)
    groups = {"warmup-http": 1, "warmup-raw": 1}
    for path in PATHS:
        groups[f"across-{path}"] = max(args.tournaments, least)
        groups[f"one-{path}"] = least
    return {"teams": args.teams, "team_size": args.team_size, "groups": groups}


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

    from tournaments.models import TeamMember
    from tournaments.serializers import TournamentSerializer
    from tournaments.services import team_create, tournament_create
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

    Path(out_path).write_text(json.dumps({"teams": teams, "tournaments": tournaments}))
    users = plan["teams"] * plan["team_size"]
    print(
        f"  setup: {users} players, {plan['teams']} teams, "
        f"{sum(plan['groups'].values())} tournaments in {time.monotonic() - started:.1f} s"
    )


def _user(pk: int):
    from users.models import User

    return User.objects.get(pk=pk)


# --- CPU accounting (Linux /proc; skipped elsewhere) ------------------------------------------


def cpu_snapshot(daphne_pid: int) -> dict[str, float]:
    """CPU seconds used so far, by part. On a small machine everything shares the cores, so
    this shows where a join's CPU goes:

    * ``daphne``: the server process, all its threads;
    * ``postgres``: every PostgreSQL process alive at both snapshots (the backends of the
      clients and of daphne's pool are: they are opened before the clock starts);
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
        snapshot["daphne"] = process_cpu(f"/proc/{daphne_pid}/stat", tick)[1]
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
                part: round(self.cpu_ms_per_join(part), 2) for part in self.cpu_seconds
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


def _keep_alive_phase(port: int, jobs: list, threads: int, do_job, measure):
    """``do_job(conn, job)`` for every job over keep-alive connections to daphne, one each."""

    def open_client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.connect()  # before the clock starts, like the raw path's connections
        return conn

    return run_concurrently(jobs, threads, open_client, do_job, lambda conn: conn.close(), measure)


def http_phase(port: int, jobs: list[tuple], threads: int, measure=dict):
    def do_job(conn, job):
        tournament, team = job
        conn.request(
            "POST",
            f"/api/tournaments/{tournament['id']}/join",
            body=json.dumps({"team": team["id"]}),
            headers={"Authorization": f"Token {team['token']}", "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        body = response.read()
        if response.status == 201:
            return "ok"
        try:
            code = json.loads(body).get("code", "")
        except ValueError:
            code = ""
        return f"{response.status} {code}".strip()

    return _keep_alive_phase(port, jobs, threads, do_job, measure)


def floor_phase(port: int, teams: list[dict], threads: int, measure=dict):
    """``GET /api/me`` with each captain's token: the cheapest authenticated request."""

    def do_job(conn, team):
        conn.request("GET", "/api/me", headers={"Authorization": f"Token {team['token']}"})
        response = conn.getresponse()
        response.read()
        return "ok" if response.status == 200 else str(response.status)

    return _keep_alive_phase(port, teams, threads, do_job, measure)


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
                "(tournament_id, team_id, captain_id, name, seed, status, created_at) "
                "VALUES (%s, %s, %s, %s, NULL, 'registered', %s) RETURNING id",
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


CPU_COLUMNS = (("daphne", 6), ("postgres", 8), ("client", 6), ("machine", 7))


def _cpu_cell(result: PhaseResult, part: str, width: int) -> str:
    value = result.cpu_ms_per_join(part)
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.1f}"


def report(results: list[PhaseResult], floor: PhaseResult) -> dict[str, float]:
    header = (
        f"{'scenario':<8} {'path':<5} {'joins':>6} {'failed':>6} {'seconds':>8} "
        f"{'joins/s':>8} {'p50 ms':>7} {'p95 ms':>7}   cpu ms/join: "
        f"{'daphne':>6} {'postgres':>8} {'client':>6} {'machine':>7}"
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
        print(f"http/raw {scenario:<7} {ratios[scenario]:.2f}   (goal >= 0.50)")
        if raw:
            ceiling = floor.rate / raw
            ratios[f"floor-{scenario}"] = round(ceiling, 3)
            print(f"floor/raw {scenario:<6} {ceiling:.2f}   (GET /api/me against raw joins)")
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
    parser.add_argument("--port", type=int, default=0, help="daphne's port (default: a free one)")
    parser.add_argument("--database", default="atom_bench", help="dropped and recreated!")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    if not 2 <= args.team_size <= 16:
        parser.error("--team-size must be 2..16 (a team tournament)")
    if args.teams < 1 or args.threads < 1 or args.tournaments < 1:
        parser.error("--teams, --threads and --tournaments must be positive")
    return args


def main() -> None:
    args = parse_args()
    env = app_env(args.database, redis_url=REDIS_URL)
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    port = args.port or free_port()
    daphne = None
    try:
        print(f"database {args.database}: recreate and migrate")
        database_recreate(args.database)
        redis_flush(REDIS_URL)
        manage(env, "migrate", "--noinput", "--verbosity", "0")
        plan = setup_plan(args)
        data = setup_run(env, plan)
        database_maintain(args.database, analyze=True)
        teams, tournaments = data["teams"], data["tournaments"]

        print(f"daphne (1 process) on 127.0.0.1:{port}")
        daphne = daphne_start(env, port, RESULTS_DIR / f"daphne-{stamp}.log")

        # Warm-up, not timed: daphne's first requests import code and open pool connections;
        # psycopg prepares a statement after its 5th use on a connection.
        warm = teams[: min(len(teams), 4 * args.threads)]
        http_phase(port, jobs_for("one", warm, tournaments["warmup-http"]), args.threads)
        raw_phase(args.database, jobs_for("one", warm, tournaments["warmup-raw"]), args.threads)

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
                measure = functools.partial(cpu_snapshot, daphne.pid)
                if path == "http":
                    seconds, outcomes, latencies, cpu = http_phase(
                        port, jobs, args.threads, measure
                    )
                else:
                    seconds, outcomes, latencies, cpu = raw_phase(
                        args.database, jobs, args.threads, measure
                    )
                results.append(
                    PhaseResult(scenario, path, len(jobs), seconds, outcomes, latencies, cpu)
                )
                checks[f"{scenario}-{path}"] = rows_written(args.database, group)

        print(f"floor: {len(teams)} GET /api/me, {args.threads} threads")
        floor = PhaseResult(
            "floor", "http", len(teams),
            *floor_phase(port, teams, args.threads, functools.partial(cpu_snapshot, daphne.pid)),
        )  # fmt: skip
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
        # No worker runs: every team join's notification task is still on the broker.
        queued = tasks_queued(REDIS_URL)
        print(f"notification tasks on the broker: {queued}")

        out = RESULTS_DIR / f"joins-{stamp}.json"
        out.write_text(
            json.dumps(
                {
                    "started_at": stamp,
                    "args": vars(args) | {"port": port},
                    "setup": {
                        "entry_fee": ENTRY_FEE,
                        "daphne_processes": 1,
                        "cpus": os.cpu_count(),
                        "python": platform.python_version(),
                        "psycopg": psycopg.__version__,
                        "load_average": os.getloadavg(),
                    },
                    "tasks_queued": queued,
                    "results": [r.as_dict() for r in results],
                    "floor": floor.as_dict(),
                    "ratio_http_over_raw": ratios,
                    "rows_written": checks,
                    "ledger_balanced": balanced,
                },
                indent=2,
            )
            + "\n"
        )
        print(f"\nwritten {out.relative_to(PROJECT_DIR)}")
    finally:
        if daphne is not None:
            process_stop(daphne)
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
