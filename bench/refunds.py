"""Refunds of a cancelled tournament: a real Celery worker against one raw SQL statement.

What is measured
----------------
A *refund* returns one participant's entry fee: the exact reverse of its entry-fee posting
(a refund posting, its two entries, both balances), the participant marked refunded and
its membership inactive, the tournament's ``refunds_pending`` and ``prize_pool`` counted
down, and a ``refunds.progress`` event. For each size, two tournaments with that many
funded solo participants are set up alike; then the same refund is done two ways:

* **celery** - ``tournaments.services.tournament_cancel`` (the service behind
  ``POST /api/tournaments/{id}/cancel``) with ``CELERY_TASK_ALWAYS_EAGER`` off: it commits
  and enqueues the first chunk on Redis; ONE ``celery -A project worker`` process (prefork,
  ``--concurrency`` children, default 1) runs the chain of chunk tasks (each chunk of
  ``REFUNDS_CHUNK_SIZE`` participants is one transaction that enqueues the next when it
  commits). The clock runs from the cancel call until ``refunds_pending`` is 0 (polled
  every 10 ms on a separate connection). Everything is in the number: the cancel, broker
  round trips, task start-up, the ORM, the event published to the channel layer.
* **raw** - the tournament is marked cancelled, then the whole refund is ONE SQL statement
  (data-modifying CTEs) with psycopg, committed: the floor for doing this work in
  PostgreSQL at all.

The 2,000 size also runs **one-by-one**: the same worker path with ``REFUNDS_CHUNK_SIZE=1``
(one task and one transaction per participant), the design chunking replaces.

It prints seconds, refunds per second and the ratio celery / raw per size (the goal: the
Celery path within 3x of the raw statement), and writes the same to
``bench/results/refunds-<timestamp>.json`` with the worker's log beside it. After each run
it checks that every participant was refunded exactly once, that the escrow is empty and
that the ledger balances, and warns if not. Nothing is asserted: a hand-run tool.

How to run (from the project root; PostgreSQL on 127.0.0.1:5432 with trust auth for user
postgres, Redis on 127.0.0.1:6379)::

    .venv/bin/python bench/refunds.py                        # 10,000 and 50,000; 2,000 one by one
    .venv/bin/python bench/refunds.py --sizes 10000 --one-by-one 0 --keep

It drops and recreates the database ``atom_bench_refunds`` (``--database``), migrates it,
sets everything up with set-based SQL (users, wallets, deposits, participants, entry-fee
postings: the same rows joins would leave), runs VACUUM ANALYZE, and before each timed run
a CHECKPOINT. It uses Redis database 13 (flushed at the start) and touches nothing else.
The machine is shared: compare the ratio, not the absolute figures, across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from common import (
    PG_SERVER,
    PROJECT_DIR,
    RESULTS_DIR,
    app_env,
    app_in_process,
    app_in_process_end,
    database_maintain,
    process_group_cpu,
    process_start,
    process_stop,
    redis_flush,
)

REDIS_URL = "redis://127.0.0.1:6379/13"
ENTRY_FEE = 500
DEPOSIT = 2_000


# --- The worker ---------------------------------------------------------------------------------


def worker_start(env: dict[str, str], concurrency: int, log_path: Path) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "celery", "-A", "project", "worker", "--loglevel=INFO",
        f"--concurrency={concurrency}", "--without-gossip", "--without-mingle",
        "--without-heartbeat", "--hostname=bench-refunds@%h",
    ]  # fmt: skip
    return process_start(
        command,
        name="the worker",
        env=env,
        log_path=log_path,
        ready=lambda: b" ready." in log_path.read_bytes(),
        own_group=True,  # its pool children are stopped with it
        poll=0.1,
    )


# --- Setup: participants in bulk ---------------------------------------------------------------

# N users with wallets, one deposit posting funding them all, N participants with their
# roster rows, and N entry-fee postings with their entries: what N solo joins leave, with
# balances that match the entries.
PARTICIPANTS_SQL = """
WITH u AS (
    INSERT INTO users_user (password, is_superuser, username, first_name, last_name, email,
                            is_staff, is_active, date_joined, phone)
    SELECT '!', false, %(prefix)s::text || g, '', '', '', false, true, now(), ''
    FROM generate_series(1, %(n)s::bigint) AS g
    RETURNING id
), w AS (
    INSERT INTO wallets_account (kind, user_id, label, balance, created_at)
    SELECT 'wallet', id, 'bench wallet', %(deposit)s::bigint - %(fee)s::bigint, now() FROM u
    RETURNING id, user_id
), p AS (
    INSERT INTO tournaments_participant
        (tournament_id, team_id, captain_id, name, seed, status, checked_in, created_at)
    SELECT %(tournament)s::bigint, NULL, id, %(prefix)s::text || id, NULL, 'registered', false,
        now()
    FROM u
    RETURNING id, captain_id
), m AS (
    INSERT INTO tournaments_participantmember (participant_id, tournament_id, user_id, active)
    SELECT id, %(tournament)s::bigint, captain_id, true FROM p
), deposit AS (
    INSERT INTO wallets_posting (kind, reference, tournament_id, created_at)
    VALUES ('deposit', NULL, NULL, now())
    RETURNING id
), fee AS (
    INSERT INTO wallets_posting (kind, reference, tournament_id, created_at)
    SELECT 'entry_fee', 'participant:' || id, %(tournament)s::bigint, now() FROM p
    RETURNING id, reference
), paid AS (
    SELECT fee.id AS posting_id, w.id AS wallet_id, row_number() OVER (ORDER BY fee.id) AS k
    FROM fee JOIN p ON fee.reference = 'participant:' || p.id JOIN w ON w.user_id = p.captain_id
), entries AS (
    INSERT INTO wallets_entry (posting_id, account_id, amount, balance_after, created_at)
    SELECT deposit.id, w.id, %(deposit)s::bigint, %(deposit)s::bigint, now() FROM deposit, w
    UNION ALL
    SELECT deposit.id, %(external)s::bigint, -%(deposit)s::bigint * %(n)s::bigint,
           %(external_balance)s::bigint - %(deposit)s::bigint * %(n)s::bigint, now()
    FROM deposit
    UNION ALL
    SELECT posting_id, wallet_id, -%(fee)s::bigint, %(deposit)s::bigint - %(fee)s::bigint, now()
    FROM paid
    UNION ALL
    SELECT posting_id, %(escrow)s::bigint, %(fee)s::bigint, %(fee)s::bigint * k, now() FROM paid
)
SELECT count(*) FROM p
"""


def participants_create(conn, *, tournament: dict, count: int) -> None:
    """Register ``count`` funded solo players in ``tournament`` (one transaction)."""
    with conn.transaction():
        external = conn.execute(
            "SELECT id, balance FROM wallets_account WHERE kind = 'external' FOR UPDATE"
        ).fetchone()
        conn.execute(
            PARTICIPANTS_SQL,
            {
                "prefix": f"bench-{tournament['id']}-",
                "n": count,
                "deposit": DEPOSIT,
                "fee": ENTRY_FEE,
                "tournament": tournament["id"],
                "escrow": tournament["escrow"],
                "external": external[0],
                "external_balance": external[1],
            },
        )
        conn.execute(
            "UPDATE wallets_account SET balance = balance - %s WHERE id = %s",
            [DEPOSIT * count, external[0]],
        )
        conn.execute(
            "UPDATE wallets_account SET balance = balance + %s WHERE id = %s",
            [ENTRY_FEE * count, tournament["escrow"]],
        )
        conn.execute(
            "UPDATE tournaments_tournament SET max_participants = %s, participant_count = %s, "
            "prize_pool = %s WHERE id = %s",
            [count, count, ENTRY_FEE * count, tournament["id"]],
        )


# --- The raw path: the whole refund in one statement -------------------------------------------

RAW_REFUND_SQL = """
WITH fee AS (
    SELECT id AS participant_id, 'participant:' || id AS reference
    FROM tournaments_participant
    WHERE tournament_id = %(tournament)s AND status = 'registered'
), lines AS (
    SELECT fee.reference, e.account_id, -e.amount AS amount
    FROM fee
    JOIN wallets_posting f ON f.kind = 'entry_fee' AND f.reference = fee.reference
    JOIN wallets_entry e ON e.posting_id = f.id
), deltas AS (
    SELECT account_id, sum(amount) AS delta FROM lines GROUP BY account_id
), balances AS (
    UPDATE wallets_account a SET balance = a.balance + d.delta
    FROM deltas d WHERE a.id = d.account_id
    RETURNING a.id, a.balance - d.delta AS before
), postings AS (
    INSERT INTO wallets_posting (kind, reference, tournament_id, created_at)
    SELECT 'refund', reference, %(tournament)s, now() FROM fee ORDER BY participant_id
    RETURNING id, reference
), entries AS (
    INSERT INTO wallets_entry (posting_id, account_id, amount, balance_after, created_at)
    SELECT postings.id, lines.account_id, lines.amount,
           balances.before
           + sum(lines.amount) OVER (PARTITION BY lines.account_id ORDER BY postings.id),
           now()
    FROM postings JOIN lines USING (reference) JOIN balances ON balances.id = lines.account_id
), refunded AS (
    UPDATE tournaments_participant SET status = 'refunded'
    WHERE id IN (SELECT participant_id FROM fee)
), members AS (
    UPDATE tournaments_participantmember SET active = false
    WHERE participant_id IN (SELECT participant_id FROM fee)
), tournament AS (
    UPDATE tournaments_tournament
    SET refunds_pending = refunds_pending - (SELECT count(*) FROM fee),
        prize_pool = prize_pool
                     + coalesce((SELECT sum(amount) FROM lines WHERE account_id = %(escrow)s), 0),
        version = version + 1
    WHERE id = %(tournament)s
    RETURNING *
)
INSERT INTO tournaments_tournamentevent (tournament_id, version, name, data, created_at)
SELECT t.id, t.version, 'refunds.progress',
       jsonb_build_object('tournament', to_jsonb(t),
                          'refunded', (SELECT jsonb_agg(participant_id) FROM fee),
                          'refunds_pending', t.refunds_pending),
       now()
FROM tournament t
"""


def raw_refund(database: str, tournament: dict, count: int) -> float:
    with psycopg.connect(f"{PG_SERVER}/{database}") as conn:
        with conn.transaction():
            conn.execute(
                "UPDATE tournaments_tournament SET status = 'cancelled', refunds_pending = %s, "
                "version = version + 1 WHERE id = %s",
                [count, tournament["id"]],
            )
        started = time.perf_counter()
        with conn.transaction():
            conn.execute(
                RAW_REFUND_SQL, {"tournament": tournament["id"], "escrow": tournament["escrow"]}
            )
        return time.perf_counter() - started


# --- The Celery path ---------------------------------------------------------------------------


def celery_refund(database: str, tournament: dict, organizer, timeout: float) -> float:
    from tournaments.services import tournament_cancel

    with psycopg.connect(f"{PG_SERVER}/{database}", autocommit=True) as conn:
        started = time.perf_counter()
        tournament_cancel(tournament_id=tournament["id"], user=organizer)
        deadline = started + timeout
        while time.perf_counter() < deadline:
            pending = conn.execute(
                "SELECT refunds_pending FROM tournaments_tournament WHERE id = %s",
                [tournament["id"]],
            ).fetchone()[0]
            if pending == 0:
                return time.perf_counter() - started
            time.sleep(0.01)
    raise SystemExit(f"refunds of tournament {tournament['id']} not done within {timeout} s")


# --- Checks, report ------------------------------------------------------------------------------


def refund_check(database: str, tournament: dict, count: int) -> dict:
    with psycopg.connect(f"{PG_SERVER}/{database}") as conn:

        def one(sql, params=()):
            return conn.execute(sql, params).fetchone()[0]

        t = tournament["id"]
        check = {
            "refund_postings": one(
                "SELECT count(*) FROM wallets_posting WHERE kind = 'refund' AND tournament_id = %s",
                [t],
            ),
            "participants_refunded_once": one(
                "SELECT count(*) FROM tournaments_participant p WHERE p.tournament_id = %s "
                "AND p.status = 'refunded' AND (SELECT count(*) FROM wallets_posting r "
                "WHERE r.kind = 'refund' AND r.reference = 'participant:' || p.id) = 1",
                [t],
            ),
            "escrow_balance": one(
                "SELECT balance FROM wallets_account WHERE id = %s", [tournament["escrow"]]
            ),
            "refunds_pending": one(
                "SELECT refunds_pending FROM tournaments_tournament WHERE id = %s", [t]
            ),
            "ledger_sum": int(one("SELECT sum(balance) FROM wallets_account")),
            "accounts_off_their_entries": one(
                "SELECT count(*) FROM wallets_account a WHERE a.balance <> "
                "(SELECT coalesce(sum(amount), 0) FROM wallets_entry e WHERE e.account_id = a.id)"
            ),
        }
    check["ok"] = (
        check["refund_postings"] == count
        and check["participants_refunded_once"] == count
        and check["escrow_balance"] == 0
        and check["refunds_pending"] == 0
        and check["ledger_sum"] == 0
        and check["accounts_off_their_entries"] == 0
    )
    return check


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", default="10000,50000", help="participants per run, comma-separated"
    )
    parser.add_argument(
        "--one-by-one", type=int, default=2000, help="participants of the one-by-one run (0: skip)"
    )
    parser.add_argument("--chunk-size", type=int, default=1000, help="REFUNDS_CHUNK_SIZE")
    parser.add_argument("--concurrency", type=int, default=1, help="worker pool processes")
    parser.add_argument(
        "--repeat", type=int, default=2, help="runs per path and size; the best is compared"
    )
    parser.add_argument("--database", default="atom_bench_refunds", help="dropped and recreated!")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    args.sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    return args


def main() -> None:
    args = parse_args()
    env = app_env(args.database, redis_url=REDIS_URL, REFUNDS_CHUNK_SIZE=str(args.chunk_size))
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    log_path = RESULTS_DIR / f"refunds-worker-{stamp}.log"
    worker = None
    try:
        # This process uses the app too (the cancel service), with the same settings.
        app_in_process(args.database, env)
        from django.test.utils import override_settings

        from tournaments.services import tournament_create
        from users.services import user_register
        from wallets.services import external_account

        redis_flush(REDIS_URL)
        with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
            organizer, _ = user_register(username="bench-organizer", password="bench-Refund-42")
        external_account()

        # Each size's two paths run one after the other, under the same load.
        runs = [
            run
            for n in args.sizes
            for _ in range(args.repeat)
            for run in (("celery", n, args.chunk_size), ("raw", n, None))
        ]
        if args.one_by_one:
            runs += [
                ("celery", args.one_by_one, args.chunk_size),
                ("one-by-one", args.one_by_one, 1),
                ("raw", args.one_by_one, None),
            ]
        tournaments = []
        started = time.monotonic()
        with psycopg.connect(f"{PG_SERVER}/{args.database}") as conn:
            for i, (path, count, _chunk) in enumerate(runs):
                t = tournament_create(
                    organizer=organizer, name=f"bench {i} {path} {count}",
                    format="single_elimination", max_participants=2, entry_fee=ENTRY_FEE,
                )  # fmt: skip
                tournament = {"id": t.pk, "escrow": t.escrow_id}
                participants_create(conn, tournament=tournament, count=count)
                tournaments.append(tournament)
        total = sum(count for _, count, _ in runs)
        print(f"  setup: {total} participants in {len(runs)} tournaments, "
              f"{time.monotonic() - started:.1f} s")  # fmt: skip
        database_maintain(args.database, analyze=True)

        results = []
        current_chunk = None
        for (path, count, chunk), tournament in zip(runs, tournaments, strict=True):
            if path != "raw" and chunk != current_chunk:
                if worker is not None:
                    process_stop(worker)
                worker_env = dict(env, REFUNDS_CHUNK_SIZE=str(chunk))
                worker = worker_start(worker_env, args.concurrency, log_path)
                current_chunk = chunk
            database_maintain(args.database)
            print(f"{path}: refund {count} participants", end="", flush=True)
            cpu_before = process_group_cpu(worker.pid) if path != "raw" else None
            if path == "raw":
                seconds = raw_refund(args.database, tournament, count)
            else:
                seconds = celery_refund(
                    args.database, tournament, organizer, timeout=max(120, count / 5)
                )
            cpu_after = process_group_cpu(worker.pid) if path != "raw" else None
            check = refund_check(args.database, tournament, count)
            print(f"  {seconds:.2f} s{'' if check['ok'] else '  WRONG: ' + json.dumps(check)}")
            results.append(
                {
                    "path": path,
                    "participants": count,
                    "chunk_size": chunk,
                    "seconds": round(seconds, 3),
                    "refunds_per_s": round(count / seconds, 1),
                    "worker_cpu_s": (
                        round(cpu_after - cpu_before, 2)
                        if cpu_before is not None and cpu_after is not None
                        else None
                    ),
                    "check": check,
                }
            )

        # The best of the repetitions: what each path costs when the machine lets it.
        best: dict[tuple[str, int], dict] = {}
        for r in results:
            key = (r["path"], r["participants"])
            if key not in best or r["seconds"] < best[key]["seconds"]:
                best[key] = r
        print()
        print(f"{'path':<11} {'participants':>12} {'chunk':>6} {'runs':>5} {'best s':>8} "
              f"{'refunds/s':>10} {'worker cpu s':>12}")  # fmt: skip
        for (path, count), r in best.items():
            runs_made = sum(1 for x in results if (x["path"], x["participants"]) == (path, count))
            cpu = "-" if r["worker_cpu_s"] is None else f"{r['worker_cpu_s']:.2f}"
            print(f"{path:<11} {count:>12} {r['chunk_size'] or '-':>6} {runs_made:>5} "
                  f"{r['seconds']:>8.2f} {r['refunds_per_s']:>10.0f} {cpu:>12}")  # fmt: skip
        ratios = {}
        print()
        for (path, count), r in best.items():
            if path != "raw" and ("raw", count) in best:
                key = f"{path}/raw {count}"
                ratios[key] = round(r["seconds"] / best[("raw", count)]["seconds"], 2)
                goal = "   (goal <= 3)" if path == "celery" else ""
                print(f"{key:<24} {ratios[key]:.2f}{goal}")
        if not all(r["check"]["ok"] for r in results):
            print("WARNING: a run did not refund every participant exactly once; see the JSON")

        out = RESULTS_DIR / f"refunds-{stamp}.json"
        out.write_text(
            json.dumps(
                {
                    "started_at": stamp,
                    "args": vars(args),
                    "setup": {
                        "entry_fee": ENTRY_FEE,
                        "cpus": os.cpu_count(),
                        "python": platform.python_version(),
                        "psycopg": psycopg.__version__,
                        "load_average": os.getloadavg(),
                    },
                    "results": results,
                    "best_seconds": {f"{p} {n}": r["seconds"] for (p, n), r in best.items()},
                    "ratio_over_raw": ratios,
                },
                indent=2,
            )
            + "\n"
        )
        print(f"\nwritten {out.relative_to(PROJECT_DIR)}")
    finally:
        if worker is not None:
            process_stop(worker)
        app_in_process_end(args.database, keep=args.keep)


if __name__ == "__main__":
    main()
