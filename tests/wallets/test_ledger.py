"""The ledger's invariants, each proved after real business actions."""

import pytest
from django.db import IntegrityError, transaction
from django.db.models import Sum

from tests.concurrency import run_concurrently
from tournaments.models import Participant
from tournaments.services import (
    tournament_cancel,
    tournament_create,
    tournament_join,
    tournament_leave,
    tournament_refunds_chunk,
)
from wallets.errors import InsufficientFunds
from wallets.models import Account, Entry, Posting
from wallets.services import PostingDraft, accounts_lock, deposit_create, postings_record

FEE = 30


def assert_invariants():
    # Every posting's entries sum to zero.
    unbalanced = Posting.objects.annotate(total=Sum("entries__amount")).exclude(total=0)
    assert not unbalanced.exists()
    # So the sum over all accounts is zero, and what wallets and escrows hold is exactly
    # what was deposited.
    assert Account.objects.aggregate(s=Sum("balance"))["s"] in (0, None)
    deposited = (
        Entry.objects.filter(
            posting__kind=Posting.Kind.DEPOSIT, account__kind=Account.Kind.WALLET
        ).aggregate(s=Sum("amount"))["s"]
        or 0
    )
    held = Account.objects.exclude(kind=Account.Kind.EXTERNAL).aggregate(s=Sum("balance"))["s"]
    assert held == deposited
    # Every balance is the sum of its entries, and never negative but for the external one.
    for account in Account.objects.all():
        total = Entry.objects.filter(account=account).aggregate(s=Sum("amount"))["s"] or 0
        assert account.balance == total, account
        if account.kind != Account.Kind.EXTERNAL:
            assert account.balance >= 0, account


@pytest.mark.django_db
def test_invariants_hold_through_deposits_joins_leaves_and_cancels(
    make_user, django_capture_on_commit_callbacks
):
    organizer = make_user()
    players = [make_user(funds=100 + i) for i in range(6)]
    cups = [
        tournament_create(organizer=organizer, name=f"Cup {i}", format="swiss",
                          max_participants=8, entry_fee=FEE + i)
        for i in range(3)
    ]  # fmt: skip
    for cup in cups:
        for player in players:
            tournament_join(tournament_id=cup.pk, user=player)
    assert_invariants()

    tournament_leave(tournament_id=cups[0].pk, user=players[0])
    tournament_leave(tournament_id=cups[1].pk, user=players[1])
    deposit_create(user_id=players[2].pk, amount=7)
    with django_capture_on_commit_callbacks(execute=True):  # runs the refund task
        tournament_cancel(tournament_id=cups[2].pk, user=organizer)
    assert_invariants()

    cups[2].refresh_from_db()
    assert cups[2].refunds_pending == 0
    assert Account.objects.get(pk=cups[2].escrow_id).balance == 0
    assert Account.objects.get(pk=cups[0].escrow_id).balance == 5 * FEE


@pytest.mark.django_db
def test_an_unbalanced_posting_is_refused_before_it_touches_the_database():
    with pytest.raises(ValueError, match="unbalanced"):
        PostingDraft(kind=Posting.Kind.DEPOSIT, reference=None, lines={1: 10, 2: -9})


@pytest.mark.django_db
def test_database_forbids_a_negative_wallet(make_user):
    player = make_user(funds=10)
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(user=player).update(balance=-1)
    assert Account.objects.get(user=player).balance == 10


@pytest.mark.django_db
def test_posting_more_than_a_wallet_holds_is_refused_and_writes_nothing(make_user):
    player = make_user(funds=10)
    wallet = Account.objects.get(user=player)
    escrow = Account.objects.create(kind=Account.Kind.ESCROW, label="pool")
    entries = Entry.objects.count()
    with pytest.raises(InsufficientFunds), transaction.atomic():
        locked = accounts_lock(ids=[wallet.pk, escrow.pk])
        postings_record(
            drafts=[
                PostingDraft(
                    kind="entry_fee", reference="x:1", lines={wallet.pk: -11, escrow.pk: 11}
                )
            ],
            locked=locked,
        )  # fmt: skip
    assert Entry.objects.count() == entries
    assert Account.objects.get(pk=wallet.pk).balance == 10


@pytest.mark.django_db
def test_database_refuses_to_post_one_business_event_twice(make_user):
    player = make_user(funds=10)
    wallet = Account.objects.get(user=player)
    escrow = Account.objects.create(kind=Account.Kind.ESCROW, label="pool")

    def charge():
        with transaction.atomic():
            locked = accounts_lock(ids=[wallet.pk, escrow.pk])
            postings_record(
                drafts=[PostingDraft(kind="entry_fee", reference="participant:999",
                                     lines={wallet.pk: -1, escrow.pk: 1})],
                locked=locked,
            )  # fmt: skip

    charge()
    with pytest.raises(IntegrityError):
        charge()
    assert Account.objects.get(pk=wallet.pk).balance == 9


@pytest.mark.django_db
def test_refunding_a_cancelled_tournament_twice_refunds_once(
    make_user, django_capture_on_commit_callbacks
):
    organizer = make_user()
    cup = tournament_create(organizer=organizer, name="Once", format="round_robin",
                            max_participants=4, entry_fee=FEE)  # fmt: skip
    players = [make_user(funds=FEE) for _ in range(4)]
    for player in players:
        tournament_join(tournament_id=cup.pk, user=player)
    # Cancel without running the enqueued task, then run the refund by hand, twice.
    with django_capture_on_commit_callbacks(execute=False):
        tournament_cancel(tournament_id=cup.pk, user=organizer)

    assert tournament_refunds_chunk(tournament_id=cup.pk) == 4
    assert tournament_refunds_chunk(tournament_id=cup.pk) == 0

    assert Posting.objects.filter(kind=Posting.Kind.REFUND, tournament_id=cup.pk).count() == 4
    assert set(Participant.objects.filter(tournament=cup).values_list("status", flat=True)) == {
        "refunded"
    }
    assert all(Account.objects.get(user=p).balance == FEE for p in players)
    assert_invariants()


@pytest.mark.django_db(transaction=True)
def test_no_balance_goes_below_zero_under_concurrent_joins(make_user, client_for):
    """A player who can pay three entry fees tries to join twelve tournaments at once."""
    organizer = make_user()
    cups = [
        tournament_create(organizer=organizer, name=f"Rush {i}", format="single_elimination",
                          max_participants=4, entry_fee=FEE)
        for i in range(12)
    ]  # fmt: skip
    player = make_user(funds=3 * FEE)
    clients = [client_for(player) for _ in cups]

    responses = run_concurrently(
        [
            lambda c=c, cup=cup: c.post(f"/api/tournaments/{cup.pk}/join", {}, format="json")
            for c, cup in zip(clients, cups, strict=True)
        ]
    )

    codes = sorted(r.status_code for r in responses)
    assert codes == [201] * 3 + [409] * 9
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"insufficient_funds"}
    assert Account.objects.get(user=player).balance == 0
    assert_invariants()
