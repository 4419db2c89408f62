"""The cost of one tournament snapshot: the REST serializers against the row renderers.

What is measured
----------------
For each bracket (a started 64-player round robin: 2,016 matches, half of them with a
report; a started 1,024-player double elimination: 2,047 matches), in this process on
PostgreSQL, ``--repeat`` times each, alternating:

* **serializers** - the snapshot as it was built before issue 10: ``tournament_get`` (the
  tournament, its participants and rosters as models), ``bracket_list`` (every match and
  its reports as models), the DRF serializers of the REST API (``MatchSerializer``,
  ``ParticipantSerializer``, ``TournamentSerializer``), ``json.dumps`` with Django's
  encoder;
* **rows** - ``matches.snapshots.snapshot_read`` and the ``Snapshot``'s frame: five queries
  of plain rows, rendered by hand (tournaments.payloads, matches.payloads), orjson;
* **cached** - ``snapshots.get(...).frame`` once the version is cached: what every
  further connect of the same version costs.

Reported: median CPU milliseconds of this process (``time.process_time``: the server's
share, not PostgreSQL's) and wall milliseconds, the frame size, and rows / serializers.
Both frames are checked to be the same JSON. Nothing is asserted: a hand-run tool.

    flock /tmp/bench.lock .venv/bin/python bench/snapshot.py      # ~1 minute
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time

from common import app_env, app_in_process, app_in_process_end

REDIS_URL = "redis://127.0.0.1:6379/11"  # its own (joins.py uses 14, fanout.py 12)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=15, help="runs per path and bracket")
    parser.add_argument("--database", default="atom_bench_snapshot", help="dropped and recreated!")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    return parser.parse_args()


def brackets_make():
    """The two started tournaments; returns [(label, tournament id)]."""
    from django.test.utils import override_settings

    from matches.models import Match, MatchReport
    from matches.services import tournament_start
    from tournaments.services import tournament_create, tournament_join
    from users.services import user_register

    made = []
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        organizer, _ = user_register(username="bench-organizer", password="correct-Horse-battery-9")
        players = [
            user_register(username=f"bench-player-{i}", password="correct-Horse-battery-9")[0]
            for i in range(1024)
        ]
    for label, format, count in (
        ("round robin of 64", "round_robin", 64),
        ("double elimination of 1,024", "double_elimination", 1024),
    ):
        tournament = tournament_create(
            organizer=organizer, name=label, format=format, max_participants=count
        )
        for player in players[:count]:
            tournament_join(tournament_id=tournament.pk, user=player)
        tournament_start(tournament_id=tournament.pk, user=organizer)
        # Half the ready matches carry a first report (set-based: setup, not measured).
        ready = list(
            Match.objects.filter(tournament=tournament, status="ready").values_list(
                "pk", "participant_a_id"
            )
        )[::2]
        captains = dict(tournament.participants.values_list("pk", "captain_id"))
        MatchReport.objects.bulk_create(
            MatchReport(
                match_id=pk, participant_id=a, reported_by_id=captains[a], winner_id=a,
                scores=[2, 1],
            )
            for pk, a in ready
        )  # fmt: skip
        Match.objects.filter(pk__in=[pk for pk, _ in ready]).update(status="awaiting_confirmation")
        made.append((label, tournament.pk))
    return made


def serializers_frame(tournament_id: int) -> str:
    from django.core.serializers.json import DjangoJSONEncoder

    from matches.selectors import bracket_list
    from matches.serializers import MatchSerializer
    from tournaments.selectors import consistent_read, tournament_get
    from tournaments.serializers import ParticipantSerializer, TournamentSerializer

    with consistent_read():
        tournament = tournament_get(tournament_id=tournament_id)
        matches = list(bracket_list(tournament=tournament))
        payload = {
            "type": "snapshot",
            "version": tournament.version,
            "tournament": TournamentSerializer(tournament).data,
            "participants": ParticipantSerializer(tournament.loaded_participants, many=True).data,
            "matches": MatchSerializer(matches, many=True).data,
        }
        return json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":"))


def rows_frame(tournament_id: int) -> str:
    from matches.snapshots import snapshot_read

    return snapshot_read(tournament_id, time.monotonic()).frame


def cached_frame(tournament_id: int) -> str:
    from matches.snapshots import snapshots

    return snapshots.get(tournament_id).frame


def measure(path, tournament_id: int) -> tuple[float, float, int]:
    cpu, wall = time.process_time(), time.perf_counter()
    frame = path(tournament_id)
    return (time.process_time() - cpu) * 1000, (time.perf_counter() - wall) * 1000, len(frame)


def main() -> None:
    args = parse_args()
    env = app_env(args.database, redis_url=REDIS_URL)
    try:
        app_in_process(args.database, env)
        started = time.perf_counter()
        brackets = brackets_make()
        print(
            f"  setup: {len(brackets)} started tournaments in {time.perf_counter() - started:.1f} s"
        )
        # As the server does at startup (project/asgi.py): what exists now (here, the
        # setup's objects) is not scanned again by every garbage collection.
        gc.collect()
        gc.freeze()

        paths = {"serializers": serializers_frame, "rows": rows_frame, "cached": cached_frame}
        print()
        print(f"{'bracket':<30} {'path':<12} {'matches':>7} {'frame KB':>9} "
              f"{'cpu ms p50':>10} {'wall ms p50':>11}")  # fmt: skip
        print("-" * 84)
        for label, tournament_id in brackets:
            slow, fast = serializers_frame(tournament_id), rows_frame(tournament_id)
            assert json.loads(slow) == json.loads(fast), "the two paths disagree"
            matches = len(json.loads(fast)["matches"])
            samples = {name: [] for name in paths}
            for _ in range(args.repeat):
                for name, path in paths.items():
                    samples[name].append(measure(path, tournament_id))
            cpu = {}
            for name, runs in samples.items():
                cpu[name] = statistics.median(r[0] for r in runs)
                wall = statistics.median(r[1] for r in runs)
                print(f"{label:<30} {name:<12} {matches:>7} {runs[0][2] / 1024:>9.0f} "
                      f"{cpu[name]:>10.1f} {wall:>11.1f}")  # fmt: skip
            print(f"{'':<30} rows / serializers, CPU: {cpu['rows'] / cpu['serializers']:.2f}")
    finally:
        app_in_process_end(args.database, keep=args.keep)


if __name__ == "__main__":
    main()
