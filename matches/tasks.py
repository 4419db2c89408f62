"""Background work for matches. Tasks take ids and call services; they are idempotent."""

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from matches.selectors import matches_overdue_ids
from matches.services import match_confirm_overdue


@shared_task(acks_late=True)
def matches_confirm_overdue() -> int:
    """Beat task: confirm, as reported, every one-sided report older than the deadline.

    Each match is its own transaction, re-checked under its lock, so a confirmation or a
    dispute that lands meanwhile wins, and running the sweep twice confirms nothing twice.
    """
    reported_before = timezone.now() - settings.MATCH_CONFIRMATION_TIMEOUT
    confirmed = 0
    for match_id in matches_overdue_ids(reported_before=reported_before):
        if match_confirm_overdue(match_id=match_id, reported_before=reported_before):
            confirmed += 1
    return confirmed
