"""The CPU of a join, a report and the floor request, in one process, without a server.

``bench/joins.py`` measures through a real server, with client threads, PostgreSQL and
the server sharing the machine's cores: on a loaded machine its per-request CPU figures move
by a third between neighbouring runs. This measures the same two requests the steady way:
Django's test client in this one process (the whole middleware chain, DRF, token auth, the
view, the transaction and its after-commit publish and Celery enqueue, on PostgreSQL, with
``DEBUG=0`` and tasks sent to Redis as in production), one request at a time, in
alternating blocks:

* **join** - ``POST /api/tournaments/{id}/join`` with ``{"team": id}`` by the captain of
  a team of ``--team-size`` funded players, into one of 8 tournaments that charge a fee.
* **report** - ``POST /api/matches/{id}/report`` by side a of a ready match, naming
  itself the winner: the match awaits confirmation (one ``match.updated`` event).
* **confirm** - the agreeing report of side b: the match completes (its events, the
  standings, the notification task). Both in round robins of 16 solo players, all their
  matches ready at the start, at most 100 reported in each, so none completes.
* **floor** - ``GET /api/me`` by the same captains: the cheapest authenticated request.
* **raw join** - ``bench/joins.py``'s ``raw_join`` on its own psycopg connection: the
  join's transaction, statement for statement, in SQL with no ORM, no DRF, no publish and
  no enqueue (other teams, the same tournaments).
* **enqueue** - the join's Celery enqueue alone (``team_joined_send.apply_async``, to
  Redis), as the join sends it after its commit.

``floor + raw join + enqueue`` is what a join would cost if its Python were only the
request's own (the floor's) and its statements written in SQL by hand: the line
``floor/(floor+raw+enqueue)`` is the best floor/join such a join could reach.

It prints the median over ``--blocks`` blocks of the CPU time of this process per request
(``time.process_time``: every thread of the process, the publisher's included; PostgreSQL
and Redis work in their own processes and are not counted) and the floor's CPU over each
write's (``floor/join``, ``floor/report``, ``floor/confirm``): issue 14 wants them at 0.5 or
more. To compare two commits, run it from a worktree of each,
with ``PYTHONPATH=<worktree>`` (the virtualenv's editable install otherwise imports the
main checkout). It **drops and recreates** ``--database``. Nothing is asserted.

    flock /tmp/bench.lock .venv/bin/python bench/inprocess.py
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import time
from datetime import UTC, datetime

import psycopg
from common import (
    PG_SERVER,
    RESULTS_DIR,
    app_env,
    app_in_process,
    app_in_process_end,
    results_write,
)
from joins import raw_join

REDIS_URL = "redis://127.0.0.1:6379/9"  # its own (memory.py uses 10, snapshot.py 11...)
TOURNAMENTS = 8
REPORT_PLAYERS = 16  # a round robin of 16: 120 matches, all ready at the start
REPORTS_PER_TOURNAMENT = 100  # fewer than 120, so that no tournament completes


def main() -> None:
    args = parse_args()
    env = app_env(args.database, redis_url=REDIS_URL, ALLOWED_HOSTS="testserver")
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    try:
        app_in_process(args.database, env)
        from django.test import Client
        from rest_framework.authtoken.models import Token

        from matches.models import Match
        from matches.services import tournament_start
        from notifications.tasks import team_joined_send
        from tournaments.models import Team, TeamMember, Tournament
        from tournaments.payloads import tournament_data
        from tournaments.services import tournament_create, tournament_join
        from users.models import User
        from wallets.services import deposit_create

        joins = (args.blocks + 1) * args.per_block  # one untimed block first
        organizer = User.objects.create_user("bench-organizer")
        tournaments = [
            tournament_create(
                organizer=organizer, name=f"Cup {i}", format="single_elimination",
                max_participants=1024, entry_fee=5, team_size=args.team_size,
            ).pk
            for i in range(TOURNAMENTS)
        ]  # fmt: skip
        teams = []
        for i in range(joins):
            players = [User.objects.create_user(f"p{i}-{j}") for j in range(args.team_size)]
            for player in players:
                deposit_create(user_id=player.pk, amount=100)
            team = Team.objects.create(name=f"Team {i}", captain=players[0])
            TeamMember.objects.bulk_create(TeamMember(team=team, user=p) for p in players)
            token = Token.objects.get_or_create(user=players[0])[0].key
            teams.append((team.pk, f"Token {token}"))
        # Matches to report: (match id, side a's id, side a's token, side b's token).
        matches = []
        while len(matches) < joins:
            k = len(matches) // REPORTS_PER_TOURNAMENT
            league = tournament_create(
                organizer=organizer, name=f"League {k}", format="round_robin",
                max_participants=REPORT_PLAYERS,
            )  # fmt: skip
            tokens = {}
            for p in range(REPORT_PLAYERS):
                player = User.objects.create_user(f"league{k}-{p}")
                tokens[player.pk] = f"Token {Token.objects.create(user=player).key}"
                tournament_join(tournament_id=league.pk, user=player)
            tournament_start(tournament_id=league.pk, user=organizer)
            ready = (
                Match.objects.filter(tournament=league, status=Match.Status.READY)
                .select_related("participant_a", "participant_b")
                .order_by("round", "position")[:REPORTS_PER_TOURNAMENT]
            )
            matches += [
                (
                    m.pk,
                    m.participant_a_id,
                    tokens[m.participant_a.captain_id],
                    tokens[m.participant_b.captain_id],
                )
                for m in ready
            ]
        # Teams for the raw join (joining the same tournaments), as bench/joins.py's.
        raw_tournaments = [
            {**tournament_data(t), "escrow": t.escrow_id}
            for t in Tournament.objects.filter(pk__in=tournaments).order_by("pk")
        ]
        raw_teams = []
        for i in range(joins):
            members = []
            for j in range(args.team_size):
                player = User.objects.create_user(f"raw{i}-{j}")
                wallet = deposit_create(user_id=player.pk, amount=100)
                members.append({"id": player.pk, "username": player.username, "wallet": wallet.pk})
            team = Team.objects.create(name=f"Raw team {i}", captain_id=members[0]["id"])
            TeamMember.objects.bulk_create(TeamMember(team=team, user_id=m["id"]) for m in members)
            raw_teams.append(
                {"id": team.pk, "name": team.name, "captain": members[0]["id"], "members": members}
            )
        raw_connection = psycopg.connect(f"{PG_SERVER}/{args.database}")
        client = Client()

        def join(i: int) -> None:
            team_id, authorization = teams[i]
            response = client.post(
                f"/api/tournaments/{tournaments[i % TOURNAMENTS]}/join",
                {"team": team_id},
                content_type="application/json",
                HTTP_AUTHORIZATION=authorization,
            )
            assert response.status_code == 201, response.content

        def floor(i: int) -> None:
            response = client.get("/api/me", HTTP_AUTHORIZATION=teams[i][1])
            assert response.status_code == 200, response.content

        def report(i: int, *, confirm: bool) -> None:
            match_id, side_a, token_a, token_b = matches[i]
            response = client.post(
                f"/api/matches/{match_id}/report",
                {"winner": side_a},
                content_type="application/json",
                HTTP_AUTHORIZATION=token_b if confirm else token_a,
            )
            assert response.status_code == 200, response.content
            assert response.json()["status"] == (
                "completed" if confirm else "awaiting_confirmation"
            )

        def raw(i: int) -> None:
            outcome = raw_join(raw_connection, raw_tournaments[i % TOURNAMENTS], raw_teams[i])
            assert outcome == "ok", outcome

        def enqueue(i: int) -> None:
            team_joined_send.apply_async((i,))

        requests = {
            "join": join,
            "report": lambda i: report(i, confirm=False),
            "confirm": lambda i: report(i, confirm=True),
            "floor": floor,
            "raw join": raw,
            "enqueue": enqueue,
        }
        cpu: dict[str, list[float]] = {name: [] for name in requests}
        profiler = cProfile.Profile(time.process_time) if args.profile else None
        for block in range(args.blocks + 1):
            for name, request in requests.items():
                profiled = profiler is not None and block and name == args.profile
                if profiled:
                    profiler.enable()
                started = time.process_time()
                for i in range(block * args.per_block, (block + 1) * args.per_block):
                    request(i)
                if block:  # the first block warms up
                    cpu[name].append((time.process_time() - started) / args.per_block * 1000)
                if profiled:
                    profiler.disable()
        medians = {name: round(statistics.median(values), 3) for name, values in cpu.items()}
        ratios = {
            f"floor/{name}": round(medians["floor"] / medians[name], 3)
            for name in ("join", "report", "confirm")
        }
        bound = medians["floor"] + medians["raw join"] + medians["enqueue"]
        ratios["floor/(floor+raw+enqueue)"] = round(medians["floor"] / bound, 3)
        print(f"CPU per request, median of {args.blocks} blocks of {args.per_block}:")
        for name, median in medians.items():
            print(f"  {name:<9} {median:7.3f} ms")
        for name, ratio in ratios.items():
            print(f"  {name:<26} {ratio:.3f}")
        name = f"inprocess-{stamp}" + (f"-{args.label}" if args.label else "")
        results_write(name, stamp=stamp, args=args, cpu_ms=medians, ratios=ratios)
        if profiler is not None:
            profile_path = RESULTS_DIR / f"{name}-{args.profile}.pstats"
            profiler.dump_stats(profile_path)
            print(f"profile of {args.profile} (CPU; the timings above include its overhead):")
            pstats.Stats(str(profile_path)).sort_stats("cumulative").print_stats(40)
    finally:
        if "raw_connection" in locals():
            raw_connection.close()
        app_in_process_end(args.database, keep=args.keep)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=9, help="timed blocks per request")
    parser.add_argument("--per-block", type=int, default=40, help="requests per block")
    parser.add_argument("--team-size", type=int, default=5)
    parser.add_argument("--database", default="atom_bench_inprocess", help="dropped!")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--label", default="")
    parser.add_argument(
        "--profile",
        choices=["join", "report", "confirm", "floor", "raw join", "enqueue"],
        help="profile this request's timed blocks (cProfile, CPU time) and save the stats",
    )
    return parser.parse_args()


if __name__ == "__main__":
    main()
