"""Refunds of a cancelled tournament: chunks, exactly once, the sweeper, the 202 answer.

These run the tasks in-process (``CELERY_TASK_ALWAYS_EAGER``);
tests/tournaments/test_refunds_worker.py runs them on a real worker process.
"""

from datetime import timedelta
from unittest import mock

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from tests.concurrency import run_concurrently
from tournaments import tasks
from tournaments.models import Participant, ParticipantMember, Tournament, TournamentEvent
from tournaments.services import (
    tournament_cancel,
    tournament_create,
    tournament_join,
    tournament_refunds_chunk,
    tournament_refunds_resume,
)
from wallets.models import Account, Entry, Posting
from wallets.services import external_account, posting_accounts_lock, postings_reverse

FEE = 500
DEPOSIT = 2_000

# N users with wallets, one deposit posting funding them all, N participants with their
# roster rows, N entry-fee postings and their entries: what N solo joins leave behind, with
# balances that match the entries. (bench/refunds.py sets up the same way.)
PARTICIPANTS_SQL = """
WITH u AS (
    INSERT INTO users_user (password, is_superuser, username, first_name, last_name, email,
                            is_staff, is_active, date_joined, phone)
    SELECT '!', false, %(prefix)s || g, '', '', '', false, true, now(), ''
    FROM generate_series(1, %(n)s) AS g
    RETURNING id
), w AS (
    INSERT INTO wallets_account (kind, user_id, label, balance, created_at)
    SELECT 'wallet', id, 'bulk wallet', %(deposit)s - %(fee)s, now() FROM u
    RETURNING id, user_id
), p AS (
    INSERT INTO tournaments_participant
        (tournament_id, team_id, captain_id, name, seed, status, checked_in, created_at)
    SELECT %(tournament)s, NULL, id, %(prefix)s || id, NULL, 'registered', %(checked_in)s, now()
    FROM u
    RETURNING id, captain_id
), m AS (
    INSERT INTO tournaments_participantmember (participant_id, tournament_id, user_id, active)
    SELECT id, %(tournament)s, captain_id, true FROM p
), deposit AS (
    INSERT INTO wallets_posting (kind, reference, tournament_id, created_at)
    VALUES ('deposit', NULL, NULL, now())
    RETURNING id
), fee AS (
    INSERT INTO wallets_posting (kind, reference, tournament_id, created_at)
    SELECT 'entry_fee', 'participant:' || id, %(tournament)s, now() FROM p
    RETURNING id, reference
), paid AS (
    SELECT fee.id AS posting_id, w.id AS wallet_id, row_number() OVER (ORDER BY fee.id) AS k
    FROM fee JOIN p ON fee.reference = 'participant:' || p.id JOIN w ON w.user_id = p.captain_id
), entries AS (
    INSERT INTO wallets_entry (posting_id, account_id, amount, balance_after, created_at)
    SELECT deposit.id, w.id, %(deposit)s, %(deposit)s, now() FROM deposit, w
    UNION ALL
    SELECT deposit.id, %(external)s, -%(deposit)s * %(n)s,
           %(external_balance)s - %(deposit)s * %(n)s, now()
    FROM deposit
    UNION ALL
    SELECT posting_id, wallet_id, -%(fee)s, %(deposit)s - %(fee)s, now() FROM paid
    UNION ALL
    SELECT posting_id, %(escrow)s, %(fee)s, %(fee)s * k, now() FROM paid
)
SELECT count(*) FROM p
"""


def participants_bulk_register(
    tournament: Tournament, count: int, *, checked_in: bool = False
) -> None:
    """Register ``count`` funded solo players in ``tournament`` with set-based statements
    (2,000 HTTP joins would take a minute), checked in or not."""
    external = external_account()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            PARTICIPANTS_SQL,
            {
                "prefix": f"bulk-{tournament.pk}-",
                "n": count,
                "deposit": DEPOSIT,
                "fee": tournament.entry_fee,
                "tournament": tournament.pk,
                "escrow": tournament.escrow_id,
                "external": external.pk,
                "external_balance": external.balance,
                "checked_in": checked_in,
            },
        )
        Account.objects.filter(pk=external.pk).update(balance=external.balance - DEPOSIT * count)
        Account.objects.filter(pk=tournament.escrow_id).update(balance=tournament.entry_fee * count)
        Tournament.objects.filter(pk=tournament.pk).update(
            max_participants=count, participant_count=count, prize_pool=tournament.entry_fee * count
        )
    tournament.refresh_from_db()


def big_cup(organizer, count: int, *, fee: int = FEE) -> Tournament:
    cup = tournament_create(
        organizer=organizer, name=f"Big {count}", format="swiss", max_participants=2,
        entry_fee=fee,
    )  # fmt: skip
    participants_bulk_register(cup, count)
    return cup


def ledger_check() -> dict:
    """The ledger's invariants over every account, set-based (the suite's per-account loop
    would take seconds on thousands of wallets)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT coalesce(sum(balance), 0) FROM wallets_account),"
            " (SELECT count(*) FROM wallets_account a WHERE a.balance <> (SELECT"
            "  coalesce(sum(amount), 0) FROM wallets_entry e WHERE e.account_id = a.id)),"
            " (SELECT count(*) FROM (SELECT posting_id FROM wallets_entry GROUP BY posting_id"
            "  HAVING sum(amount) <> 0) AS unbalanced),"
            " (SELECT count(*) FROM wallets_account WHERE kind <> 'external' AND balance < 0)"
        )
        total, drifted, unbalanced, negative = cursor.fetchone()
    return {"sum": total, "drifted": drifted, "unbalanced": unbalanced, "negative": negative}


LEDGER_OK = {"sum": 0, "drifted": 0, "unbalanced": 0, "negative": 0}


def assert_refunded_exactly_once(cup: Tournament, count: int) -> None:
    cup.refresh_from_db()
    assert (cup.status, cup.refunds_pending, cup.prize_pool) == ("cancelled", 0, 0)
    assert Account.objects.get(pk=cup.escrow_id).balance == 0
    participants = Participant.objects.filter(tournament=cup)
    assert participants.count() == count
    assert set(participants.values_list("status", flat=True)) == {"refunded"}
    assert not ParticipantMember.objects.filter(tournament=cup, active=True).exists()
    refunds = Posting.objects.filter(kind=Posting.Kind.REFUND, tournament_id=cup.pk)
    assert refunds.count() == count
    assert set(refunds.values_list("reference", flat=True)) == {
        f"participant:{pk}" for pk in participants.values_list("pk", flat=True)
    }
    # Every wallet holds its deposit again: each got its fee back once, and only once.
    wallets = Account.objects.filter(user__participantmember__participant__tournament=cup)
    assert wallets.count() == count
    assert set(wallets.values_list("balance", flat=True)) == {DEPOSIT}
    assert ledger_check() == LEDGER_OK


def events_of(cup: Tournament) -> list[tuple[int, str, int | None]]:
    return [
        (e.version, e.name, e.data.get("refunds_pending"))
        for e in TournamentEvent.objects.filter(tournament=cup).order_by("version")
    ]


# --- Scale: 2,000 participants --------------------------------------------------------------


@pytest.mark.django_db
def test_cancel_with_2000_participants_refunds_everyone_exactly_once(
    make_user, django_capture_on_commit_callbacks
):
    organizer = make_user()
    cup = big_cup(organizer, 2000)
    escrow_before = Account.objects.get(pk=cup.escrow_id).balance
    assert escrow_before == 2000 * FEE
    held_before = sum(Account.objects.exclude(kind="external").values_list("balance", flat=True))

    with django_capture_on_commit_callbacks(execute=True):
        tournament_cancel(tournament_id=cup.pk, user=organizer)

    assert_refunded_exactly_once(cup, 2000)
    # Money is conserved: what wallets and escrows hold together did not change.
    held_after = sum(Account.objects.exclude(kind="external").values_list("balance", flat=True))
    assert held_after == held_before
    # The cancel, then one refunds.progress per chunk of 1,000, counting down.
    assert events_of(cup) == [(1, "tournament.cancelled", None), (2, "refunds.progress", 1000),
                              (3, "refunds.progress", 0)]  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize("size", [10, 1000])
def test_a_chunk_runs_the_same_number_of_queries_whatever_its_size(
    make_user, django_assert_num_queries, size
):
    organizer = make_user()
    cup = big_cup(organizer, size)
    with mock.patch.object(tasks.tournament_refunds_chunk_run, "delay_on_commit"):
        tournament_cancel(tournament_id=cup.pk, user=organizer)

    # The tournament; the chunk's ids; then in its transaction (a savepoint here): lock the
    # accounts, lock the participants, the ledger's reversal, the participants, their
    # memberships, the guarded tournament row, the event; and the savepoint pair.
    with django_assert_num_queries(11):
        assert tournament_refunds_chunk(tournament_id=cup.pk) == size

    assert_refunded_exactly_once(cup, size)


@pytest.mark.django_db
def test_the_chunk_size_is_a_setting(make_user, settings, django_capture_on_commit_callbacks):
    settings.REFUNDS_CHUNK_SIZE = 300
    organizer = make_user()
    cup = big_cup(organizer, 1000)

    with django_capture_on_commit_callbacks(execute=True):
        tournament_cancel(tournament_id=cup.pk, user=organizer)

    progress = [pending for _, name, pending in events_of(cup) if name == "refunds.progress"]
    assert progress == [700, 400, 100, 0]
    assert_refunded_exactly_once(cup, 1000)


# --- Exactly once -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_chunk_delivered_again_refunds_nobody_twice_and_does_not_fail(
    make_user, django_capture_on_commit_callbacks
):
    organizer = make_user()
    cup = big_cup(organizer, 50)
    with django_capture_on_commit_callbacks(execute=True):
        tournament_cancel(tournament_id=cup.pk, user=organizer)
    assert_refunded_exactly_once(cup, 50)
    entries = Entry.objects.count()

    # Redelivered messages of the finished chain, and of an unknown tournament.
    tasks.tournament_refunds_chunk_run.apply(args=[cup.pk]).get()
    tasks.tournament_refunds_chunk_run.apply(args=[cup.pk]).get()
    tasks.tournament_refunds_chunk_run.apply(args=[987654321]).get()

    assert Entry.objects.count() == entries
    assert_refunded_exactly_once(cup, 50)


@pytest.mark.django_db(transaction=True)
def test_duplicate_chunks_running_at_once_refund_everyone_exactly_once(make_user):
    """Eight copies of the chain run concurrently (a redelivered message beside its
    original, the sweeper beside a slow chain): no refund twice, and no copy fails."""
    organizer = make_user()
    cup = big_cup(organizer, 1200)
    with mock.patch.object(tasks.tournament_refunds_chunk_run, "delay_on_commit"):
        tournament_cancel(tournament_id=cup.pk, user=organizer)

    def chain():
        refunded = []
        while done := tournament_refunds_chunk(tournament_id=cup.pk, limit=100):
            refunded.append(done)
        return refunded

    with mock.patch.object(tasks.tournament_refunds_chunk_run, "delay_on_commit"):
        outcomes = run_concurrently([chain] * 8, threads=8)

    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert sum(sum(o) for o in outcomes) == 1200
    assert_refunded_exactly_once(cup, 1200)
    versions = [v for v, _, _ in events_of(cup)]
    assert versions == list(range(1, len(versions) + 1))


@pytest.mark.django_db
def test_the_database_refuses_a_second_refund_of_one_participant(make_user):
    organizer = make_user()
    cup = big_cup(organizer, 3)
    references = [
        f"participant:{pk}"
        for pk in Participant.objects.filter(tournament=cup).values_list("pk", flat=True)
    ]

    def reverse():
        with transaction.atomic():
            posting_accounts_lock(kind=Posting.Kind.ENTRY_FEE, references=references)
            return postings_reverse(
                kind=Posting.Kind.ENTRY_FEE, references=references,
                reverse_kind=Posting.Kind.REFUND, tournament_id=cup.pk,
            )  # fmt: skip

    assert reverse() == {**dict.fromkeys(wallet_ids(cup), FEE), cup.escrow_id: -3 * FEE}
    before = ledger_state()
    with pytest.raises(IntegrityError):
        reverse()
    assert ledger_state() == before
    assert ledger_check() == LEDGER_OK


def wallet_ids(cup: Tournament) -> list[int]:
    return list(
        Account.objects.filter(user__participantmember__participant__tournament=cup).values_list(
            "pk", flat=True
        )
    )


def ledger_state():
    return (
        dict(Account.objects.values_list("pk", "balance")),
        Posting.objects.count(),
        Entry.objects.count(),
    )


@pytest.mark.django_db
def test_the_reversal_writes_what_postings_record_would(make_user):
    """postings_reverse's one statement (PostgreSQL) and its Python path (the embedded
    SQLite default) write the same ledger lines."""
    from wallets.services import _postings_reverse_drafts

    organizer = make_user()
    cups = [big_cup(organizer, 20), big_cup(organizer, 20)]
    written = []
    for cup, reverse in zip(cups, [postings_reverse, _postings_reverse_drafts], strict=True):
        references = [f"participant:{pk}" for pk in Participant.objects.filter(
            tournament=cup).order_by("pk").values_list("pk", flat=True)]  # fmt: skip
        with transaction.atomic():
            posting_accounts_lock(kind=Posting.Kind.ENTRY_FEE, references=references)
            deltas = reverse(
                kind=Posting.Kind.ENTRY_FEE, references=references,
                reverse_kind=Posting.Kind.REFUND, tournament_id=cup.pk,
            )  # fmt: skip
        lines = Entry.objects.filter(posting__kind="refund", posting__tournament_id=cup.pk)
        written.append(
            (
                sorted(deltas.values()),
                [
                    (e.posting.reference.split(":")[0], e.amount, e.balance_after - e.amount)
                    for e in lines.select_related("posting").order_by("posting_id", "amount")
                ],
            )
        )
    # Same shape: per account the same change; per line the same amount, and every
    # balance_after follows from the balance before, in posting order.
    assert written[0][0] == written[1][0]
    assert [(r, a) for r, a, _ in written[0][1]] == [(r, a) for r, a, _ in written[1][1]]
    assert ledger_check() == LEDGER_OK


@pytest.mark.django_db
def test_a_chunk_that_fails_half_way_writes_nothing(make_user, django_capture_on_commit_callbacks):
    """A worker dying mid-chunk loses that chunk's work in progress and nothing else."""
    organizer = make_user()
    cup = big_cup(organizer, 30)
    with mock.patch.object(tasks.tournament_refunds_chunk_run, "delay_on_commit"):
        tournament_cancel(tournament_id=cup.pk, user=organizer)
    before = ledger_state()

    with (
        mock.patch(
            "tournaments.services.tournament_row_update", side_effect=RuntimeError("worker died")
        ),
        pytest.raises(RuntimeError),
    ):
        tournament_refunds_chunk(tournament_id=cup.pk, limit=10)

    assert ledger_state() == before
    cup.refresh_from_db()
    assert cup.refunds_pending == 30
    assert not Participant.objects.filter(tournament=cup, status="refunded").exists()
    with django_capture_on_commit_callbacks(execute=True):
        tasks.tournament_refunds_chunk_run.delay(cup.pk)
    assert_refunded_exactly_once(cup, 30)


# --- The sweeper ------------------------------------------------------------------------------


def age_events(cup: Tournament, seconds: int) -> None:
    TournamentEvent.objects.filter(tournament=cup).update(
        created_at=timezone.now() - timedelta(seconds=seconds)
    )


@pytest.mark.django_db
def test_the_sweeper_enqueues_again_a_refund_whose_task_was_lost(
    make_user, settings, django_capture_on_commit_callbacks
):
    organizer = make_user()
    cup = big_cup(organizer, 1500)
    # The cancel commits, but its task never reaches a worker.
    with django_capture_on_commit_callbacks(execute=False):
        tournament_cancel(tournament_id=cup.pk, user=organizer)
    cup.refresh_from_db()
    assert cup.refunds_pending == 1500
    age_events(cup, settings.REFUNDS_STALLED_AFTER + 1)

    with django_capture_on_commit_callbacks(execute=True):
        tasks.tournament_refunds_sweep.delay()

    assert_refunded_exactly_once(cup, 1500)


@pytest.mark.django_db
def test_the_sweeper_leaves_alone_what_is_progressing_finished_or_not_cancelled(
    make_user, django_capture_on_commit_callbacks
):
    organizer = make_user()
    progressing, finished, running, stalled, pruned = (big_cup(organizer, 3) for _ in range(5))
    for cup in (progressing, finished, stalled, pruned):
        with django_capture_on_commit_callbacks(execute=cup is finished):
            tournament_cancel(tournament_id=cup.pk, user=organizer)
    for cup in (finished, running, stalled):
        age_events(cup, 3600)
    # Events older than the retention are deleted (events_prune): no event at all.
    TournamentEvent.objects.filter(tournament=pruned).delete()

    with mock.patch.object(tasks.tournament_refunds_chunk_run, "delay_on_commit") as enqueue:
        resumed = tournament_refunds_resume(stalled_for_seconds=120)

    assert resumed == [stalled.pk, pruned.pk]
    assert [c.args for c in enqueue.call_args_list] == [(stalled.pk,), (pruned.pk,)]


# --- The cancel answers at once ---------------------------------------------------------------


@pytest.mark.django_db
def test_cancel_over_http_answers_202_before_any_refund(
    make_user, client_for, django_capture_on_commit_callbacks
):
    organizer = make_user()
    cup = tournament_create(organizer=organizer, name="Quick", format="swiss",
                            max_participants=8, entry_fee=FEE)  # fmt: skip
    players = [make_user(funds=FEE) for _ in range(3)]
    for player in players:
        tournament_join(tournament_id=cup.pk, user=player)

    with (
        mock.patch.object(tasks.tournament_refunds_chunk_run, "apply_async") as enqueue,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client_for(organizer).post(f"/api/tournaments/{cup.pk}/cancel")

    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["status"], body["refunds_pending"]) == ("cancelled", 3)
    # The request only enqueued the first chunk, by id; no money moved yet.
    assert [c.args[0] for c in enqueue.call_args_list] == [(cup.pk,)]
    assert not Posting.objects.filter(kind=Posting.Kind.REFUND).exists()


@pytest.mark.django_db
def test_a_cancel_that_rolls_back_enqueues_no_refund(make_user, django_capture_on_commit_callbacks):
    organizer = make_user()
    cup = big_cup(organizer, 5)

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        tournament_cancel(tournament_id=cup.pk, user=organizer)
        raise RuntimeError("the request failed after the cancel")

    assert callbacks == []
    cup.refresh_from_db()
    assert (cup.status, cup.refunds_pending) == ("registration", 0)
    assert not Posting.objects.filter(kind=Posting.Kind.REFUND).exists()
