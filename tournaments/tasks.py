"""Background work for tournaments. Tasks take ids and call services; they are idempotent.

Refunds of a cancelled tournament are a chain of short tasks, one chunk of participants
each: a chunk's transaction enqueues the next chunk when it commits. A worker that dies
loses at most the chunk it was running, which the broker delivers again (``acks_late``);
``tournament_refunds_sweep`` (beat, every minute) re-enqueues any chain whose message was
lost altogether. Running a chunk twice, or two at once, refunds nobody twice: the state is
in PostgreSQL (participant status, under lock; the ledger's unique refund posting).
"""

from celery import shared_task
from django.conf import settings

from project.celery import DATABASE_ERRORS

# The services are imported inside the tasks: services enqueue these tasks, so a top-level
# import would be circular.


@shared_task(
    acks_late=True,
    autoretry_for=DATABASE_ERRORS,
    retry_backoff=True,
    max_retries=5,
)
def tournament_refunds_chunk_run(tournament_id: int) -> None:
    """Refund the next chunk of a cancelled tournament's participants (and enqueue the
    following chunk when this one commits)."""
    from tournaments.services import tournament_refunds_chunk

    tournament_refunds_chunk(tournament_id=tournament_id)


@shared_task(acks_late=True)
def tournament_refunds_sweep() -> None:
    """Re-enqueue the refunds of cancelled tournaments that have stopped making progress."""
    from tournaments.services import tournament_refunds_resume

    tournament_refunds_resume(stalled_for_seconds=settings.REFUNDS_STALLED_AFTER)


@shared_task(acks_late=True)
def tournament_events_prune() -> int:
    """Beat task: delete live events older than ``LIVE_EVENT_RETENTION_DAYS`` (a resuming
    client older than that gets a snapshot; see ``tournaments.events``)."""
    from datetime import timedelta

    from django.utils import timezone

    from tournaments.events import events_prune

    return events_prune(before=timezone.now() - timedelta(days=settings.LIVE_EVENT_RETENTION_DAYS))
