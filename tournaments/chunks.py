"""Money moved in the background, in chunks: the refunds of a cancelled tournament
(``tournaments.services``) and the prizes of a completed one (``matches.payouts``).

Both are a *job* of the same shape, named by the tournament's counter of what is left
(``refunds_pending``, ``payouts_pending``). A chain of chunk tasks does the job: each chunk
is one transaction that locks the tournament row, does the next few participants' money
in set-based statements, records a ``<job>.progress`` event and, while anything is still
pending, enqueues the next chunk when it commits. A chain whose message is lost (a crash
between a commit and the publish, a purged queue) is found by its silence, the age of the
tournament's last event, and enqueued again by a beat sweeper (``chains_resume``). A chunk
that runs twice, or two at once, is harmless: each re-reads under lock what is left to do,
and the ledger refuses a second posting for one participant.

What differs, which participants and how their money moves, stays with each job; this
module holds what they share.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from tournaments.events import events_append
from tournaments.models import Tournament
from tournaments.payloads import tournament_data
from tournaments.selectors import tournaments_stalled_ids

logger = logging.getLogger(__name__)


def chunk_progress_record(
    tournament: Tournament,
    *,
    job: str,
    done_key: str,
    done: list[int],
    enqueue_next: Callable[[int], None],
) -> None:
    """In a chunk's transaction, after its work: the ``<job>.progress`` event, with the
    participants ``done`` (under ``done_key``) and what is pending; then, while anything is
    pending, ``enqueue_next(tournament id)`` (an enqueue that waits for the commit)."""
    pending = getattr(tournament, f"{job}_pending")
    events_append(
        tournament=tournament,
        events=[
            (
                f"{job}.progress",
                {
                    "tournament": tournament_data(tournament),
                    done_key: done,
                    f"{job}_pending": pending,
                },
            )
        ],
    )
    if pending > 0:
        enqueue_next(tournament.pk)


def chains_resume(
    *, job: str, status: str, stalled_for_seconds: int, enqueue: Callable[[int], None]
) -> list[int]:
    """Enqueue again the chains of ``job`` that stopped making progress: tournaments in
    ``status`` with some of it pending whose last event (the one that started the job, or
    the last chunk's progress) is older than ``stalled_for_seconds``. A chain that was only
    slow gets a duplicate, which is harmless. Returns the ids enqueued again."""
    stalled = tournaments_stalled_ids(
        status=status, pending_field=f"{job}_pending", stalled_for_seconds=stalled_for_seconds
    )
    for tournament_id in stalled:
        logger.warning("%s of tournament %s stalled: enqueued again", job, tournament_id)
        enqueue(tournament_id)
    return stalled
