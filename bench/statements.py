"""The write path's hand-built statements against the ORM versions they replace, in-process.

A few statements on the write path are written by hand instead of built by the ORM
(``project/statements.py`` says why, and each place names its ORM version, which
``tests/project/test_statements.py`` holds it to). This measures both ways of each, in one
process, on PostgreSQL, with a roster of 5 (and a result's two):

* **team read** - a team's memberships with their team and users (``team_get``):
  ``select_related("team", "user")`` against ``tournaments.selectors._team_memberships``.
* **tournament lock** - ``select_for_update().get(pk=...)`` against
  ``tournaments.locks.tournament_lock`` (``raw()``).
* **accounts lock** - the roster's wallets and the escrow, ``select_for_update()`` with
  ``Q(pk__in=...) | Q(user_id__in=...)`` against ``wallets.services.accounts_lock``.
* **already registered** - ``values_list`` of the roster's active memberships against
  ``tournaments.services._already_registered_check``.
* **row update** - a join's change of the tournament row: ``participant_count + 1``,
  ``prize_pool + fee``, ``version + 1`` if the row is in registration with a free place,
  reading the counters back. ``orm``: ``filter(Q, F).update(F ...)``, then a ``values()``
  read of the counters (the ORM has no ``RETURNING`` for an update); ``orm compile``: the
  building of that UPDATE alone (``QuerySet.update``'s own compile step), without running
  it; ``by hand``: ``tournaments.events.tournament_row_update``, one statement.
* **posting insert** - an entry fee's posting and its 6 entries: ``bulk_create`` twice
  against ``project.statements.insert_with_children``.
* **participant insert** - a new participant and its roster of ``--sizes`` members:
  ``save()`` and ``bulk_create()`` against ``insert_with_children``.
* **match lock** - a reported match with its tournament, both sides and its two
  reports, as every result starts: ``select_for_update(of=("self",))``,
  ``select_related`` and the reports' prefetch against ``matches.locks.match_lock``.
* **open match check** - whether a round is over: a match of the tournament not
  completed, outside the 3 the action changed. ``exclude(...).exists()`` against
  ``matches.progression.open_match_exists``.
* **match update** - a result's write of the matches it changed (``MATCH_STATE_FIELDS``
  of 1 and of 3 matches: a report, a confirmation that moves the winner on and makes the
  next match ready): ``bulk_update`` against ``project.statements.rows_update``.

Each way runs in alternating blocks of ``--per-block`` operations (``--blocks`` blocks
each), every operation in its own transaction that is rolled back, so the tables stay as
they were. The figures are medians over the blocks of the CPU time of this process per
operation (``time.process_time``: Python building the statement, psycopg sending it and
reading the answer; PostgreSQL's own work is in another process and not counted) and of
the wall time per operation (with the round trips). Nothing is asserted.

How to run (PostgreSQL on 127.0.0.1:5432, trust auth for user postgres; it **drops and
recreates** ``--database``, default ``atom_bench_statements``)::

    flock /tmp/bench.lock .venv/bin/python bench/statements.py
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime

from common import (
    RESULTS_DIR,
    app_env,
    app_in_process,
    app_in_process_end,
    database_maintain,
    results_write,
)

REDIS_URL = "redis://127.0.0.1:6379/8"  # its own (inprocess.py uses 9); nothing measured uses it


class Rollback(Exception):
    """Ends an operation's transaction without keeping what it wrote."""


def timed_blocks(ways: dict, *, blocks: int, per_block: int) -> dict[str, dict[str, float]]:
    """Run each way (``name -> operation``) in alternating blocks; median CPU and wall ms."""
    from django.db import transaction

    cpu: dict[str, list[float]] = {name: [] for name in ways}
    wall: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(blocks):
        for name, operation in ways.items():
            cpu_spent = wall_spent = 0.0
            for i in range(per_block):
                try:
                    with transaction.atomic():
                        wall_start, cpu_start = time.perf_counter(), time.process_time()
                        operation(i)
                        cpu_spent += time.process_time() - cpu_start
                        wall_spent += time.perf_counter() - wall_start
                        raise Rollback
                except Rollback:
                    pass
            cpu[name].append(cpu_spent / per_block * 1000)
            wall[name].append(wall_spent / per_block * 1000)
    return {
        name: {
            "cpu_ms": round(statistics.median(cpu[name]), 4),
            "wall_ms": round(statistics.median(wall[name]), 4),
        }
        for name in ways
    }


def row_update_ways(tournament, fee: int) -> dict:
    from django.db import connection
    from django.db.models import F, Q
    from django.db.models.sql import UpdateQuery

    from tournaments.events import tournament_row_update
    from tournaments.models import Tournament

    Status = Tournament.Status
    counters = ("version", "status", "participant_count", "prize_pool", "refunds_pending")

    def guarded():
        return Tournament.objects.filter(
            Q(status=Status.REGISTRATION) & Q(participant_count__lt=F("max_participants")),
            pk=tournament.pk,
        )

    def changes():
        return {
            "participant_count": F("participant_count") + 1,
            "prize_pool": F("prize_pool") + fee,
            "version": F("version") + 1,
        }

    def orm(_):
        if guarded().update(**changes()):
            Tournament.objects.values_list(*counters).get(pk=tournament.pk)

    def orm_compile(_):
        query = guarded().query.chain(UpdateQuery)
        query.add_update_values(changes())
        query.get_compiler(connection.alias).as_sql()

    def by_hand(_):
        tournament_row_update(
            tournament,
            events=1,
            increments={"participant_count": 1, "prize_pool": fee},
            when_status=Status.REGISTRATION,
            when_room_for=1,
        )

    return {"orm": orm, "orm compile": orm_compile, "by hand": by_hand}


def participant_insert_ways(tournament, rosters: list[list]) -> dict:
    from project.statements import insert_with_children
    from tournaments.models import Participant, ParticipantMember

    def way(orm: bool):
        def operation(i):
            roster = rosters[i % len(rosters)]
            participant = Participant(
                tournament=tournament, captain=roster[0], name=roster[0].username
            )
            members = [ParticipantMember(tournament=tournament, user=u) for u in roster]
            if orm:
                participant.save()
                for member in members:
                    member.participant = participant
                ParticipantMember.objects.bulk_create(members)
            else:
                insert_with_children(participant, members, link="participant", key="user")

        return operation

    return {"orm": way(orm=True), "by hand": way(orm=False)}


def posting_insert_ways(tournament, wallets: list[int]) -> dict:
    """A join's entry-fee posting: the posting and one entry per wallet and the escrow."""
    from project.statements import insert_with_children
    from wallets.models import Entry, Posting

    def way(orm: bool):
        def operation(i):
            posting = Posting(
                kind=Posting.Kind.ENTRY_FEE, reference=f"participant:{i}", tournament_id=1
            )
            entries = [
                Entry(posting=posting, account_id=pk, amount=-5, balance_after=0) for pk in wallets
            ]
            if orm:
                Posting.objects.bulk_create([posting])
                Entry.objects.bulk_create(entries)
            else:
                insert_with_children(posting, entries, link="posting", key="account")

        return operation

    return {"orm": way(orm=True), "by hand": way(orm=False)}


def match_ways(organizer) -> dict[str, dict]:
    """A result's lock of its match, and its write of the matches it changed."""
    from matches.locks import match_lock
    from matches.models import Match, MatchReport
    from matches.progression import MATCH_STATE_FIELDS, open_match_exists
    from matches.selectors import reports_prefetch
    from project.statements import rows_update
    from tests.brackets import free_cup_started

    tournament = free_cup_started(organizer=organizer, format="single_elimination", players=16)
    matches = list(Match.objects.filter(tournament=tournament).order_by("round", "position"))
    reported = matches[0]
    for side in (reported.participant_a, reported.participant_b):
        MatchReport.objects.create(
            match=reported, participant=side, reported_by_id=side.captain_id,
            winner=reported.participant_a, scores=[2, 1],
        )  # fmt: skip
    for match in matches:
        match.status, match.scores = Match.Status.AWAITING_CONFIRMATION, [2, 1]
    ways = {
        "match lock": {
            "orm": lambda _: (
                Match.objects.select_for_update(of=("self",))
                .select_related("tournament", "participant_a", "participant_b")
                .prefetch_related(reports_prefetch())
                .get(pk=reported.pk)
            ),
            "by hand": lambda _: match_lock(reported.pk),
        }
    }
    changed_pks = [m.pk for m in matches[:3]]
    ways["open match check"] = {
        "orm": lambda _: (
            Match.objects.filter(tournament_id=tournament.pk)
            .exclude(status=Match.Status.COMPLETED)
            .exclude(pk__in=changed_pks)
            .exists()
        ),
        "by hand": lambda _: open_match_exists(tournament_id=tournament.pk, excluding=changed_pks),
    }
    for count in (1, 3):
        changed = matches[:count]
        ways[f"match update ({count})"] = {
            "orm": lambda _, c=changed: Match.objects.bulk_update(c, MATCH_STATE_FIELDS),
            "by hand": lambda _, c=changed: rows_update(c, MATCH_STATE_FIELDS),
        }
    return ways


def reads_ways(tournament, roster: list, team_id: int) -> dict[str, dict]:
    """The join's reads: its team, its locks and its "already registered" check."""
    from django.db.models import Q

    from tournaments.locks import tournament_lock
    from tournaments.models import ParticipantMember, TeamMember, Tournament
    from tournaments.selectors import _team_memberships
    from tournaments.services import _already_registered_check
    from wallets.models import Account
    from wallets.services import accounts_lock

    user_ids = [u.pk for u in roster]
    return {
        f"team read ({len(roster)} members)": {
            "orm": lambda _: list(
                TeamMember.objects.filter(team_id=team_id)
                .select_related("team", "user")
                .order_by("pk")
            ),
            "by hand": lambda _: _team_memberships(team_id),
        },
        "tournament lock": {
            "orm": lambda _: Tournament.objects.select_for_update().get(pk=tournament.pk),
            "by hand": lambda _: tournament_lock(tournament.pk),
        },
        f"accounts lock ({len(roster)} + escrow)": {
            "orm": lambda _: {
                a.pk: a
                for a in Account.objects.select_for_update()
                .filter(Q(pk__in=[tournament.escrow_id]) | Q(user_id__in=user_ids))
                .order_by("pk")
            },
            "by hand": lambda _: accounts_lock(ids=[tournament.escrow_id], user_ids=user_ids),
        },
        f"already registered ({len(roster)})": {
            "orm": lambda _: list(
                ParticipantMember.objects.filter(
                    tournament_id=tournament.pk, user_id__in=user_ids, active=True
                ).values_list("user_id", flat=True)
            ),
            "by hand": lambda _: _already_registered_check(tournament=tournament, roster=roster),
        },
    }


def main() -> None:
    args = parse_args()
    env = app_env(args.database, redis_url=REDIS_URL)
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    try:
        app_in_process(args.database, env)
        from tournaments.models import Team, TeamMember
        from tournaments.services import tournament_create
        from users.models import User
        from wallets.services import wallet_for_user

        organizer = User.objects.create_user("bench-organizer")
        tournament = tournament_create(
            organizer=organizer,
            name="Statements",
            format="round_robin",
            max_participants=1024,
            team_size=max(args.sizes),
            entry_fee=args.fee,
        )
        users = User.objects.bulk_create(
            User(username=f"bench-player-{i}") for i in range(8 * max(args.sizes))
        )
        roster = users[:5]
        team = Team.objects.create(name="Statements", captain=roster[0])
        TeamMember.objects.bulk_create(TeamMember(team=team, user=u) for u in roster)
        wallets = [wallet_for_user(user_id=u.pk).pk for u in roster] + [tournament.escrow_id]
        database_maintain(args.database, analyze=True)

        results: dict[str, dict] = {}
        print(f"{'statement':<28} {'way':<12} {'cpu ms':>8} {'wall ms':>8}")
        scenarios = {
            **reads_ways(tournament, roster, team.pk),
            "row update": row_update_ways(tournament, args.fee),
            "posting insert (6 entries)": posting_insert_ways(tournament, wallets),
            **match_ways(organizer),
        }
        for size in args.sizes:
            rosters = [users[i * size : (i + 1) * size] for i in range(8)]
            scenarios[f"participant insert ({size})"] = participant_insert_ways(tournament, rosters)
        for scenario, ways in scenarios.items():
            timed_blocks(ways, blocks=2, per_block=args.per_block)  # warm up, not kept
            figures = timed_blocks(ways, blocks=args.blocks, per_block=args.per_block)
            results[scenario] = figures
            for way, figure in figures.items():
                print(
                    f"{scenario:<28} {way:<12} {figure['cpu_ms']:>8.3f} {figure['wall_ms']:>8.3f}"
                )
            orm, by_hand = figures["orm"]["cpu_ms"], figures["by hand"]["cpu_ms"]
            print(f"{scenario:<28} {'orm/by hand':<12} {orm / by_hand:>8.2f}")
        name = f"statements-{stamp}" + (f"-{args.label}" if args.label else "")
        results_write(name, stamp=stamp, args=args, results=results)
    finally:
        app_in_process_end(args.database, keep=args.keep)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=15, help="timed blocks per way")
    parser.add_argument("--per-block", type=int, default=100, help="operations per block")
    parser.add_argument(
        "--sizes", type=lambda s: [int(x) for x in s.split(",")], default=[1, 5, 16],
        help="roster sizes of the participant insert (default 1,5,16)",
    )  # fmt: skip
    parser.add_argument("--fee", type=int, default=50)
    parser.add_argument("--database", default="atom_bench_statements", help="dropped!")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--label", default="")
    return parser.parse_args()


if __name__ == "__main__":
    main()
