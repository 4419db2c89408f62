"""Memory per idle spectator: N idle WebSockets in one server process, the app against a raw
ASGI app under the same server, one run.

What is measured
----------------
For each server (daphne, uvicorn) and each kind:

* **app** - the project (``project.asgi:application``, one process, ``DEBUG=0``,
  PostgreSQL, Redis, as ``bench/fanout.py`` runs it): N sockets on
  ``/ws/tournaments/{id}/?since=V`` of a small tournament, resuming at its current version,
  so each socket reads the log once (no events, no snapshot) and then only waits;
* **raw** - ``bench/raw_broadcast.py``'s application: it accepts and keeps each socket's
  ``send``, the least any ASGI app can hold per socket.

The server starts, a few sockets connect and disconnect (lazy imports, the first query,
the hub's first subscription: none of that is per socket), and its resident memory is read
once it has settled (``RSS_0``); then N spectators open (one Node process,
``bench/fanout_client.mjs``, a few at a time) and stay idle, and the memory is read again
once settled (``RSS_N``). KiB per socket = (RSS_N - RSS_0) / N; the issue's goal is app at
most 1.1 x raw under each server.

"Settled": sampled every second, at least ``--settle`` seconds after the last socket
opened, until three samples in a row are within 0.25 MiB and the server used less than
5% of a CPU in each of the last two seconds (at most 180 s): a socket is open before the
app has read the log for it, and those reads must be over. The collector runs by itself
as objects are made; nothing forces it.

How to run (PostgreSQL on 127.0.0.1:5432 with trust auth for user postgres, Redis on
127.0.0.1:6379; ``.venv/bin/pip install -e ".[bench]"`` and ``npm ci --prefix bench``)::

    flock /tmp/bench.lock .venv/bin/python bench/memory.py        # 10,000 sockets, ~5 min
    .venv/bin/python bench/memory.py --help   # --spectators --servers --kinds --settle ...

It raises its open-files limit to the hard limit (the servers and the Node client inherit
it: each holds one descriptor per socket), drops and recreates the database
``atom_bench_memory`` (``--database``), creates one tournament through the app's services,
uses (and flushes) Redis database 10, its own, writes
``bench/results/memory-<timestamp>.json`` (the servers' log beside it) and drops the
database at the end (unless ``--keep``). Nothing is asserted: this is a hand-run tool.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
sys.path.insert(0, str(BENCH_DIR))

import common  # noqa: E402 - bench/ is on sys.path only from here
from common import database_drop, database_recreate, free_port, manage, redis_flush  # noqa: E402
from fanout import (  # noqa: E402
    Spectators,
    cpu_seconds,
    http_get,
    rss_mib,
    server_start,
    server_stop,
)

REDIS_URL = "redis://127.0.0.1:6379/10"  # its own: snapshot.py 11, fanout.py 12, refunds.py 13
SPECTATORS = 10_000
WARMUP_SOCKETS = 20  # per round; two rounds before RSS_0
SETTLE_SECONDS = 5.0
SETTLE_LIMIT = 180.0
SETTLE_TOLERANCE_MIB = 0.25
SETTLE_IDLE_CPU = 0.05  # CPU seconds per second: the server has nothing left to do
FDS_SPARE = 1_000  # descriptors besides the sockets (modules, the database pool, Redis, logs)


def app_env(database: str) -> dict[str, str]:
    """The app's environment as bench/fanout.py gives it (tasks in-process), on Redis 10."""
    return common.app_env(database, redis_url=REDIS_URL, CELERY_TASK_ALWAYS_EAGER="1")


def fd_limit_raise(needed: int) -> int:
    """Raise this process's soft open-files limit to the hard one (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise SystemExit(f"open files: hard limit {hard} < {needed} needed; raise it first")
    if soft != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def setup_child(out_path: str) -> None:
    """A small open tournament (no participants, no matches), through the services."""
    sys.path.insert(0, str(PROJECT_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    import django

    django.setup()
    from django.test.utils import override_settings

    from tournaments.services import tournament_create
    from users.services import user_register

    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        organizer, _ = user_register(username="bench-organizer", password="bench-Memory-9137")
    tournament = tournament_create(
        organizer=organizer, name="Memory", format="single_elimination", max_participants=4
    )
    Path(out_path).write_text(json.dumps({"tournament": tournament.pk}))


def setup_run(env: dict[str, str]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "setup.json"
        subprocess.run(
            [sys.executable, __file__, "--setup-child", str(out)],
            cwd=PROJECT_DIR,
            env=env,
            check=True,
        )
        return json.loads(out.read_text())


def rss_settled(pid: int, *, at_least: float) -> tuple[float, list[float]]:
    """(RSS in MiB once three samples a second apart agree and the process is idle, the
    samples)."""
    time.sleep(at_least)
    samples, cpu = [rss_mib(pid)], [cpu_seconds(pid)]
    deadline = time.monotonic() + SETTLE_LIMIT
    while time.monotonic() < deadline:
        time.sleep(1)
        samples.append(rss_mib(pid))
        cpu.append(cpu_seconds(pid))
        last = samples[-3:]
        busy = [b - a for a, b in zip(cpu[-3:], cpu[-2:], strict=False)]
        if (
            len(last) == 3
            and max(last) - min(last) <= SETTLE_TOLERANCE_MIB
            and max(busy) < SETTLE_IDLE_CPU
        ):
            break
    else:
        print(f"  not settled within {SETTLE_LIMIT:g} s: {samples[-3:]} MiB", flush=True)
    return samples[-1], [round(s, 2) for s in samples]


def spectators_open(url: str, count: int, origin: str) -> Spectators:
    out = Path(tempfile.mkstemp(suffix=".json")[1])
    return Spectators(url, count, origin, out)


def run_target(kind: str, server: str, args, env: dict, setup: dict, log: Path) -> dict:
    port = free_port()
    process = server_start(kind, server, port, env, log)
    origin = f"http://127.0.0.1:{port}"
    try:
        if kind == "app":
            tournament = setup["tournament"]
            version = json.loads(http_get(port, f"/api/tournaments/{tournament}")[1])["version"]
            url = f"ws://127.0.0.1:{port}/ws/tournaments/{tournament}/?since={version}"
        else:
            url = f"ws://127.0.0.1:{port}/ws"
        # Untimed warm-up: whatever the first sockets load or build once (imports, the
        # first query and connection, the hub's channel) is not per socket.
        for _ in range(2):
            warm = spectators_open(url, args.warmup_sockets, origin)
            time.sleep(1)
            warm.stop()
        rss_0, samples_0 = rss_settled(process.pid, at_least=args.settle)
        started = time.monotonic()
        spectators = spectators_open(url, args.spectators, origin)
        open_seconds = time.monotonic() - started
        rss_n, samples_n = rss_settled(process.pid, at_least=args.settle)
        client = spectators.stop()
    finally:
        server_stop(process)
    opened = spectators.open
    per_socket = (rss_n - rss_0) * 1024 / opened if opened else None
    result = {
        "target": f"{kind}/{server}",
        "spectators": args.spectators,
        "opened": opened,
        "errors": client["errors"],
        "closed_by_server": client["closes"],  # before the client stopped: should be {}
        "frames": client["snapshots"] + sum(len(v) for v in client["arrivals"].values()),
        "open_seconds": round(open_seconds, 1),
        "rss_0_mib": round(rss_0, 1),
        "rss_n_mib": round(rss_n, 1),
        "kib_per_socket": round(per_socket, 2) if per_socket is not None else None,
        "rss_samples_0": samples_0,
        "rss_samples_n": samples_n,
    }
    print(
        f"  {result['target']:<15} RSS_0 {rss_0:7.1f} MiB  RSS_N {rss_n:7.1f} MiB  "
        f"{result['kib_per_socket']} KiB/socket  ({opened} open in {open_seconds:.1f} s, "
        f"{client['errors']} errors, closes {client['closes'] or 'none'})",
        flush=True,
    )
    return result


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spectators", type=int, default=SPECTATORS)
    parser.add_argument("--servers", default="daphne,uvicorn")
    parser.add_argument("--kinds", default="app,raw", help="app and/or raw, comma-separated")
    parser.add_argument("--warmup-sockets", type=int, default=WARMUP_SOCKETS)
    parser.add_argument(
        "--settle", type=float, default=SETTLE_SECONDS, help="s before RSS is sampled"
    )
    parser.add_argument("--database", default="atom_bench_memory", help="dropped and recreated!")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--label", default="", help="added to the results' file name")
    args = parser.parse_args()
    args.servers = args.servers.split(",")
    args.kinds = args.kinds.split(",")
    return args


def main() -> None:
    args = parse_args()
    fds = fd_limit_raise(args.spectators + FDS_SPARE)
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"memory-{stamp}{'-' + args.label if args.label else ''}"
    log = RESULTS_DIR / f"{name}.log"
    env = app_env(args.database)
    try:
        print(f"database {args.database}: recreate, migrate, one tournament")
        database_recreate(args.database)
        redis_flush(REDIS_URL)  # groups and channels left by earlier runs
        manage(env, "migrate", "--noinput", "--verbosity", "0")
        setup = setup_run(env)
        print(f"{args.spectators} idle spectators per target; open files limit {fds}")
        results = [
            run_target(kind, server, args, env, setup, log)
            for server in args.servers
            for kind in args.kinds
        ]
        ratios = {}
        for server in args.servers:
            app, raw = (
                next((r for r in results if r["target"] == f"{kind}/{server}"), None)
                for kind in ("app", "raw")
            )
            if app and raw and app["kib_per_socket"] and raw["kib_per_socket"]:
                ratios[server] = round(app["kib_per_socket"] / raw["kib_per_socket"], 3)
                print(f"app/raw {server}: x{ratios[server]} per socket (goal: at most 1.1)")
        common.results_write(
            name,
            stamp=stamp,
            args=args,
            load_average=os.getloadavg(),
            results=results,
            app_over_raw=ratios,
        )
    finally:
        if not args.keep:
            database_drop(args.database)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--setup-child":
        setup_child(sys.argv[2])
    else:
        main()
