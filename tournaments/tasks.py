"""Background work for tournaments. Tasks take ids and call services; they are idempotent."""

from celery import shared_task


@shared_task(acks_late=True)
def tournament_refunds_run(tournament_id: int) -> None:
    """Refund every participant of a cancelled tournament, a chunk per transaction."""
    # Imported here: services enqueue this task, so a top-level import would be circular.
    from tournaments.services import tournament_refunds_chunk

    while tournament_refunds_chunk(tournament_id=tournament_id):
        pass
