"""Prizes: decided once when a tournament completes, paid at once or in background chunks.

The result that completes a tournament decides every prize (``prizes_award``: the
escrow's balance split by the final placements, ``formats.payouts.prize_shares``). Up to
``PAYOUTS_INLINE_MAX`` placed participants are paid in that transaction; more are
recorded as ``PrizeAward`` rows and paid by a chain of chunk tasks
(``tournament_payouts_chunk``), each one transaction of set-based statements, like the
refunds of a cancelled tournament (the chain they share: ``tournaments.chunks``).
``tournament_payouts_resume`` enqueues again a chain that stopped. Locks are taken through
``matches.locks``.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet

from matches import locks, tasks
from matches.formats.payouts import prize_shares, split_among_roster
from matches.models import PrizeAward
from tournaments.chunks import chains_resume, chunk_progress_record
from tournaments.events import tournament_row_update
from tournaments.models import ParticipantMember, Tournament
from wallets.models import Account, Posting
from wallets.services import PostingDraft, postings_record

logger = logging.getLogger(__name__)


def prizes_award(
    *, tournament: Tournament, placements: list[list[int]]
) -> tuple[dict[int, int], int]:
    """Decide the prizes of a tournament that completes now, and pay them if they are few.

    Each placed participant's share of the whole escrow (none of it paid yet), by
    participant id, only positive shares; the escrow stays locked until the transaction
    ends. At most ``PAYOUTS_INLINE_MAX`` are paid here; more are recorded as awards for
    the payout chunks, which the caller enqueues once the tournament row says they are
    pending. Returns the prizes and how many of them are left to pay.
    """
    prizes = _prizes_decide(tournament, placements)
    if len(prizes) <= settings.PAYOUTS_INLINE_MAX:
        _prizes_pay(tournament, prizes)
        return prizes, 0
    # Decided now, once: the chunks pay exactly these amounts, whatever happens later.
    PrizeAward.objects.bulk_create(
        PrizeAward(participant_id=pk, tournament_id=tournament.pk, amount=amount)
        for pk, amount in prizes.items()
    )
    return prizes, len(prizes)


def _prizes_decide(tournament: Tournament, placements: list[list[int]]) -> dict[int, int]:
    pool = locks.escrow_lock(tournament).balance
    if pool <= 0:
        return {}
    return prize_shares(pool=pool, split=tournament.prize_split, placements=placements)


def _prizes_pay(tournament: Tournament, prizes: dict[int, int]) -> None:
    """Pay the (few) prizes out of the escrow to the placed participants' rosters, now."""
    if not prizes:
        return
    rosters = _rosters_of(ParticipantMember.objects.filter(participant_id__in=list(prizes)))
    locked = locks.prize_accounts_lock(tournament=tournament, user_ids=_users_of(rosters))
    _prize_postings_record(tournament, prizes, rosters, locked)


# --- Payouts in the background --------------------------------------------------------------


def tournament_payouts_chunk(*, tournament_id: int, limit: int | None = None) -> int:
    """Pay the next ``limit`` prizes of a completed tournament in one transaction (by
    default as many participants as make ``PAYOUTS_CHUNK_LINES`` ledger lines: the roster
    plus the escrow each), and enqueue the next chunk when it commits.

    Returns how many participants were paid: 0 when none are left, or when a concurrent run
    of the same chunk paid them first (that run then carries the chain on). Running a chunk
    twice, or two at once, is safe, and happens (a redelivered message, the sweeper): the
    awards are re-read under lock and only those still unpaid are paid, and the ledger
    refuses a second prize posting for one participant whatever happens. A worker that dies
    mid-chunk leaves nothing of it: the chunk is one transaction.
    """
    with transaction.atomic():
        # The tournament row first, then the accounts, then the awards (matches.locks).
        tournament = locks.payouts_tournament_lock(tournament_id)
        if tournament is None:
            return 0
        limit = limit or max(1, settings.PAYOUTS_CHUNK_LINES // (tournament.team_size + 1))
        ids = list(
            PrizeAward.objects.filter(tournament_id=tournament.pk, paid=False)
            .order_by("pk")
            .values_list("pk", flat=True)[:limit]
        )
        if not ids:
            return 0
        paid = _awards_pay(tournament=tournament, first=ids[0], last=ids[-1])
        if not paid:
            return 0
        chunk_progress_record(
            tournament,
            job="payouts",
            done_key="paid",
            done=paid,
            enqueue_next=tasks.tournament_payouts_chunk_run.delay_on_commit,
        )
    return len(paid)


def tournament_payouts_resume(*, stalled_for_seconds: int) -> list[int]:
    """Enqueue again the payouts of completed tournaments that stopped making progress
    (``tournaments.chunks.chains_resume``). Returns the ids of the tournaments enqueued
    again."""
    return chains_resume(
        job="payouts",
        status=Tournament.Status.COMPLETED,
        stalled_for_seconds=stalled_for_seconds,
        enqueue=tasks.tournament_payouts_chunk_run.delay_on_commit,
    )


def _awards_pay(*, tournament: Tournament, first: int, last: int) -> list[int]:
    """Pay the unpaid awards of the tournament from participant ``first`` to ``last``: the
    ids paid, in order. A constant number of statements whatever their number: the rosters;
    the wallets ensured and locked with the escrow (pk order); the awards re-read under
    lock; the ledger (one ``UPDATE ... FROM (VALUES ...)`` of the balances, one insert of
    postings, one of entries); the awards; the guarded tournament row (returning its counter).

    The unpaid awards in that range are exactly the ones the caller read as the next chunk,
    or fewer (no award is made after the completion and none becomes unpaid again), so
    statements name the range, not a list of a thousand ids.
    """
    unpaid = PrizeAward.objects.filter(
        tournament_id=tournament.pk, pk__gte=first, pk__lte=last, paid=False
    )
    rosters = _rosters_of(ParticipantMember.objects.filter(participant_id__in=unpaid.values("pk")))
    locked = locks.prize_accounts_lock(tournament=tournament, user_ids=_users_of(rosters))
    # Re-read under lock: a concurrent run of this chunk may have paid some already (it held
    # the same account locks, the escrow's at least, so it has committed by now).
    prizes = locks.awards_lock(unpaid)
    if not prizes:
        return []
    _prize_postings_record(tournament, prizes, rosters, locked)
    unpaid.update(paid=True)  # every unpaid award in the range is locked by now
    count = len(prizes)
    if not tournament_row_update(
        tournament,
        events=1,
        increments={"payouts_pending": -count},
        when_status=Tournament.Status.COMPLETED,
        when_at_least={"payouts_pending": count},
    ):
        raise RuntimeError(f"tournament {tournament.pk} has fewer than {count} payouts pending")
    return list(prizes)


def _rosters_of(members: QuerySet[ParticipantMember]) -> dict[int, tuple[int, list[int]]]:
    """``{participant id: (captain's user id, roster user ids)}`` of the given members."""
    rosters: dict[int, tuple[int, list[int]]] = {}
    for participant_id, user_id, captain_id in members.order_by("pk").values_list(
        "participant_id", "user_id", "participant__captain_id"
    ):
        rosters.setdefault(participant_id, (captain_id, []))[1].append(user_id)
    return rosters


def _users_of(rosters: dict[int, tuple[int, list[int]]]) -> set[int]:
    return {user_id for _, members in rosters.values() for user_id in members}


def _prize_postings_record(
    tournament: Tournament,
    prizes: dict[int, int],
    rosters: dict[int, tuple[int, list[int]]],
    locked: dict[int, Account],
) -> None:
    """One prize posting per participant (reference ``participant:<id>``, unique in the
    ledger: a participant is paid at most once), from the escrow to its roster's wallets."""
    wallet_of = {a.user_id: a.pk for a in locked.values() if a.user_id}
    drafts = []
    for pk, amount in prizes.items():
        captain, members = rosters[pk]
        # A captain may register a roster without themself: the remainder then goes to the
        # first member, so that it still goes to a player and no cent is lost.
        split = split_among_roster(
            amount=amount, members=members, captain=captain if captain in members else members[0]
        )
        lines = {wallet_of[u]: share for u, share in split.items()}
        lines[tournament.escrow_id] = -amount
        drafts.append(
            PostingDraft(
                kind=Posting.Kind.PRIZE,
                reference=f"participant:{pk}",
                lines=lines,
                tournament_id=tournament.pk,
            )
        )
    postings_record(drafts=drafts, locked=locked)
