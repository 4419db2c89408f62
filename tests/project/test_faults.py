"""A fault test: the service under concurrent traffic while its database connections are
cut and its worker is killed.

A real daphne (pooled connections, tasks published to Redis) and a real Celery worker run
on the test database. Players join and leave a paid tournament with ``Idempotency-Key``
replays, players of a started round robin report their matches, readers read, and the
organizer of a big tournament cancels it, so that the worker refunds it in chunks and,
at the end, pays the round robin's prizes. Meanwhile every backend of the test database
is terminated twice and the worker is killed while it refunds.

Asserted: no request that started after the database answered again got a 5xx (a request
running at the instant its backend was terminated may fail, and only those are spared);
every tournament's event log has no gap; refunds and prizes happened exactly once; the
ledger balances.
"""

import json
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass

import pytest
from django.db.models import Sum
from rest_framework.authtoken.models import Token

from matches.models import Match, PrizeAward
from tests.processes import (
    VISIBILITY_TIMEOUT,
    daphnes_running,
    http_call,
    wait_for,
    worker_kill,
)
from tests.project.test_lost_connections import backends_terminate
from tests.tournaments.test_refunds import (
    LEDGER_OK,
    assert_refunded_exactly_once,
    big_cup,
    ledger_check,
)
from tests.tournaments.test_refunds_worker import pending
from tournaments.models import Participant, Tournament, TournamentEvent
from tournaments.services import tournament_create, tournament_join
from wallets.models import Account, Entry, Posting

pytestmark = pytest.mark.django_db(transaction=True)

FEE = 10
FUNDS = 1000
JOINERS = 6
ROUND_ROBIN_PLAYERS = 10  # 45 matches
REFUNDED = 600
REFUNDS_CHUNK_SIZE = 50  # 12 chunks: the worker is killed between or inside them


@dataclass(frozen=True)
class Call:
    started: float
    ended: float
    method: str
    path: str
    status: int


class Traffic:
    """Threads that call the server until stopped, recording every call."""

    def __init__(self, port: int):
        self.port = port
        self.began = time.monotonic()
        self.calls: list[Call] = []
        self.errors: list[str] = []
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []

    def call(self, method, path, *, token=None, body=None, headers=None):
        started = time.monotonic()
        try:
            status, payload = http_call(
                self.port, method, path, token=token, body=body, headers=headers
            )
        except Exception as error:  # say which call failed, and when, for the report
            raise RuntimeError(
                f"{method} {path} at {started - self.began:.1f} s, after "
                f"{time.monotonic() - started:.1f} s: {error!r}"
            ) from error
        self.calls.append(Call(started, time.monotonic(), method, path, status))
        return status, (json.loads(payload) if payload else None)

    def run(self, loop, *args) -> None:
        def body():
            try:
                while not self.stopping.is_set():
                    loop(self, *args)
            except Exception as error:  # noqa: BLE001 - reported by the test, not lost
                self.errors.append(repr(error))

        thread = threading.Thread(target=body, daemon=True)
        thread.start()
        self.threads.append(thread)

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=30)


def join_and_leave(traffic: Traffic, tournament_id: int, token: str) -> None:
    key = {"Idempotency-Key": uuid.uuid4().hex}
    path = f"/api/tournaments/{tournament_id}"
    for _ in range(2):  # the second is a replay of the first
        traffic.call("POST", f"{path}/join", token=token, body={}, headers=key)
    traffic.call("POST", f"{path}/leave", token=token, body={})


def report_ready_matches(traffic: Traffic, tournament_id: int, token_of: dict, share: int):
    """Report every open match of this thread's share (match id modulo 2), from both sides:
    a side that already reported gets 409 ``already_reported``."""
    status, bracket = traffic.call("GET", f"/api/tournaments/{tournament_id}/bracket")
    if status != 200:
        return
    open_matches = [
        m
        for m in bracket["matches"]
        if m["status"] in ("ready", "awaiting_confirmation") and m["id"] % 2 == share
    ]
    if not open_matches:
        time.sleep(0.05)
    for match in open_matches:
        for side in ("participant_a", "participant_b"):
            traffic.call(
                "POST",
                f"/api/matches/{match['id']}/report",
                token=token_of[match[side]],
                body={"winner": match["participant_a"], "scores": [2, 1]},
            )


def read(traffic: Traffic, tournament_ids: list[int], token: str) -> None:
    for tournament_id in tournament_ids:
        traffic.call("GET", f"/api/tournaments/{tournament_id}")
        traffic.call("GET", f"/api/tournaments/{tournament_id}/events?since=0")
    traffic.call("GET", "/api/wallet", token=token)


def token(user) -> str:
    return Token.objects.get(user=user).key


def event_versions(tournament: Tournament) -> list[int]:
    return list(
        TournamentEvent.objects.filter(tournament=tournament)
        .order_by("version")
        .values_list("version", flat=True)
    )


def test_no_5xx_once_the_database_answers_again_and_the_money_holds(
    make_user, broker, start_worker
):
    organizer = make_user()
    open_cup = tournament_create(
        organizer=organizer, name="Open", format="swiss", max_participants=16, entry_fee=FEE
    )
    joiners = [make_user(funds=FUNDS) for _ in range(JOINERS)]
    league = tournament_create(
        organizer=organizer,
        name="League",
        format="round_robin",
        max_participants=ROUND_ROBIN_PLAYERS,
        entry_fee=FEE,
        prize_split=[60, 40],
    )
    league_players = [make_user(funds=FEE) for _ in range(ROUND_ROBIN_PLAYERS)]
    for player in league_players:
        tournament_join(tournament_id=league.pk, user=player)
    doomed = big_cup(organizer, REFUNDED)

    # The league's prizes are paid by the worker's payout chunks, not inline.
    worker_env = {"REFUNDS_CHUNK_SIZE": str(REFUNDS_CHUNK_SIZE), "PAYOUTS_INLINE_MAX": "1"}
    worker = start_worker(**worker_env)
    with daphnes_running(
        1, DATABASE_POOL_MAX_SIZE="4", CELERY_TASK_ALWAYS_EAGER="0", PAYOUTS_INLINE_MAX="1"
    ) as (port,):
        status, _ = http_call(
            port, "POST", f"/api/tournaments/{league.pk}/start", token=token(organizer), body={}
        )
        assert status == 200
        token_of = {
            participant.pk: token(participant.captain)
            for participant in Participant.objects.filter(tournament=league).select_related(
                "captain"
            )
        }

        traffic = Traffic(port)
        for joiner in joiners:
            traffic.run(join_and_leave, open_cup.pk, token(joiner))
        for share in (0, 1):
            traffic.run(report_ready_matches, league.pk, token_of, share)
        traffic.run(read, [open_cup.pk, league.pk, doomed.pk], token(joiners[0]))

        faults = []  # (start, end) of each instant the database cut every connection

        def terminate_every_backend():
            started = time.monotonic()
            assert backends_terminate() >= 1
            faults.append((started, time.monotonic()))

        time.sleep(1.5)
        terminate_every_backend()
        time.sleep(1.0)
        status, _ = traffic.call(
            "POST", f"/api/tournaments/{doomed.pk}/cancel", token=token(organizer), body={}
        )
        assert status == 202
        # Kill the worker while it refunds: some chunks done, some not.
        assert wait_for(lambda: pending(doomed) < REFUNDED, 30), worker.log_path.read_text()
        worker_kill(worker)
        killed_at = time.monotonic()
        killed_with_pending = pending(doomed)
        time.sleep(1.0)
        terminate_every_backend()
        # acks_late: the chunk the killed worker held goes back to the queue once its
        # visibility timeout has passed; a worker started before that would not see it
        # until its own restore (in production the beat sweeper also re-enqueues it).
        time.sleep(max(0.0, VISIBILITY_TIMEOUT + 0.5 - (time.monotonic() - killed_at)))
        worker = start_worker(**worker_env)
        time.sleep(1.5)
        terminate_every_backend()
        time.sleep(1.0)
        traffic.stop()

        # The league is played to the end by the reporters still to come: finish it.
        def league_done():
            report_ready_matches(traffic, league.pk, token_of, 0)
            report_ready_matches(traffic, league.pk, token_of, 1)
            return Tournament.objects.get(pk=league.pk).status == "completed"

        assert wait_for(league_done, 60, every=0.2), Counter(
            Match.objects.filter(tournament=league).values_list("status", flat=True)
        )

    # A call that fails without an answer (a timeout) names itself and when it started;
    # the cuts are on the same clock.
    cuts = [f"{start - traffic.began:.1f} s" for start, _ in faults]
    assert not traffic.errors, (traffic.errors, "backends terminated at", cuts)
    spared = [c for c in traffic.calls if any(c.started < end and c.ended > start
                                              for start, end in faults)]  # fmt: skip
    failed = [c for c in traffic.calls if c.status >= 500 and c not in spared]
    assert not failed, failed
    assert len(faults) == 3
    assert len(traffic.calls) > 300  # the traffic ran through the faults
    assert killed_with_pending > 0  # the worker was killed with refunds to do

    assert wait_for(lambda: pending(doomed) == 0, 60), worker.log_path.read_text()
    assert_refunded_exactly_once(doomed, REFUNDED)

    # The league paid its pool exactly once, as its split says.
    assert wait_for(lambda: prizes_paid(league) == ROUND_ROBIN_PLAYERS * FEE, 60)
    awards = PrizeAward.objects.filter(tournament=league)
    assert sorted(awards.values_list("amount", "paid")) == [(40, True), (60, True)]
    assert Posting.objects.filter(kind=Posting.Kind.PRIZE, tournament_id=league.pk).count() == 2
    assert Account.objects.get(pk=league.escrow_id).balance == 0

    # Every joiner holds their funds less the fee of a place they still hold.
    for joiner in joiners:
        registered = Participant.objects.filter(
            tournament=open_cup, captain=joiner, status="registered"
        ).count()
        assert Account.objects.get(user=joiner).balance == FUNDS - FEE * registered
    open_cup.refresh_from_db()
    assert Account.objects.get(pk=open_cup.escrow_id).balance == FEE * open_cup.participant_count

    for tournament in (open_cup, league, doomed):
        versions = event_versions(tournament)
        assert versions == list(range(1, len(versions) + 1)), tournament.name
    assert ledger_check() == LEDGER_OK


def prizes_paid(tournament: Tournament) -> int:
    """What the tournament's prize postings put into wallets."""
    return (
        Entry.objects.filter(
            posting__kind=Posting.Kind.PRIZE,
            posting__tournament_id=tournament.pk,
            account__kind=Account.Kind.WALLET,
        ).aggregate(s=Sum("amount"))["s"]
        or 0
    )
