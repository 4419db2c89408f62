"""Live fan-out: N spectators of one tournament, events from real result reports, against a
raw broadcast under the same server, one run.

What is measured
----------------
* **app** - the project under daphne or uvicorn (one process, ``DEBUG=0``, PostgreSQL,
  Redis): N WebSockets on ``/ws/tournaments/{id}/?since=V`` (resuming at the current
  version, so no snapshot), while the driver posts first reports
  (``POST /api/matches/{id}/report``, each one ``match.updated`` event) at R per second.
  Every event goes the production way: commit, ``on_commit`` publish to the Redis channel
  layer, the process's hub, every socket's outbox.
* **raw** - under the same server, an ASGI app that keeps its sockets' ``send`` callables
  and hands each one the same pre-encoded frame (same size as the app's) on
  ``GET /broadcast?v=N`` (``bench/raw_broadcast.py``).
* **websockets** - a bare ``websockets`` server broadcasting the same way
  (``websockets.broadcast``), once per run.

The driver is open-loop: the i-th trigger of a phase starts at start + i/R on one of
``TRIGGER_THREADS`` keep-alive connections, whatever became of the earlier ones, so a
server that falls behind shows it as latency (a closed loop would slow the driver down
and hide it); ``trigger_lag_ms`` says how late the latest trigger started. Before the
timed phases, ``--warmup`` untimed events (default 3) go through the fresh process. After
a phase the driver waits until every expected frame has arrived (at least 3 s, at most
30 s), so late frames count as late, not as lost; ``versions_short`` lists the versions
some spectator did not get.

App latency runs from the event row's ``created_at`` (taken in the committing
transaction) to each receipt; raw, from the trigger; all on one machine-wide monotonic
clock. Deliveries/s is the frames received by all spectators divided by the time from the
first trigger to the last receipt of the phase. The server's resident memory is sampled
after the warm-up and after each phase; ``--soak SECONDS`` adds a long app phase at 5
events/s for the memory-growth check. ``--py-spy PATH`` records each app phase with
py-spy (``--format raw``, beside the results).

The spectators are one Node process (``bench/fanout_client.mjs``, the ``ws`` package,
``npm ci`` in ``bench/``): it reads each frame's version without parsing the JSON, and
the table shows its CPU beside the server's, so that one can see it is not the
bottleneck.

How to run (PostgreSQL on 127.0.0.1:5432 with trust auth for user postgres, Redis on
127.0.0.1:6379; ``.venv/bin/pip install -e ".[bench]"`` and ``npm ci --prefix bench``)::

    .venv/bin/python bench/fanout.py                     # 1,000 spectators, 1/5/20 ev/s
    .venv/bin/python bench/fanout.py --servers daphne --rates 5 --soak 300 --no-websockets
    LIVE_DIRECT_WRITES=0 .venv/bin/python bench/fanout.py --servers daphne --kinds app

It drops and recreates the database ``atom_bench_fanout`` (``--database``), sets up a
64-player round robin (2,016 ready matches) through the app's services, uses (and
flushes) Redis database 12, its own, writes ``bench/results/fanout-<timestamp>.json`` and
drops the database at the end (unless ``--keep``). Nothing is asserted: this is a
hand-run tool.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
sys.path.insert(0, str(BENCH_DIR))

import common  # noqa: E402 - bench/ is on sys.path only from here
from common import database_drop, database_recreate, free_port, manage, redis_flush  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/12"  # its own: refunds.py flushes 13, joins.py uses 14
PLAYERS = 64  # a round robin of 64: 2,016 matches, all ready at the start (--players)
PASSWORD = "bench-Fanout-pass-4821"
DRAIN_SECONDS = 3.0  # after a phase's last trigger, at least
DRAIN_LIMIT = 30.0  # and at most, waiting for every expected frame
BACKLOG = 50  # daphne's listen backlog (--backlog); uvicorn's is 2,048
WARMUP_EVENTS = 3  # untimed events after the sockets connect (first request, first publish)


# --- Environment, database, processes --------------------------------------------------------


def app_env(database: str) -> dict[str, str]:
    """The app's environment (``common.app_env``), with tasks run in-process: the reports'
    notifications go to players without an email address, so they send nothing."""
    return common.app_env(database, redis_url=REDIS_URL, CELERY_TASK_ALWAYS_EAGER="1")


def _rss_sample(pid: int, series: list, done: threading.Event) -> None:
    while not done.wait(10):
        series.append(round(rss_mib(pid), 1))


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()  # fields[0] is field 3 (state)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- Setup (child process, the app's own services) ---------------------------------------------


def setup_child(out_path: str, players: int) -> None:
    sys.path.insert(0, str(PROJECT_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    import django

    django.setup()
    from django.test.utils import override_settings
    from rest_framework.authtoken.models import Token

    from matches.models import Match, MatchReport
    from matches.serializers import MatchSerializer
    from matches.services import tournament_start
    from tournaments.events import event_frame
    from tournaments.services import tournament_create, tournament_join
    from users.services import user_register

    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        organizer, _ = user_register(username="bench-organizer", password=PASSWORD)
        tournament = tournament_create(
            organizer=organizer, name="Fan-out", format="round_robin", max_participants=players
        )
        for i in range(players):
            user, _ = user_register(username=f"bench-p{i:03d}", password=PASSWORD)
            tournament_join(tournament_id=tournament.pk, user=user)
        tournament_start(tournament_id=tournament.pk, user=organizer)
    tokens = {t.user_id: t.key for t in Token.objects.all()}
    matches = list(
        Match.objects.filter(tournament=tournament)
        .select_related("participant_a", "participant_b")
        .order_by("round", "position")
    )
    sample = matches[0]
    sample.loaded_reports = [
        MatchReport(participant_id=sample.participant_a_id, winner_id=sample.participant_a_id)
    ]
    sample.status = Match.Status.AWAITING_CONFIRMATION
    frame = event_frame(
        version=10**4, name="match.updated", data={"match": MatchSerializer(sample).data}
    )
    Path(out_path).write_text(
        json.dumps(
            {
                "tournament": tournament.pk,
                "frame_bytes": len(frame.encode()),
                # Every match's first report (side a: match.updated), then every match's
                # confirmation by side b (match.completed): one event per report, two
                # reports per match.
                "reports": [
                    (m.pk, m.participant_a_id, tokens[m.participant_a.captain_id]) for m in matches
                ]
                + [
                    (m.pk, m.participant_a_id, tokens[m.participant_b.captain_id])
                    for m in matches[:-1]  # the last one would complete the tournament
                ],
            }
        )
    )


def setup_run(env: dict[str, str], players: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "setup.json"
        subprocess.run(
            [sys.executable, __file__, "--setup-child", str(out), str(players)],
            cwd=PROJECT_DIR,
            env=env,
            check=True,
        )
        return json.loads(out.read_text())


# --- Servers and the spectator client ------------------------------------------------------


def server_start(
    kind: str, server: str, port: int, env: dict, log: Path, *, backlog: int = BACKLOG
) -> subprocess.Popen:
    """``kind`` app (the project) or raw (bench/raw_broadcast.py); ``server`` daphne,
    uvicorn or websockets (raw only)."""
    if server == "websockets":
        command, cwd = [sys.executable, "raw_broadcast.py", str(port)], BENCH_DIR
    else:
        module = "project.asgi:application" if kind == "app" else "raw_broadcast:application"
        cwd = PROJECT_DIR if kind == "app" else BENCH_DIR
        if server == "daphne":
            command = [sys.executable, "-m", "daphne", "-e", daphne_endpoint(port, backlog), module]
        else:
            command = [
                sys.executable,
                "-m",
                "uvicorn",
                module,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--lifespan",
                "off",
                "--no-access-log",
                "--log-level",
                "warning",
            ]
    handle = open(log, "ab")  # noqa: SIM115 - closed in server_stop
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=handle, stderr=subprocess.STDOUT)
    process.log = handle
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{server} exited with {process.returncode}; see {log}")
        with contextlib.suppress(OSError):
            if http_get(port, "/healthz")[0] == 200:
                return process
        time.sleep(0.3)
    server_stop(process)
    raise SystemExit(f"{server} did not answer /healthz within 60 s; see {log}")


def daphne_endpoint(port: int, backlog: int) -> str:
    """Daphne's listening socket with a listen backlog (``--backlog``; Twisted's default is
    50: a storm of connects overflows it, and the kernel drops the SYNs)."""
    return f"tcp:port={port}:interface=127.0.0.1:backlog={backlog}"


def server_stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    process.log.close()


def http_get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Spectators:
    def __init__(self, url: str, count: int, origin: str, out: Path):
        self.out = out
        self.process = subprocess.Popen(
            ["node", str(BENCH_DIR / "fanout_client.mjs"), url, str(count), origin, str(out)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.process.stdout.readline().split()
        if not line or line[0] != "ready":
            raise SystemExit(f"spectator client failed: {line}")
        self.open = int(line[1])

    def count(self) -> int:
        """Event frames received so far, by all spectators."""
        self.process.stdin.write("count\n")
        self.process.stdin.flush()
        return int(self.process.stdout.readline().split()[1])

    def wait_for(self, frames: int, *, at_least: float, at_most: float) -> None:
        """Sleep ``at_least`` seconds, then until ``frames`` have arrived or ``at_most``."""
        start = time.monotonic()
        time.sleep(at_least)
        while (got := self.count()) < frames:
            if time.monotonic() - start > at_most:
                print(f"  waited {at_most:g} s: {got} of {frames} frames", flush=True)
                return
            time.sleep(0.2)

    def stop(self) -> dict:
        self.process.stdin.write("stop\n")
        self.process.stdin.flush()
        self.process.stdout.readline()
        self.process.wait(timeout=60)
        data = json.loads(self.out.read_text())
        self.out.unlink()
        return data


# --- Triggers ------------------------------------------------------------------------------


class _Trigger:
    """One keep-alive connection per driver thread and server (``run_rate`` fires from a
    pool); with several servers (``--processes``), the i-th trigger goes to server i mod n,
    as a load balancer would spread them."""

    keep_alive = True

    def __init__(self, ports: int | list[int]):
        self.ports = [ports] if isinstance(ports, int) else list(ports)
        self.failures = 0
        self.local = threading.local()
        self.lock = threading.Lock()

    def _connection(self, port: int, *, fresh: bool = False) -> http.client.HTTPConnection:
        conns = self.local.__dict__.setdefault("conns", {})
        if fresh or port not in conns or not self.keep_alive:
            conns[port] = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        return conns[port]

    def request(self, method: str, path: str, body=None, headers=None, *, version=0) -> int:
        port = self.ports[version % len(self.ports)]
        conn = self._connection(port)
        try:
            conn.request(method, path, body, headers or {})
            response = conn.getresponse()
        except (ConnectionError, http.client.RemoteDisconnected):
            # The server closed the idle keep-alive connection (uvicorn: after 5 s); a
            # request that was never read is safe to send again.
            conn.close()
            conn = self._connection(port, fresh=True)
            conn.request(method, path, body, headers or {})
            response = conn.getresponse()
        response.read()
        return response.status

    def failed(self) -> None:
        with self.lock:
            self.failures += 1


class Reporter(_Trigger):
    """First reports through the REST API: each is one event."""

    def __init__(self, ports: int | list[int], reports: list):
        super().__init__(ports)
        self.reports = reports

    def job(self, version: int):
        return self.reports.pop(0)  # on the scheduling thread: each report once

    def trigger(self, version: int, job) -> None:
        match_id, winner, token = job
        status = self.request(
            "POST",
            f"/api/matches/{match_id}/report",
            json.dumps({"winner": winner}),
            {"Authorization": f"Token {token}", "Content-Type": "application/json"},
            version=version,
        )
        if status != 200:
            self.failed()


class Broadcaster(_Trigger):
    def __init__(self, port: int, keep_alive: bool):
        super().__init__(port)
        self.keep_alive = keep_alive  # the bare websockets server answers, then closes

    def job(self, version: int):
        return None

    def trigger(self, version: int, job) -> None:
        if self.request("GET", f"/broadcast?v={version}") != 204:
            self.failed()


TRIGGER_THREADS = 8


def warm_up(trigger, version: int, events: int) -> int:
    """Untimed events through fresh server processes: the first requests and publishes pay
    for lazy imports, connections and caches, and a timed phase should not. Returns the
    version after them."""
    for _ in range(events):
        version += 1
        trigger.trigger(version, trigger.job(version))
        time.sleep(0.3)
    return version


def run_rate(trigger, first_version: int, rate: float, seconds: float) -> tuple[dict, float]:
    """Open-loop: the i-th trigger is due at start + i / rate, whatever the answers to the
    earlier ones (a pool of connections, so a slow answer does not delay the next event and
    hide the queueing it causes). Returns (version -> sent ns, the latest start in ms after
    its due time). The app numbers its events at commit, so with concurrent requests the
    i-th trigger's version is only nearly ``first_version + i``: latencies are taken from
    the commit times, per version, not from these."""
    sent = {}
    count = max(1, round(rate * seconds))
    lag = 0.0
    with ThreadPoolExecutor(TRIGGER_THREADS, thread_name_prefix="trigger") as pool:
        futures = []
        start = time.monotonic()
        for i in range(count):
            due = start + i / rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            lag = max(lag, time.monotonic() - due)
            version = first_version + i
            sent[version] = time.monotonic_ns()
            futures.append(pool.submit(trigger.trigger, version, trigger.job(version)))
        for future in futures:
            future.result()
    return sent, round(lag * 1000, 1)


def commit_times(database: str, tournament: int, versions: list[int]) -> dict[int, int]:
    """When each event's row was written, on the monotonic clock: ``created_at`` is taken
    inside the transaction just before the INSERT, a millisecond or two before COMMIT."""
    import psycopg

    offset = time.time_ns() - time.monotonic_ns()
    with psycopg.connect(f"postgres://postgres@127.0.0.1:5432/{database}") as conn:
        rows = conn.execute(
            "SELECT version, extract(epoch FROM created_at)::numeric * 1000000000 FROM "
            "tournaments_tournamentevent WHERE tournament_id = %s AND version = ANY(%s)",
            [tournament, versions],
        ).fetchall()
    return {version: int(wall) - offset for version, wall in rows}


def phase_stats(name, rate, sent, client, spectators, cpu, rss, committed=None) -> dict:
    base = client["base"]
    latencies, received, last = [], 0, 0
    from_request = []
    for version, at in sent.items():
        start = committed.get(version, at) if committed else at
        for rel in client["arrivals"].get(str(version), []):
            arrival = base + rel
            latencies.append((arrival - start) / 1e6)
            from_request.append((arrival - at) / 1e6)
            last = max(last, arrival)
            received += 1
    expected = len(sent) * spectators
    short = [v for v in sent if len(client["arrivals"].get(str(v), [])) < spectators]
    span = (last - min(sent.values())) / 1e9 if received else 0
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0] * 99
    return {
        "target": name,
        "rate": rate,
        "events": len(sent),
        "expected": expected,
        "received": received,
        "deliveries_per_s": round(received / span, 1) if span else 0,
        "latency_from": "commit" if committed else "trigger",
        "p50_ms": round(quantiles[49], 1),
        "p99_ms": round(quantiles[98], 1),
        "max_ms": round(max(latencies), 1) if latencies else 0,
        "p99_from_request_ms": round(statistics.quantiles(from_request, n=100)[98], 1)
        if len(from_request) > 1
        else 0,
        "cpu_s": cpu,
        "rss_mib": rss,
        "versions_short": _ranges(short),  # versions some spectator did not get
        # frames whose version was not one more than the socket's previous one
        "out_of_order": client.get("outOfOrder"),
    }


def _ranges(versions: list[int]) -> list[list[int]]:
    out: list[list[int]] = []
    for v in sorted(versions):
        if out and out[-1][1] == v - 1:
            out[-1][1] = v
        else:
            out.append([v, v])
    return out


def profiler_start(py_spy: str, pid: int, output: Path) -> subprocess.Popen:
    """py-spy recording ``pid`` (collapsed stacks, ``--format raw``) until profiler_stop."""
    profiler = subprocess.Popen(
        [py_spy, "record", "--pid", str(pid), "--format", "raw", "--rate", "200"]
        + ["--nonblocking", "--output", str(output)]
        + os.environ.get("BENCH_PY_SPY_OPTIONS", "").split(),  # e.g. "--idle --threads"
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1)
    return profiler


def profiler_stop(profiler: subprocess.Popen) -> None:
    profiler.send_signal(2)  # SIGINT: py-spy writes its output and exits
    profiler.wait(timeout=30)


def run_target(name, kind, server, port, env, args, setup, log, clients_cpu) -> list[dict]:
    process = server_start(kind, server, port, env, log, backlog=args.backlog)
    results = []
    try:
        if kind == "app":
            status, body = http_get(port, f"/api/tournaments/{setup['tournament']}")
            version = json.loads(body)["version"]
            path = f"/ws/tournaments/{setup['tournament']}/?since={version}"
            trigger = Reporter(port, setup["reports"])
        else:
            version, path = 0, "/ws"
            trigger = Broadcaster(port, keep_alive=server != "websockets")
        out = Path(tempfile.mkstemp(suffix=".json")[1])
        spectators = Spectators(
            f"ws://127.0.0.1:{port}{path}", args.spectators, f"http://127.0.0.1:{port}", out
        )
        version = warm_up(trigger, version, args.warmup)
        received = args.warmup * spectators.open
        spectators.wait_for(received, at_least=1, at_most=DRAIN_LIMIT)
        rss_start = rss_mib(process.pid)
        phases = [(rate, args.seconds) for rate in args.rates]
        if args.soak and kind == "app":
            phases.append((5.0, args.soak))
        sent_by_phase = []
        for number, (rate, seconds) in enumerate(phases):
            profiler = None
            if args.py_spy and kind == "app":
                profiler = profiler_start(
                    args.py_spy,
                    process.pid,
                    log.with_name(f"{log.stem}-{name.replace('/', '-')}-{number}-{rate:g}.txt"),
                )
            cpu = (cpu_seconds(process.pid), cpu_seconds(spectators.process.pid))
            series, sampling = [], threading.Event()  # RSS every 10 s (the soak's trend)
            sampler = threading.Thread(
                target=_rss_sample, args=(process.pid, series, sampling), daemon=True
            )
            sampler.start()
            sent, lag = run_rate(trigger, version + 1, rate, seconds)
            version += len(sent)
            received += len(sent) * spectators.open
            spectators.wait_for(received, at_least=DRAIN_SECONDS, at_most=DRAIN_LIMIT)
            cpu_used = {
                "server": round(cpu_seconds(process.pid) - cpu[0], 2),
                "client": round(cpu_seconds(spectators.process.pid) - cpu[1], 2),
            }
            if profiler is not None:
                profiler_stop(profiler)
            sampling.set()
            sampler.join()
            rss = {"after": round(rss_mib(process.pid), 1), "every_10_s": series}
            sent_by_phase.append((rate, sent, cpu_used, rss, lag))
        client = spectators.stop()
        for rate, sent, cpu_used, rss, lag in sent_by_phase:
            committed = (
                commit_times(args.database, setup["tournament"], list(sent))
                if kind == "app"
                else None
            )
            stats = phase_stats(
                name,
                rate,
                sent,
                client,
                spectators.open,
                cpu_used,
                {"start": round(rss_start, 1), **rss},
                committed,
            )
            stats.update(
                opened=spectators.open,
                closes=client["closes"],
                trigger_failures=trigger.failures,
                trigger_lag_ms=lag,
                seconds=len(sent) / rate,
            )
            results.append(stats)
            print(
                f"  {name:<18} {rate:>5g}/s  p50 {stats['p50_ms']:>8.1f} ms  p99 "
                f"{stats['p99_ms']:>8.1f} ms  {stats['deliveries_per_s']:>9.1f} deliveries/s  "
                f"{stats['received']}/{stats['expected']}  cpu server {cpu_used['server']} s "
                f"client {cpu_used['client']} s  rss {rss_start:.1f}->{rss['after']} MiB"
                + (f"  short {stats['versions_short']}" if stats["versions_short"] else "")
            )
    finally:
        server_stop(process)
    return results


# --- Many processes: one Redis, spectators spread over several server processes ------------


def clients_merged(clients: list[dict]) -> dict:
    """Several spectator clients' records as one (arrival times made absolute)."""
    arrivals: dict[str, list[float]] = {}
    closes: dict[str, int] = {}
    out_of_order = 0
    for client in clients:
        out_of_order += client["outOfOrder"]
        for version, times in client["arrivals"].items():
            arrivals.setdefault(version, []).extend(client["base"] + t for t in times)
        for code, n in client["closes"].items():
            closes[code] = closes.get(code, 0) + n
    return {"base": 0, "arrivals": arrivals, "closes": closes, "outOfOrder": out_of_order}


def run_processes(server: str, count: int, env: dict, args, setup: dict, log: Path) -> dict:
    """``count`` app processes of one server on one Redis and one database, each with its
    own ``--spectators`` (one Node client per process); reports at ``--processes-rate``
    spread over the processes. Every spectator must get every event once, in version
    order (the client counts per version; ``versions_short`` names what did not arrive),
    whichever process holds its socket and whichever took the report."""
    ports = [free_port() for _ in range(count)]
    processes, clients = [], []
    tournament = setup["tournament"]
    try:
        for port in ports:
            processes.append(server_start("app", server, port, env, log, backlog=args.backlog))
        version = json.loads(http_get(ports[0], f"/api/tournaments/{tournament}")[1])["version"]
        for port in ports:
            clients.append(
                Spectators(
                    f"ws://127.0.0.1:{port}/ws/tournaments/{tournament}/?since={version}",
                    args.spectators,
                    f"http://127.0.0.1:{port}",
                    Path(tempfile.mkstemp(suffix=".json")[1]),
                )
            )
        opened = sum(c.open for c in clients)
        trigger = Reporter(ports, setup["reports"])
        version = warm_up(trigger, version, args.warmup * count)  # through every process
        for client in clients:
            client.wait_for(args.warmup * count * client.open, at_least=1, at_most=DRAIN_LIMIT)
        pids = [p.pid for p in processes] + [c.process.pid for c in clients]
        cpu = [cpu_seconds(pid) for pid in pids]
        sent, lag = run_rate(trigger, version + 1, args.processes_rate, args.seconds)
        for client in clients:
            expected = (args.warmup * count + len(sent)) * client.open
            client.wait_for(expected, at_least=DRAIN_SECONDS, at_most=DRAIN_LIMIT)
        used = [round(cpu_seconds(pid) - before, 2) for pid, before in zip(pids, cpu, strict=True)]
        rss = {"after": [round(rss_mib(p.pid), 1) for p in processes]}
        data = [client.stop() for client in clients]
        clients = []
    finally:
        for client in clients:
            client.process.kill()
        for process in processes:
            server_stop(process)
    name = f"app/{server}x{count}"
    stats = phase_stats(
        name,
        args.processes_rate,
        sent,
        clients_merged(data),
        opened,
        {"servers": used[:count], "clients": used[count:]},
        rss,
        commit_times(args.database, tournament, list(sent)),
    )
    stats.update(
        processes=count, opened=opened, trigger_failures=trigger.failures, trigger_lag_ms=lag
    )
    print(
        f"  {name:<18} {args.processes_rate:>5g}/s  {opened} spectators  p50 "
        f"{stats['p50_ms']:>8.1f} ms  p99 {stats['p99_ms']:>8.1f} ms  "
        f"{stats['deliveries_per_s']:>9.1f} deliveries/s  {stats['received']}/{stats['expected']}"
        f"  out of order {stats['out_of_order']}  cpu servers {sum(used[:count]):.2f} s"
        f" clients {sum(used[count:]):.2f} s"
        + (f"  short {stats['versions_short']}" if stats["versions_short"] else "")
    )
    return stats


# --- The storm: many spectators opening the page at once, while others watch -----------------


class StormClient:
    """``bench/storm_client.mjs``: ``count`` sockets opened at once on ``go``."""

    def __init__(self, url: str, count: int, origin: str, out: Path):
        self.out, self.count_total = out, count
        self.process = subprocess.Popen(
            ["node", str(BENCH_DIR / "storm_client.mjs"), url, str(count), origin, str(out)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._ask_lock = threading.Lock()
        if self.process.stdout.readline().strip() != "ready":
            raise SystemExit("storm client failed to start")
        self.went_ns: int | None = None

    def _ask(self, command: str) -> str:
        with self._ask_lock:
            self.process.stdin.write(command + "\n")
            self.process.stdin.flush()
            return self.process.stdout.readline()

    def go(self) -> None:
        self.went_ns = time.monotonic_ns()
        self._ask("go")

    def counts(self) -> tuple[int, int, int]:
        """(snapshots, event frames, failed connections) so far."""
        _, snapshots, events, failed = self._ask("count").split()
        return int(snapshots), int(events), int(failed)

    def stop(self) -> dict:
        self._ask("stop")
        self.process.wait(timeout=60)
        data = json.loads(self.out.read_text())
        self.out.unlink()
        return data


def storm_stats(records: list[dict], went_ns: int, last_version: int) -> dict:
    """Per storm socket: its snapshot's delay from the moment it was opened, and whether the
    events after it are exactly every version from the snapshot's + 1 to the last one."""
    delays, complete, gaps, duplicates, unordered, short = [], 0, 0, 0, 0, 0
    no_snapshot = 0
    for record in records:
        if record["snapshot_at"] is None:
            no_snapshot += 1
            continue
        delays.append((record["snapshot_at"] - record["started"]) / 1e6)
        got = record["events"]
        expected = list(range(record["snapshot_version"] + 1, last_version + 1))
        if got == expected:
            complete += 1
            continue
        if len(set(got)) != len(got):
            duplicates += 1
        if got != sorted(got):
            unordered += 1
        if any(b - a > 1 for a, b in zip(got, got[1:], strict=False)) or (
            got and got[0] != record["snapshot_version"] + 1
        ):
            gaps += 1
        if not got or got[-1] < last_version:
            short += 1
    quantiles = statistics.quantiles(delays, n=100) if len(delays) > 1 else [0] * 99
    # The handshake alone: a listen backlog that overflows shows here (SYNs retried after
    # 1, 3, 7 s), before the application sees the socket.
    opens = [(r["opened"] - r["started"]) / 1e6 for r in records if r["opened"] is not None]
    open_quantiles = statistics.quantiles(opens, n=100) if len(opens) > 1 else [0] * 99
    closes: dict[str, int] = {}
    errors: dict[str, int] = {}
    for record in records:
        if record["close"] is not None:
            closes[str(record["close"])] = closes.get(str(record["close"]), 0) + 1
        if record["error"] is not None:
            errors[record["error"]] = errors.get(record["error"], 0) + 1
    return {
        "sockets": len(records),
        "snapshots": len(delays),
        "no_snapshot": no_snapshot,
        "open_p50_ms": round(open_quantiles[49], 1),
        "open_p99_ms": round(open_quantiles[98], 1),
        "snapshot_p50_ms": round(quantiles[49], 1),
        "snapshot_p99_ms": round(quantiles[98], 1),
        "snapshot_max_ms": round(max(delays), 1) if delays else None,
        "snapshots_within_5_s": sum(d <= 5000 for d in delays),
        "snapshot_bytes": max((r["snapshot_bytes"] for r in records), default=0),
        "snapshot_versions": sorted({r["snapshot_version"] for r in records if r["snapshot_at"]}),
        "events_complete": complete,
        "events_with_gaps": gaps,
        "events_duplicated": duplicates,
        "events_out_of_order": unordered,
        "events_short_of_the_last": short,
        "closes": closes,
        "errors": errors,
        "storm_span_ms": round(
            (max(r["snapshot_at"] for r in records if r["snapshot_at"]) - went_ns) / 1e6, 1
        )
        if delays
        else None,
    }


def _probe(port: int, probes: list, done: threading.Event, storm: StormClient) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while not done.wait(0.05):
        start = time.monotonic_ns()
        conn.request("GET", "/healthz")
        conn.getresponse().read()
        went = storm.went_ns or time.monotonic_ns()
        probes.append([round((start - went) / 1e6), round((time.monotonic_ns() - start) / 1e6)])
    conn.close()


def run_storm(server: str, port: int, env: dict, args, setup: dict, log: Path) -> dict:
    """A fresh app process; ``--storm-early`` spectators watching (resumed, no snapshot);
    reports at ``--storm-rate``; after ``--storm-after`` s, ``--storm`` spectators open the
    page at once and each gets a snapshot (its version moves on while they connect), then
    every later event. Reported: how long the snapshots took, whether every storm socket got
    every version after its snapshot exactly once and in order, and the early spectators'
    event latency while the storm was on."""
    process = server_start("app", server, port, env, log, backlog=args.backlog)
    tournament = setup["tournament"]
    origin = f"http://127.0.0.1:{port}"
    url = f"ws://127.0.0.1:{port}/ws/tournaments/{tournament}/"
    try:
        version = json.loads(http_get(port, f"/api/tournaments/{tournament}")[1])["version"]
        trigger = Reporter(port, setup["reports"])
        early = Spectators(
            f"{url}?since={version}", args.storm_early, origin, Path(tempfile.mkstemp()[1])
        )
        version = warm_up(trigger, version, args.warmup)
        received = args.warmup * early.open
        early.wait_for(received, at_least=1, at_most=DRAIN_LIMIT)
        storm = StormClient(url, args.storm, origin, Path(tempfile.mkstemp()[1]))
        cpu = (
            cpu_seconds(process.pid),
            cpu_seconds(early.process.pid),
            cpu_seconds(storm.process.pid),
        )
        rss_start = rss_mib(process.pid)
        profiler = None
        if args.py_spy:
            profiler = profiler_start(
                args.py_spy, process.pid, log.with_name(f"{log.stem}-storm-{server}.txt")
            )
        # The server's responsiveness on its own: a GET /healthz every 50 ms (ms after "go",
        # ms it took), on a connection of its own.
        probes, probing = [], threading.Event()
        prober = threading.Thread(target=_probe, args=(port, probes, probing, storm), daemon=True)
        prober.start()
        starter = threading.Timer(args.storm_after, storm.go)
        starter.start()
        sent, lag = run_rate(trigger, version + 1, args.storm_rate, args.storm_seconds)
        starter.join()
        version += len(sent)
        received += len(sent) * early.open
        early.wait_for(received, at_least=DRAIN_SECONDS, at_most=DRAIN_LIMIT)
        deadline = time.monotonic() + DRAIN_LIMIT
        while time.monotonic() < deadline:
            snapshots, _, failed = storm.counts()
            if snapshots + failed >= args.storm:
                break
            time.sleep(0.2)
        time.sleep(1)  # the last events to the last snapshots
        probing.set()
        prober.join()
        if profiler is not None:
            profiler_stop(profiler)
        cpu_used = {
            "server": round(cpu_seconds(process.pid) - cpu[0], 2),
            "early_client": round(cpu_seconds(early.process.pid) - cpu[1], 2),
            "storm_client": round(cpu_seconds(storm.process.pid) - cpu[2], 2),
        }
        rss = {"start": round(rss_start, 1), "after": round(rss_mib(process.pid), 1)}
        early_data = early.stop()
        storm_data = storm.stop()
    finally:
        server_stop(process)
    committed = commit_times(args.database, tournament, list(sent))
    stats = storm_stats(storm_data["records"], storm.went_ns, version)
    # The early spectators' latency over the whole phase, and over the events committed
    # while the storm was on (from "go" to the last snapshot delivered).
    whole = phase_stats(
        f"storm-early/{server}",
        args.storm_rate,
        sent,
        early_data,
        early.open,
        cpu_used,
        rss,
        committed,
    )
    storm_end = storm.went_ns + (stats["storm_span_ms"] or 0) * 1e6
    during = {v: at for v, at in sent.items() if storm.went_ns <= committed.get(v, at) <= storm_end}
    during_stats = (
        phase_stats(
            f"storm-early/{server}",
            args.storm_rate,
            during,
            early_data,
            early.open,
            cpu_used,
            rss,
            committed,
        )
        if during
        else None
    )
    # Per event: when it was committed (ms after "go") and when the early spectators got
    # it (slowest, ms after the commit): where in the storm the latency went.
    timeline = []
    for v, at in sorted(sent.items()):
        times = [early_data["base"] + t for t in early_data["arrivals"].get(str(v), [])]
        start_ns = committed.get(v, at)
        if times:
            timeline.append(
                [v, round((start_ns - storm.went_ns) / 1e6), round((max(times) - start_ns) / 1e6)]
            )
    result = {
        "target": f"storm/{server}",
        "went_ns": storm.went_ns,  # "go", on the monotonic clock of the machine
        "early_timeline": timeline,
        "healthz_probes": [p for p in probes if p[0] > -1000],
        "storm": stats,
        "early_whole_phase": whole,
        "early_during_storm": during_stats,
        "trigger_failures": trigger.failures,
        "trigger_lag_ms": lag,
        "cpu_s": cpu_used,
        "rss_mib": rss,
    }
    print(
        f"  storm/{server}: {stats['snapshots']}/{stats['sockets']} snapshots "
        f"(p50 {stats['snapshot_p50_ms']} ms, p99 {stats['snapshot_p99_ms']} ms, max "
        f"{stats['snapshot_max_ms']} ms, {stats['snapshots_within_5_s']} within 5 s; "
        f"open p50 {stats['open_p50_ms']} ms, p99 {stats['open_p99_ms']} ms), "
        f"{stats['events_complete']} with every later event; early spectators p99 "
        f"{whole['p99_ms']} ms (during the storm: "
        f"{during_stats['p99_ms'] if during_stats else '-'} ms, "
        f"{len(during)} events), {whole['received']}/{whole['expected']} frames; "
        f"cpu {cpu_used}"
    )
    return result


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spectators", type=int, default=1000)
    parser.add_argument(
        "--players", type=int, default=PLAYERS, help="round robin size (64: 2,016 matches)"
    )
    parser.add_argument(
        "--storm", type=int, default=0, help="storm phase: this many spectators connect at once"
    )
    parser.add_argument(
        "--backlog", type=int, default=BACKLOG, help="daphne's listen backlog (Twisted: 50)"
    )
    parser.add_argument("--storm-early", type=int, default=50, help="spectators already watching")
    parser.add_argument("--storm-rate", type=float, default=5, help="reports/s during the storm")
    parser.add_argument("--storm-seconds", type=float, default=15, help="reports for this long")
    parser.add_argument("--storm-after", type=float, default=2, help="s of reports before it")
    parser.add_argument(
        "--processes",
        default="",
        help="e.g. 1,4: app server processes on one Redis, --spectators each (a phase per count)",
    )
    parser.add_argument(
        "--processes-rate", type=float, default=2, help="reports/s of the --processes phases"
    )
    parser.add_argument(
        "--no-fanout", action="store_true", help="only the storm: skip the fan-out phases"
    )
    parser.add_argument("--rates", default="1,5,20", help="events per second, comma-separated")
    parser.add_argument("--seconds", type=float, default=15, help="per rate (default 15)")
    parser.add_argument("--soak", type=float, default=0, help="extra app phase at 5/s, seconds")
    parser.add_argument("--servers", default="daphne,uvicorn")
    parser.add_argument("--kinds", default="app,raw", help="app and/or raw, comma-separated")
    parser.add_argument("--no-websockets", action="store_true", help="skip the bare server")
    parser.add_argument("--warmup", type=int, default=WARMUP_EVENTS, help="untimed events first")
    parser.add_argument("--py-spy", help="path of a py-spy binary: profile each app phase")
    parser.add_argument("--database", default="atom_bench_fanout", help="dropped and recreated!")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    args.rates = [float(r) for r in args.rates.split(",")]
    args.servers = args.servers.split(",")
    args.processes = [int(n) for n in args.processes.split(",") if n]
    args.kinds = args.kinds.split(",")
    return args


def main() -> None:
    args = parse_args()
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    log = RESULTS_DIR / f"fanout-{stamp}.log"
    env = app_env(args.database) | {"REDIS_URL": REDIS_URL}
    try:
        print(f"database {args.database}: recreate, migrate, set up {args.players} players")
        database_recreate(args.database)
        redis_flush(REDIS_URL)  # groups and channels left by earlier runs
        manage(env, "migrate", "--noinput", "--verbosity", "0")
        setup = setup_run(env, args.players)
        needed = (
            (sum(args.rates) * args.seconds + args.warmup)
            * len(args.servers)
            * (not args.no_fanout)
            + 5 * args.soak
            + (args.storm_rate * args.storm_seconds + args.warmup)
            * len(args.servers)
            * bool(args.storm)
            + sum(args.processes_rate * args.seconds + args.warmup * n for n in args.processes)
            * len(args.servers)
        )
        if needed > len(setup["reports"]):
            raise SystemExit(f"{needed:g} reports needed, {len(setup['reports'])} matches")
        raw_env = dict(env, BENCH_FRAME_BYTES=str(setup["frame_bytes"]))
        print(f"{args.spectators} spectators; event frame {setup['frame_bytes']} bytes")
        results = []
        for server in args.servers if args.storm else []:
            results.append(run_storm(server, free_port(), env, args, setup, log))
        for server in args.servers:
            for count in args.processes:
                results.append(run_processes(server, count, env, args, setup, log))
        for server in args.servers if not args.no_fanout else []:
            for kind in args.kinds:
                name = f"{kind}/{server}"
                results += run_target(
                    name,
                    kind,
                    server,
                    free_port(),
                    env if kind == "app" else raw_env,
                    args,
                    setup,
                    log,
                    None,
                )
        if not args.no_websockets and not args.no_fanout:
            results += run_target(
                "raw/websockets", "raw", "websockets", free_port(), raw_env, args, setup, log, None
            )
        ratios = {}
        for server in args.servers:
            for rate in args.rates:
                app = next(
                    (r for r in results if r["target"] == f"app/{server}" and r["rate"] == rate),
                    None,
                )
                raw = next(
                    (r for r in results if r["target"] == f"raw/{server}" and r["rate"] == rate),
                    None,
                )
                if app is None or raw is None:
                    continue
                ratios[f"{server}@{rate:g}"] = {
                    "deliveries": round(app["deliveries_per_s"] / raw["deliveries_per_s"], 2)
                    if raw["deliveries_per_s"]
                    else None,
                    "p99": round(app["p99_ms"] / raw["p99_ms"], 2) if raw["p99_ms"] else None,
                }
                ratio = ratios[f"{server}@{rate:g}"]
                print(
                    f"app/raw {server} {rate:>4g}/s: deliveries x{ratio['deliveries']}"
                    f"  p99 x{ratio['p99']}"
                )
        common.results_write(
            f"fanout-{stamp}",
            stamp=stamp,
            args=args,
            frame_bytes=setup["frame_bytes"],
            results=results,
            app_over_raw=ratios,
        )
    finally:
        if not args.keep:
            database_drop(args.database)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--setup-child":
        setup_child(sys.argv[2], int(sys.argv[3]))
    else:
        main()
