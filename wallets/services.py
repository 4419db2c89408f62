"""Writes to the ledger. Every money movement in the service goes through here.

The primitive is two steps, so that a caller can check funds before doing its own writes
and still post in the same transaction:

1. ``accounts_lock`` locks the accounts a business action will touch, in primary-key order
   (one statement). Every writer locks accounts in that one global order, so two actions
   that share accounts queue instead of deadlocking.
2. ``postings_record`` writes any number of balanced postings over locked accounts with a
   constant number of statements: one ``UPDATE ... FROM (VALUES ...)`` for the balances,
   one bulk insert of postings and one of entries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Q

from wallets.errors import InsufficientFunds, InvalidAmount
from wallets.models import Account, Entry, Posting


@dataclass
class PostingDraft:
    """A posting to record: ``lines`` maps account id to signed amount; they sum to 0."""

    kind: str
    reference: str | None
    lines: dict[int, int]
    tournament_id: int | None = None
    entries: list[Entry] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        if sum(self.lines.values()) != 0:
            raise ValueError(f"unbalanced posting {self.kind} {self.reference}: {self.lines}")


def wallet_for_user(*, user_id: int, label: str = "") -> Account:
    """The user's wallet, created empty on first use (users made by createsuperuser or the
    admin have none until then)."""
    account, _ = Account.objects.get_or_create(
        user_id=user_id,
        defaults={"kind": Account.Kind.WALLET, "label": label or f"wallet of user {user_id}"},
    )
    return account


def escrow_create(*, label: str) -> Account:
    return Account.objects.create(kind=Account.Kind.ESCROW, label=label)


def external_account() -> Account:
    account, _ = Account.objects.get_or_create(
        kind=Account.Kind.EXTERNAL, defaults={"label": "external (deposits)"}
    )
    return account


def accounts_lock(*, ids: Iterable[int] = (), user_ids: Iterable[int] = ()) -> dict[int, Account]:
    """Lock the given accounts (by id, or the wallets of the given users) in pk order.

    Must run inside a transaction; returns the locked rows by account id.
    """
    condition = Q(pk__in=list(ids)) | Q(user_id__in=list(user_ids))
    qs = Account.objects.select_for_update().filter(condition).order_by("pk")
    return {account.pk: account for account in qs}


def postings_record(*, drafts: list[PostingDraft], locked: dict[int, Account]) -> list[Posting]:
    """Record balanced postings over accounts the caller has locked with ``accounts_lock``.

    Raises ``InsufficientFunds`` (naming the accounts) if any wallet or escrow would go
    below zero; nothing is written then. Updates the ``balance`` of the given Account
    objects in place.
    """
    if not drafts:
        return []
    if not connection.in_atomic_block:
        raise RuntimeError("postings_record must run inside transaction.atomic")

    deltas: dict[int, int] = defaultdict(int)
    for draft in drafts:
        for account_id, amount in draft.lines.items():
            deltas[account_id] += amount
    missing = set(deltas) - set(locked)
    if missing:
        raise RuntimeError(f"accounts {sorted(missing)} were not locked before posting")

    short = [
        account_id
        for account_id, delta in deltas.items()
        if locked[account_id].kind != Account.Kind.EXTERNAL
        and locked[account_id].balance + delta < 0
    ]
    if short:
        raise InsufficientFunds("Insufficient funds.", account_ids=sorted(short))

    _balances_add(deltas)

    postings = Posting.objects.bulk_create(
        [Posting(kind=d.kind, reference=d.reference, tournament_id=d.tournament_id) for d in drafts]
    )
    entries = []
    for posting, draft in zip(postings, drafts, strict=True):
        for account_id, amount in draft.lines.items():
            account = locked[account_id]
            account.balance += amount
            entry = Entry(
                posting=posting,
                account_id=account_id,
                amount=amount,
                balance_after=account.balance,
            )
            draft.entries.append(entry)
            entries.append(entry)
    Entry.objects.bulk_create(entries)
    return postings


def _balances_add(deltas: dict[int, int]) -> None:
    """One statement that adds a per-account amount to many balances.

    ``bulk_update`` would write values computed in Python; adding in SQL keeps the statement
    right even for a row someone forgot to lock. The CHECK constraint is the last guard.
    """
    table = Account._meta.db_table
    values = ", ".join(["(%s, %s)"] * len(deltas))
    params = [p for pair in deltas.items() for p in pair]
    with connection.cursor() as cursor:
        # VALUES columns are named column1, column2 by both PostgreSQL and SQLite.
        cursor.execute(
            f"UPDATE {table} SET balance = {table}.balance + CAST(v.column2 AS bigint) "
            f"FROM (VALUES {values}) AS v WHERE {table}.id = CAST(v.column1 AS bigint)",
            params,
        )


def deposit_create(*, user_id: int, amount: int) -> Account:
    """Staff credit a user's wallet from the external account."""
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidAmount("A deposit must be a positive whole number of minor units.")
    wallet = wallet_for_user(user_id=user_id)
    external = external_account()
    with transaction.atomic():
        locked = accounts_lock(ids=[wallet.pk, external.pk])
        postings_record(
            drafts=[
                PostingDraft(
                    kind=Posting.Kind.DEPOSIT,
                    reference=None,
                    lines={external.pk: -amount, wallet.pk: amount},
                )
            ],
            locked=locked,
        )
    return locked[wallet.pk]


def wallets_ensure(*, user_ids: Iterable[int]) -> None:
    """Give every listed user a wallet if they have none (one statement)."""
    Account.objects.bulk_create(
        [
            Account(kind=Account.Kind.WALLET, user_id=pk, label=f"wallet of user {pk}")
            for pk in user_ids
        ],
        ignore_conflicts=True,
    )
