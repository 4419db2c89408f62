"""Prizes of a completed tournament: inline when few, else chunks, exactly once, the sweeper.

The tasks run in-process (``CELERY_TASK_ALWAYS_EAGER``). Large fields are registered with
set-based statements (``tests.tournaments.test_refunds.participants_bulk_register``), and the
thresholds are lowered (``PAYOUTS_INLINE_MAX``, ``PAYOUTS_CHUNK_LINES``) so that small
brackets exercise the background path in well under a second each.
"""

from datetime import timedelta
from unittest import mock

import pytest
from django.db import IntegrityError
from django.utils import timezone

from matches import tasks
from matches.models import Match, PrizeAward
from matches.payouts import tournament_payouts_chunk, tournament_payouts_resume
from matches.services import match_report, tournament_start
from tests.concurrency import run_concurrently
from tests.tournaments.test_refunds import (
    DEPOSIT,
    LEDGER_OK,
    ledger_check,
    participants_bulk_register,
)
from tests.wallets.test_ledger import assert_invariants
from tournaments.models import Participant, Tournament, TournamentEvent
from tournaments.services import (
    team_accept,
    team_create,
    team_invite,
    tournament_create,
    tournament_join,
)
from users.models import User
from wallets.models import Account, Entry, Posting

FEE = 500
# 32 paid places (18 of 4%, 14 of 2%): every participant of a 32-player bracket is placed.
SPLIT_32 = [4] * 18 + [2] * 14
SPLIT_16 = [20, 10] + [5] * 14


def completed_cup(organizer, n: int, *, split: list[int], fee: int = FEE) -> Tournament:
    """A single-elimination bracket of ``n`` bulk-registered players, played to the end by
    both captains' reports, the better seed always winning."""
    cup = tournament_create(
        organizer=organizer, name=f"Cup {n}", format="single_elimination",
        max_participants=2, entry_fee=fee, prize_split=split,
    )  # fmt: skip
    participants_bulk_register(cup, n)
    tournament_start(tournament_id=cup.pk, user=organizer)
    play_to_the_end(cup)
    cup.refresh_from_db()
    return cup


def play_to_the_end(cup: Tournament) -> None:
    seeds = dict(Participant.objects.filter(tournament=cup).values_list("pk", "seed"))
    captains = User.objects.in_bulk(
        Participant.objects.filter(tournament=cup).values_list("captain_id", flat=True)
    )
    captain_of = dict(Participant.objects.filter(tournament=cup).values_list("pk", "captain_id"))
    while ready := list(Match.objects.filter(tournament=cup, status=Match.Status.READY)):
        for match in ready:
            sides = (match.participant_a_id, match.participant_b_id)
            winner = min(sides, key=seeds.__getitem__)
            for side in sides:
                match_report(match_id=match.pk, user=captains[captain_of[side]], winner_id=winner)


def completed_event(cup: Tournament) -> dict:
    return TournamentEvent.objects.get(tournament=cup, name="tournament.completed").data


def progress_of(cup: Tournament) -> list[int]:
    return [
        e.data["payouts_pending"]
        for e in TournamentEvent.objects.filter(tournament=cup, name="payouts.progress").order_by(
            "version"
        )
    ]


def assert_paid_exactly_once(cup: Tournament) -> None:
    """Every placed participant paid its decided prize once; the escrow is empty."""
    cup.refresh_from_db()
    assert (cup.status, cup.payouts_pending) == ("completed", 0)
    assert Account.objects.get(pk=cup.escrow_id).balance == 0
    prizes = {int(pk): amount for pk, amount in completed_event(cup)["prizes"].items()}
    assert sum(prizes.values()) == cup.prize_pool
    postings = Posting.objects.filter(kind=Posting.Kind.PRIZE, tournament_id=cup.pk)
    assert sorted(postings.values_list("reference", flat=True)) == sorted(
        f"participant:{pk}" for pk in prizes
    )
    paid_out = {
        int(e.posting.reference.split(":")[1]): -e.amount
        for e in Entry.objects.filter(posting__in=postings, account_id=cup.escrow_id)
        .select_related("posting")
    }  # fmt: skip
    assert paid_out == prizes
    assert not PrizeAward.objects.filter(tournament=cup, paid=False).exists()
    assert ledger_check() == LEDGER_OK


def versions_of(cup: Tournament) -> list[int]:
    return list(
        TournamentEvent.objects.filter(tournament=cup)
        .order_by("version")
        .values_list("version", flat=True)
    )


# --- The background path ----------------------------------------------------------------------


@pytest.mark.django_db
def test_a_large_field_is_paid_in_chunks_exactly_once(
    make_user, settings, client_for, django_capture_on_commit_callbacks
):
    settings.PAYOUTS_CHUNK_LINES = 20  # 10 solo participants (a wallet and the escrow each)
    organizer = make_user()
    with django_capture_on_commit_callbacks(execute=True):
        cup = completed_cup(organizer, 32, split=SPLIT_32)

    assert_paid_exactly_once(cup)
    # Every player holds their deposit, less the fee, plus the prize decided for them.
    prizes = {int(pk): amount for pk, amount in completed_event(cup)["prizes"].items()}
    assert len(prizes) == 32
    balances = dict(
        Participant.objects.filter(tournament=cup).values_list("pk", "captain__wallet__balance")
    )
    assert balances == {pk: DEPOSIT - FEE + prize for pk, prize in prizes.items()}
    seeds = dict(Participant.objects.filter(tournament=cup).values_list("pk", "seed"))
    by_seed = {seeds[pk]: prize for pk, prize in prizes.items()}
    pool = 32 * FEE
    assert (by_seed[1], by_seed[2], by_seed[3]) == (pool * 4 // 100,) * 3
    assert by_seed[32] == pool * (2 * 4 + 14 * 2) // (16 * 100)  # 17th-32nd share 36%
    assert_invariants()

    # The completion says what was decided; then one payouts.progress per chunk of 10.
    event = completed_event(cup)
    assert event["tournament"]["payouts_pending"] == 32
    assert [len(group) for group in event["placements"]] == [1, 1, 2, 4, 8, 16]
    assert progress_of(cup) == [22, 12, 2, 0]
    names = list(
        TournamentEvent.objects.filter(tournament=cup).order_by("version").values_list("name")
    )
    assert [n for (n,) in names[-5:]] == ["tournament.completed"] + ["payouts.progress"] * 4
    assert versions_of(cup) == list(range(1, cup.version + 1))
    body = client_for().get(f"/api/tournaments/{cup.pk}").json()
    assert (body["status"], body["payouts_pending"]) == ("completed", 0)


@pytest.mark.django_db
def test_the_completing_result_pays_nothing_and_enqueues_the_first_chunk(
    make_user, django_capture_on_commit_callbacks
):
    organizer = make_user()
    with mock.patch.object(tasks.tournament_payouts_chunk_run, "delay_on_commit") as enqueue:
        cup = completed_cup(organizer, 16, split=SPLIT_16)

    assert cup.status == "completed"
    assert [c.args for c in enqueue.call_args_list] == [(cup.pk,)]
    assert not Posting.objects.filter(kind=Posting.Kind.PRIZE, tournament_id=cup.pk).exists()
    assert Account.objects.get(pk=cup.escrow_id).balance == 16 * FEE
    awards = dict(PrizeAward.objects.filter(tournament=cup).values_list("pk", "amount"))
    assert cup.payouts_pending == len(awards) == 16
    prizes = {int(pk): amount for pk, amount in completed_event(cup)["prizes"].items()}
    assert awards == prizes and sum(prizes.values()) == 16 * FEE

    with django_capture_on_commit_callbacks(execute=True):
        tasks.tournament_payouts_chunk_run.delay(cup.pk)
    assert_paid_exactly_once(cup)
    assert progress_of(cup) == [0]  # 16 solo participants fit one chunk of 1,000 lines


@pytest.mark.django_db
def test_team_rosters_are_paid_in_chunks_with_the_remainder_to_the_captain(
    make_user, settings, django_capture_on_commit_callbacks
):
    """Ten teams of 3; the winners' captain registered a roster without themself."""
    settings.PAYOUTS_INLINE_MAX = 2
    settings.PAYOUTS_CHUNK_LINES = 8  # 2 teams a chunk: 3 wallets and the escrow each
    fee = 7
    organizer = make_user()
    cup = tournament_create(
        organizer=organizer, name="Teams", format="single_elimination", team_size=3,
        max_participants=10, entry_fee=fee, prize_split=[32, 28, 20, 20],
    )  # fmt: skip
    rosters = []
    for i in range(10):
        captain = make_user(funds=0 if i == 0 else fee)
        team = team_create(user=captain, name=f"Team {i}")
        members = [make_user(funds=fee) for _ in range(3 if i == 0 else 2)]
        for member in members:
            team_invite(team_id=team.pk, by_user=captain, username=member.username)
            team_accept(team_id=team.pk, user=member)
        roster = members if i == 0 else [captain, *members]
        tournament_join(
            tournament_id=cup.pk, user=captain, team_id=team.pk,
            member_ids=[u.pk for u in roster],
        )  # fmt: skip
        rosters.append((captain, roster))
    tournament_start(tournament_id=cup.pk, user=organizer)

    with django_capture_on_commit_callbacks(execute=True):
        play_to_the_end(cup)

    assert_paid_exactly_once(cup)
    assert progress_of(cup) == [2, 0]
    # Pool 210: 1st 67 + the remainder 1 = 68, 2nd 58, 3rd-4th 42 each (registration seeds,
    # the better seed winning). 68 = 22 * 3 + 2: the remainder to the first member, since
    # the captain does not play; 58 = 19 * 3 + 1: the remainder to the captain.
    balance = {u.pk: b for u, b in ((u, Account.objects.get(user=u).balance) for _, r in rosters
                                    for u in r)}  # fmt: skip
    first_captain, first_roster = rosters[0]
    assert [balance[u.pk] for u in first_roster] == [24, 22, 22]
    assert not Account.objects.filter(user=first_captain, balance__gt=0).exists()
    assert [balance[u.pk] for u in rosters[1][1]] == [20, 19, 19]
    assert [balance[u.pk] for u in rosters[2][1]] == [14, 14, 14]
    assert [balance[u.pk] for u in rosters[3][1]] == [14, 14, 14]
    assert all(balance[u.pk] == 0 for _, roster in rosters[4:] for u in roster)
    assert_invariants()


# --- Exactly once ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_chunk_delivered_again_pays_nobody_twice_and_does_not_fail(
    make_user, django_capture_on_commit_callbacks
):
    organizer = make_user()
    with django_capture_on_commit_callbacks(execute=True):
        cup = completed_cup(organizer, 16, split=SPLIT_16)
    assert_paid_exactly_once(cup)
    entries, version = Entry.objects.count(), cup.version

    # Redelivered messages of the finished chain, and of an unknown tournament.
    with django_capture_on_commit_callbacks(execute=True):
        tasks.tournament_payouts_chunk_run.apply(args=[cup.pk]).get()
        tasks.tournament_payouts_chunk_run.apply(args=[cup.pk]).get()
        tasks.tournament_payouts_chunk_run.apply(args=[987654321]).get()
    assert tournament_payouts_chunk(tournament_id=cup.pk) == 0

    assert Entry.objects.count() == entries
    assert_paid_exactly_once(cup)
    assert cup.version == version  # and no event for a chunk that paid nobody


@pytest.mark.django_db
def test_a_stale_chunk_pays_only_what_is_still_unpaid(make_user, settings):
    """A copy of a chunk that read its ids before the original committed (it waited on the
    escrow's lock meanwhile) re-reads the awards under lock and pays the rest only."""
    from matches import payouts

    settings.PAYOUTS_CHUNK_LINES = 10  # 5 a chunk
    organizer = make_user()
    awards_pay = payouts._awards_pay
    originals = []

    def original_commits_first(**kwargs):
        if not originals:
            originals.append("running")  # the original's own call goes straight through
            originals[0] = tournament_payouts_chunk(tournament_id=cup.pk, limit=5)
        return awards_pay(**kwargs)

    with mock.patch.object(tasks.tournament_payouts_chunk_run, "delay_on_commit"):
        cup = completed_cup(organizer, 16, split=SPLIT_16)
        with mock.patch.object(payouts, "_awards_pay", side_effect=original_commits_first):
            # The copy read the first 8 as its chunk; 5 of them are paid when it locks.
            assert tournament_payouts_chunk(tournament_id=cup.pk, limit=8) == 3
        assert originals == [5]
        while tournament_payouts_chunk(tournament_id=cup.pk):
            pass
    assert_paid_exactly_once(cup)
    assert progress_of(cup) == [11, 8, 3, 0]
    assert versions_of(cup) == list(range(1, cup.version + 1))


@pytest.mark.django_db(transaction=True)
def test_duplicate_chunks_running_at_once_pay_everyone_exactly_once(make_user):
    """Six copies of the chain at once (a redelivered message beside its original, the
    sweeper beside a slow chain): nobody is paid twice and no copy fails."""
    organizer = make_user()
    with mock.patch.object(tasks.tournament_payouts_chunk_run, "delay_on_commit"):
        cup = completed_cup(organizer, 32, split=SPLIT_32)

        def chain():
            paid = []
            while done := tournament_payouts_chunk(tournament_id=cup.pk, limit=4):
                paid.append(done)
            return paid

        outcomes = run_concurrently([chain] * 6, threads=6)

    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert sum(sum(o) for o in outcomes) == 32
    assert_paid_exactly_once(cup)
    assert versions_of(cup) == list(range(1, cup.version + 1))


@pytest.mark.django_db
def test_the_ledger_refuses_a_second_prize_even_if_an_award_were_marked_unpaid(make_user):
    organizer = make_user()
    with mock.patch.object(tasks.tournament_payouts_chunk_run, "delay_on_commit"):
        cup = completed_cup(organizer, 16, split=SPLIT_16)
        assert tournament_payouts_chunk(tournament_id=cup.pk, limit=4) == 4
    first = PrizeAward.objects.filter(tournament=cup, paid=True).order_by("pk").first()
    # A bug, or a hand edit, that forgets a payment: the ledger still holds the line.
    PrizeAward.objects.filter(pk=first.pk).update(paid=False)
    Tournament.objects.filter(pk=cup.pk).update(payouts_pending=13)
    before = (dict(Account.objects.values_list("pk", "balance")), Entry.objects.count())

    with pytest.raises(IntegrityError):
        tournament_payouts_chunk(tournament_id=cup.pk, limit=1)

    assert (dict(Account.objects.values_list("pk", "balance")), Entry.objects.count()) == before


@pytest.mark.django_db
def test_a_chunk_that_fails_half_way_writes_nothing(make_user, django_capture_on_commit_callbacks):
    organizer = make_user()
    with mock.patch.object(tasks.tournament_payouts_chunk_run, "delay_on_commit"):
        cup = completed_cup(organizer, 16, split=SPLIT_16)
    before = (dict(Account.objects.values_list("pk", "balance")), Entry.objects.count())

    with (
        mock.patch(
            "matches.payouts.tournament_row_update", side_effect=RuntimeError("worker died")
        ),
        pytest.raises(RuntimeError),
    ):
        tournament_payouts_chunk(tournament_id=cup.pk, limit=5)

    assert (dict(Account.objects.values_list("pk", "balance")), Entry.objects.count()) == before
    assert not PrizeAward.objects.filter(tournament=cup, paid=True).exists()
    with django_capture_on_commit_callbacks(execute=True):
        tasks.tournament_payouts_chunk_run.delay(cup.pk)
    assert_paid_exactly_once(cup)


@pytest.mark.django_db
@pytest.mark.parametrize("size", [10, 30])
def test_a_chunk_runs_the_same_number_of_queries_whatever_its_size(
    make_user, django_assert_num_queries, size
):
    organizer = make_user()
    with mock.patch.object(tasks.tournament_payouts_chunk_run, "delay_on_commit"):
        cup = completed_cup(organizer, 32, split=SPLIT_32)
        # The tournament; the chunk's ids; then in its transaction (a savepoint here): the
        # rosters, the wallets ensured, the accounts locked, the awards locked, the balances,
        # the postings, the entries, the awards, the guarded tournament row (which returns its
        # counter), the event; and the savepoint pair.
        with django_assert_num_queries(14):
            assert tournament_payouts_chunk(tournament_id=cup.pk, limit=size) == size


# --- The sweeper --------------------------------------------------------------------------------


def age_events(cup: Tournament, seconds: int) -> None:
    TournamentEvent.objects.filter(tournament=cup).update(
        created_at=timezone.now() - timedelta(seconds=seconds)
    )


@pytest.mark.django_db
def test_the_sweeper_enqueues_again_a_payout_whose_task_was_lost(
    make_user, settings, django_capture_on_commit_callbacks
):
    settings.PAYOUTS_CHUNK_LINES = 20
    organizer = make_user()
    # The completion commits, but its task never reaches a worker.
    with django_capture_on_commit_callbacks(execute=False):
        cup = completed_cup(organizer, 32, split=SPLIT_32)
    assert cup.payouts_pending == 32
    assert tournament_payouts_resume(stalled_for_seconds=120) == []  # not stalled yet
    age_events(cup, settings.PAYOUTS_STALLED_AFTER + 1)

    with django_capture_on_commit_callbacks(execute=True):
        tasks.tournament_payouts_sweep.delay()

    assert_paid_exactly_once(cup)
    assert progress_of(cup) == [22, 12, 2, 0]


@pytest.mark.django_db
def test_the_sweeper_leaves_alone_what_is_progressing_finished_or_not_completed(
    make_user, django_capture_on_commit_callbacks
):
    organizer = make_user()
    split = SPLIT_16
    with mock.patch.object(tasks.tournament_payouts_chunk_run, "delay_on_commit"):
        progressing, stalled, pruned = (completed_cup(organizer, 16, split=split) for _ in "abc")
    with django_capture_on_commit_callbacks(execute=True):
        finished = completed_cup(organizer, 16, split=split)
    running = tournament_create(organizer=organizer, name="Running", format="swiss",
                                max_participants=4)  # fmt: skip
    for cup in (stalled, finished, running):
        age_events(cup, 3600)
    # Events older than the retention are deleted (events_prune): no event at all.
    TournamentEvent.objects.filter(tournament=pruned).delete()

    with mock.patch.object(tasks.tournament_payouts_chunk_run, "delay_on_commit") as enqueue:
        resumed = tournament_payouts_resume(stalled_for_seconds=120)

    assert resumed == [stalled.pk, pruned.pk]
    assert [c.args for c in enqueue.call_args_list] == [(stalled.pk,), (pruned.pk,)]


def test_beat_sweeps_stalled_payouts_every_minute():
    from project.celery import app

    tasks_ = {e["task"]: e["schedule"] for e in app.conf.beat_schedule.values()}
    assert tasks_["matches.tasks.tournament_payouts_sweep"] <= 60


# --- Few prizes are paid at once ---------------------------------------------------------------


@pytest.mark.django_db
def test_up_to_the_threshold_the_completing_result_pays_every_prize(make_user, settings):
    settings.PAYOUTS_INLINE_MAX = 4
    organizer = make_user()
    with mock.patch.object(tasks.tournament_payouts_chunk_run, "delay_on_commit") as enqueue:
        # 1st, 2nd and the two semifinal losers: 4 prizes, at the threshold.
        cup = completed_cup(organizer, 8, split=[50, 30, 10, 10])

    assert enqueue.call_count == 0
    assert not PrizeAward.objects.filter(tournament=cup).exists()
    assert completed_event(cup)["tournament"]["payouts_pending"] == 0
    assert_paid_exactly_once(cup)
    assert progress_of(cup) == []
    assert Posting.objects.filter(kind=Posting.Kind.PRIZE, tournament_id=cup.pk).count() == 4
