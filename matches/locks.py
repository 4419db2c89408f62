"""The one place that locks match rows, prize accounts and prize awards, and in which order.

The order is the project's (``tournaments.locks``: match rows, then the tournament row,
then ledger accounts, then participants and what hangs off them); what follows is how the
matches app takes its part of it. The actions of ``matches.services``,
``matches.progression`` and ``matches.payouts`` lock through these functions and write no
``select_for_update`` of their own, so the order can be read, and checked, here.

A result (report, resolve, reset, the confirmation deadline):

1. ``match_lock``: the match acted on, with its tournament, sides and reports;
2. ``matches_lock``: the matches it feeds, in pk order, step by step down the bracket as
   the result moves on (each step only feeds matches further down); or
   ``later_rounds_lock``: the later swiss rounds a reset is about to delete (downstream
   too);
   a disqualification starts with ``participant_matches_lock`` (the participant's open
   matches, in pk order) instead of step 1, then goes on as a result;
3. the tournament row (``tournaments.locks.tournament_lock``, or the guarded ``UPDATE``
   that appends the action's events);
4. when the result completes the tournament: ``escrow_lock``, then, for the prizes paid at
   once, ``prize_accounts_lock`` (the escrow again and the winners' wallets, in pk order);
5. a disqualification writes its participant's row last (a guarded ``UPDATE``).

A payout chunk touches no match row: ``payouts_tournament_lock`` (the tournament row),
``prize_accounts_lock`` (the accounts), then ``awards_lock`` (the awards, which hang off
the participants).
"""

from __future__ import annotations

import functools

from django.db import connection
from django.db.models import Q, QuerySet

from matches.errors import MatchNotFound
from matches.models import Match, MatchReport, PrizeAward
from matches.selectors import reports_prefetch
from project.statements import instances_of_row, select_list
from tournaments.models import Participant, Tournament
from wallets.models import Account
from wallets.services import accounts_lock, wallets_ensure


def match_lock(match_id: int) -> Match:
    """The match, locked, with its tournament, sides and reports (two statements).
    Raises MatchNotFound. Only the match's row is locked (``FOR UPDATE OF`` the match):
    the tournament's is taken later, in its turn.

    Written by hand on PostgreSQL: every report, resolve, reset and forfeit starts here,
    and the ORM's version (``select_for_update(of=("self",)).select_related("tournament",
    "participant_a", "participant_b").prefetch_related(reports_prefetch())``, which SQLite
    still takes) took 4.5-5x the CPU (``bench/statements.py``).
    """
    if connection.vendor != "postgresql":
        match = (
            Match.objects.select_for_update(of=("self",))
            .select_related("tournament", "participant_a", "participant_b")
            .prefetch_related(reports_prefetch())
            .filter(pk=match_id)
            .first()
        )
        if match is None:
            raise MatchNotFound(f"There is no match {match_id}.")
        return match
    with connection.cursor() as cursor:
        cursor.execute(_match_lock_sql(), [match_id])
        row = cursor.fetchone()
        if row is None:
            raise MatchNotFound(f"There is no match {match_id}.")
        cursor.execute(_match_reports_sql(), [match_id])
        report_rows = cursor.fetchall()
    match, tournament, side_a, side_b = instances_of_row(
        row, [Match, Tournament, Participant, Participant]
    )
    match.tournament, match.participant_a, match.participant_b = tournament, side_a, side_b
    match.loaded_reports = [instances_of_row(r, [MatchReport])[0] for r in report_rows]
    for report in match.loaded_reports:
        report.match = match
    return match


@functools.cache
def _match_lock_sql() -> str:
    qn = connection.ops.quote_name
    participants = qn(Participant._meta.db_table)
    return (
        f"SELECT {select_list(Match, 'm')}, {select_list(Tournament, 't')}, "
        f"{select_list(Participant, 'pa')}, {select_list(Participant, 'pb')} "
        f"FROM {qn(Match._meta.db_table)} m "
        f"JOIN {qn(Tournament._meta.db_table)} t ON t.id = m.tournament_id "
        f"LEFT JOIN {participants} pa ON pa.id = m.participant_a_id "
        f"LEFT JOIN {participants} pb ON pb.id = m.participant_b_id "
        "WHERE m.id = %s FOR UPDATE OF m"
    )


@functools.cache
def _match_reports_sql() -> str:
    return (
        f"SELECT {select_list(MatchReport, 'r')} "
        f"FROM {connection.ops.quote_name(MatchReport._meta.db_table)} r "
        "WHERE r.match_id = %s ORDER BY r.id"
    )


def matches_lock(ids: list[int]) -> dict[int, Match]:
    """The matches with these pks, locked in pk order, with their reports (two
    statements), by pk: the matches a result feeds."""
    matches = (
        Match.objects.select_for_update()
        .filter(pk__in=ids)
        .order_by("pk")
        .prefetch_related(reports_prefetch())
    )
    return {m.pk: m for m in matches}


def participant_matches_lock(*, tournament_id: int, participant_id: int) -> list[Match]:
    """The participant's matches not completed, locked in pk order, with their sides and
    reports: the one it plays now, or one it waits in for an opponent (locked too, so that
    a result that would make it ready waits for a disqualification, or is seen by it).
    A disqualification starts here, as a result starts with ``match_lock``."""
    return list(
        Match.objects.select_for_update(of=("self",))
        .select_related("participant_a", "participant_b")
        .filter(Q(participant_a_id=participant_id) | Q(participant_b_id=participant_id))
        .filter(tournament_id=tournament_id)
        .exclude(status=Match.Status.COMPLETED)
        .order_by("pk")
        .prefetch_related(reports_prefetch())
    )


def later_rounds_lock(*, tournament: Tournament, after_round: int) -> list[tuple[int, str, bool]]:
    """``(pk, status, is_bye)`` of the tournament's group matches after ``after_round``,
    locked in pk order. A reset of a swiss result checks them under the lock, so a report
    on one of them either committed before, and refuses the reset, or waits and then finds
    its match gone (404)."""
    return list(
        Match.objects.select_for_update()
        .filter(tournament=tournament, bracket=Match.Bracket.GROUP, round__gt=after_round)
        .order_by("pk")
        .values_list("pk", "status", "is_bye")
    )


def payouts_tournament_lock(tournament_id: int) -> Tournament | None:
    """The tournament, locked, if it is completed with payouts pending; else None (and
    nothing locked)."""
    return (
        Tournament.objects.select_for_update()
        .filter(pk=tournament_id, status=Tournament.Status.COMPLETED, payouts_pending__gt=0)
        .first()
    )


def escrow_lock(tournament: Tournament) -> Account:
    """The tournament's prize-pool escrow, locked until the transaction ends: its balance
    is the pool the prizes are decided from."""
    return accounts_lock(ids=[tournament.escrow_id])[tournament.escrow_id]


def prize_accounts_lock(*, tournament: Tournament, user_ids: set[int]) -> dict[int, Account]:
    """Give these users wallets if they have none, then lock their wallets with the
    tournament's escrow, in pk order: every account a prize posting moves money between."""
    wallets_ensure(user_ids=user_ids)
    return accounts_lock(ids=[tournament.escrow_id], user_ids=user_ids)


def awards_lock(unpaid: QuerySet[PrizeAward]) -> dict[int, int]:
    """``{participant: amount}`` of the awards in ``unpaid``, locked in pk order, read
    after the lock is granted (so an award a concurrent chunk paid meanwhile is not
    among them if ``unpaid`` filters on ``paid=False``)."""
    return dict(unpaid.select_for_update().order_by("pk").values_list("pk", "amount"))
