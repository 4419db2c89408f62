"""Background work for matches. Tasks take ids and call services; they are idempotent.

Prizes of a large tournament are paid by a chain of short tasks, one chunk of placed
participants each (``tournament_payouts_chunk_run``): a chunk's transaction enqueues the
next chunk when it commits, and ``tournament_payouts_sweep`` (beat, every minute)
re-enqueues any chain whose message was lost. Running a chunk twice, or two at once, pays
nobody twice: the state is in PostgreSQL (``PrizeAward.paid``, under lock; the ledger's
unique prize posting per participant).
"""

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from matches.selectors import matches_overdue_ids
from project.celery import DATABASE_ERRORS

# The services are imported inside the tasks: services and payouts enqueue these tasks, so
# a top-level import would be circular.


@shared_task(acks_late=True, autoretry_for=DATABASE_ERRORS, retry_backoff=True, max_retries=5)
def matches_confirm_overdue() -> int:
    """Beat task: confirm, as reported, every one-sided report older than the deadline.

    Each match is its own transaction, re-checked under its lock, so a confirmation or a
    dispute that lands meanwhile wins, and running the sweep twice confirms nothing twice.
    """
    from matches.services import match_confirm_overdue

    reported_before = timezone.now() - settings.MATCH_CONFIRMATION_TIMEOUT
    confirmed = 0
    for match_id in matches_overdue_ids(reported_before=reported_before):
        if match_confirm_overdue(match_id=match_id, reported_before=reported_before):
            confirmed += 1
    return confirmed


@shared_task(
    acks_late=True,
    autoretry_for=DATABASE_ERRORS,
    retry_backoff=True,
    max_retries=5,
)
def tournament_payouts_chunk_run(tournament_id: int) -> None:
    """Pay the next chunk of a completed tournament's prizes (and enqueue the following
    chunk when this one commits)."""
    from matches.payouts import tournament_payouts_chunk

    tournament_payouts_chunk(tournament_id=tournament_id)


@shared_task(acks_late=True)
def tournament_payouts_sweep() -> None:
    """Beat task: re-enqueue the payouts of completed tournaments that stopped progressing."""
    from matches.payouts import tournament_payouts_resume

    tournament_payouts_resume(stalled_for_seconds=settings.PAYOUTS_STALLED_AFTER)


@shared_task(acks_late=True, autoretry_for=DATABASE_ERRORS, retry_backoff=True, max_retries=5)
def tournaments_auto_start() -> list[int]:
    """Beat task: start every ``auto_start`` tournament whose ``starts_at`` has passed
    (``matches.auto_start``; each its own transaction, each started once)."""
    from matches.auto_start import tournaments_auto_start as auto_start

    return auto_start()
