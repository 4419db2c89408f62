"""The one lock order for a tournament's rows.

Every action that changes a tournament or anything that belongs to it takes its row locks
in this order, and never the other way round, so that two actions that meet queue behind
each other instead of deadlocking (PostgreSQL aborts one of a deadlocked pair, and the
request that loses answers 500):

0. the ``Idempotency-Key`` record of the request, if it has one (``idempotency.services``);
1. match rows: the match acted on, then the matches it feeds, each step in pk order
   (``matches.locks``: ``match_lock``, ``matches_lock``; a swiss reset locks the later
   rounds it is about to delete, ``later_rounds_lock``);
2. the tournament row (``tournament_lock``, or the guarded ``UPDATE`` of
   ``tournaments.events.tournament_row_update`` when nothing before it depends on the
   tournament's state);
3. ledger accounts, in pk order (``wallets.services.accounts_lock``): the prize-pool escrow
   and the players' wallets;
4. participants, in pk order, then the rows that hang off them (memberships, prize awards).

Who takes which:

- join, leave, start, cancel, the refund and payout chunks lock the tournament row first
  (they touch no match row): its status and counters are then the ones they act on, and
  every one of them is serialised against the others on that one row. A join's "is a
  member already registered" check runs under that lock, so two joins sharing a player,
  paid or free, cannot both pass it.
- report, resolve, reset and the confirmation deadline lock their match rows, then the
  tournament row, before any decision that depends on the tournament (whether it is still
  in progress, whether a round or the whole tournament is over) and before the prize
  accounts. The completion of a round or of the tournament is therefore decided once, by
  the one transaction holding the tournament's lock that sees the last result.

Match rows come before the tournament row because a result must lock the matches it feeds
while it works out what changes, and a second action on one of those matches holds it
while it waits for the tournament.
"""

from __future__ import annotations

import functools

from django.db import connection

from project.statements import for_update, instances_of_row, select_list
from tournaments.errors import TournamentNotFound
from tournaments.models import Tournament


def tournament_lock(tournament_id: int) -> Tournament:
    """The tournament, locked until the transaction ends (step 2 of the order above).

    Must run inside ``transaction.atomic``. The row it returns is read after the lock is
    granted, so its status and counters include every change committed before.

    The SELECT is written here rather than built by the ORM
    (``select_for_update().get(pk=...)``): every write takes this lock, and the ORM's
    version took 2.7-3.9x the CPU of this one, most of it compiling the SELECT of the
    tournament's every column (``bench/statements.py``; project/statements.py). The same
    SELECT through ``raw()`` (as before) cut that to 1.7x only: ``raw()`` matches the
    columns to the fields again on every call; this reads them in the fields' order.
    """
    with connection.cursor() as cursor:
        cursor.execute(_tournament_lock_sql() + for_update(), [tournament_id])
        row = cursor.fetchone()
    if row is None:
        raise TournamentNotFound(f"There is no tournament {tournament_id}.")
    return instances_of_row(row, [Tournament])[0]


@functools.cache
def _tournament_lock_sql() -> str:
    table = connection.ops.quote_name(Tournament._meta.db_table)
    return f"SELECT {select_list(Tournament, 't')} FROM {table} t WHERE t.id = %s"
