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

from project.statements import (
    for_update,
    insert_with_children,
    instances_of_row,
    placeholders,
    select_list,
)
from wallets.errors import InsufficientFunds, InvalidAmount
from wallets.models import Account, Entry, Posting
from wallets.selectors import posting_lines


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


# Labels are for people reading the admin; callers build them from names (a 150-character
# username, a 100-character tournament name) that may not fit, so they are cut to the column.
LABEL_MAX_LENGTH = Account._meta.get_field("label").max_length


def wallet_for_user(*, user_id: int, label: str = "") -> Account:
    """The user's wallet, created empty on first use (users made by createsuperuser or the
    admin have none until then)."""
    label = (label or f"wallet of user {user_id}")[:LABEL_MAX_LENGTH]
    account, _ = Account.objects.get_or_create(
        user_id=user_id, defaults={"kind": Account.Kind.WALLET, "label": label}
    )
    return account


def escrow_create(*, label: str) -> Account:
    return Account.objects.create(kind=Account.Kind.ESCROW, label=label[:LABEL_MAX_LENGTH])


def external_account() -> Account:
    account, _ = Account.objects.get_or_create(
        kind=Account.Kind.EXTERNAL, defaults={"label": "external (deposits)"}
    )
    return account


def accounts_lock(*, ids: Iterable[int] = (), user_ids: Iterable[int] = ()) -> dict[int, Account]:
    """Lock the given accounts (by id, or the wallets of the given users) in pk order.

    Must run inside a transaction; returns the locked rows by account id.

    Written here rather than built by the ORM (``select_for_update()
    .filter(Q(pk__in=...) | Q(user_id__in=...))``), which took 2.7x the CPU of this one
    on every join and leave (``bench/statements.py``); 2.4x when this one went through
    ``raw()``, before it read its rows by cursor as the tournament's lock does.
    """
    ids, user_ids = list(ids), list(user_ids)
    conditions = [
        f"{column} IN ({placeholders(len(values))})"
        for column, values in (("id", ids), ("user_id", user_ids))
        if values
    ]
    if not conditions:
        return {}
    table = connection.ops.quote_name(Account._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {select_list(Account, 'a')} FROM {table} a "
            f"WHERE {' OR '.join(conditions)} ORDER BY id{for_update()}",
            [*ids, *user_ids],
        )
        rows = cursor.fetchall()
    locked = (instances_of_row(row, [Account])[0] for row in rows)
    return {account.pk: account for account in locked}


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

    postings = [
        Posting(kind=d.kind, reference=d.reference, tournament_id=d.tournament_id) for d in drafts
    ]
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
    if len(drafts) == 1:  # a join's entry fee: one statement (project/statements.py)
        insert_with_children(postings[0], entries, link="posting", key="account")
    else:
        Posting.objects.bulk_create(postings)
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


def posting_accounts_lock(*, kind: str, references: list[str]) -> list[int]:
    """Lock, in pk order, every account that the postings of ``kind`` with the given
    references moved money on (one statement); returns their ids. The lock step of
    ``postings_reverse``: take it before any other lock of the business action.
    """
    if connection.vendor != "postgresql":
        lines = posting_lines(kind=kind, references=references)
        return list(accounts_lock(ids={a for entry in lines.values() for a in entry}))
    account, entry, posting = (m._meta.db_table for m in (Account, Entry, Posting))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT a.id FROM {account} a WHERE a.id IN (SELECT e.account_id FROM {posting} p "
            f"JOIN {entry} e ON e.posting_id = p.id WHERE p.kind = %s AND p.reference = ANY(%s)) "
            "ORDER BY a.id FOR UPDATE",
            [kind, list(references)],
        )
        return [row[0] for row in cursor.fetchall()]


def postings_reverse(
    *, kind: str, references: list[str], reverse_kind: str, tournament_id: int | None = None
) -> dict[int, int]:
    """Record the exact reverse of each posting of ``kind`` with the given references, as a
    ``reverse_kind`` posting with the same reference; returns the change of each balance.

    For refunds at scale: the lines never travel through Python. On PostgreSQL it is one
    statement of set-based parts: insert the postings, insert their entries (each
    ``balance_after`` in posting order), and add the sums to the balances with one
    ``UPDATE ... FROM``. The accounts must be locked first (``posting_accounts_lock``). The
    database refuses to reverse one reference twice (unique ``(kind, reference)``) and any
    balance going below zero (CHECK): an ``IntegrityError``, and nothing is written.
    Elsewhere (the embedded SQLite default) it records the same postings through
    ``postings_record``.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("postings_reverse must run inside transaction.atomic")
    if not references:
        return {}
    if connection.vendor != "postgresql":
        return _postings_reverse_drafts(
            kind=kind, references=references, reverse_kind=reverse_kind, tournament_id=tournament_id
        )
    account, entry, posting = (m._meta.db_table for m in (Account, Entry, Posting))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH source AS (
                SELECT id, reference FROM {posting} WHERE kind = %(kind)s
                AND reference = ANY(%(references)s)
            ), reversal AS (
                INSERT INTO {posting} (kind, reference, tournament_id, created_at)
                SELECT %(reverse_kind)s, reference, %(tournament_id)s, now()
                FROM source ORDER BY id
                RETURNING id, reference
            ), line AS (
                SELECT reversal.id AS posting_id, e.account_id, -e.amount AS amount
                FROM reversal JOIN source USING (reference)
                JOIN {entry} e ON e.posting_id = source.id
            ), delta AS (
                SELECT account_id, sum(amount)::bigint AS amount FROM line GROUP BY account_id
            ), balance AS (
                UPDATE {account} a SET balance = a.balance + delta.amount
                FROM delta WHERE a.id = delta.account_id
                RETURNING a.id, a.balance - delta.amount AS before, delta.amount AS delta
            ), inserted AS (
                INSERT INTO {entry} (posting_id, account_id, amount, balance_after, created_at)
                SELECT line.posting_id, line.account_id, line.amount,
                       balance.before + (sum(line.amount) OVER (
                           PARTITION BY line.account_id ORDER BY line.posting_id
                       ))::bigint,
                       now()
                FROM line JOIN balance ON balance.id = line.account_id
            )
            SELECT id, delta FROM balance
            """,
            {
                "kind": kind,
                "references": list(references),
                "reverse_kind": reverse_kind,
                "tournament_id": tournament_id,
            },
        )
        return dict(cursor.fetchall())


def _postings_reverse_drafts(
    *, kind: str, references: list[str], reverse_kind: str, tournament_id: int | None
) -> dict[int, int]:
    """``postings_reverse`` through ``postings_record``: the same rows, built in Python."""
    lines = posting_lines(kind=kind, references=references)
    drafts = [
        PostingDraft(
            kind=reverse_kind,
            reference=reference,
            lines={account_id: -amount for account_id, amount in lines[reference].items()},
            tournament_id=tournament_id,
        )
        for reference in references
        if reference in lines
    ]
    locked = accounts_lock(ids={a for draft in drafts for a in draft.lines})
    postings_record(drafts=drafts, locked=locked)
    deltas: dict[int, int] = defaultdict(int)
    for draft in drafts:
        for account_id, amount in draft.lines.items():
            deltas[account_id] += amount
    return dict(deltas)


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
