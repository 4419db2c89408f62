"""Delete live events older than the retention (``LIVE_EVENT_RETENTION_DAYS``, default 7).

Run it daily (cron, or a Celery beat entry). Clients resuming from a pruned version get a
snapshot over WebSocket, and a 410 ``events_pruned`` from ``GET .../events?since=``.
"""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from tournaments.events import events_prune


class Command(BaseCommand):
    help = "Delete live events older than LIVE_EVENT_RETENTION_DAYS (or --days)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=float, default=settings.LIVE_EVENT_RETENTION_DAYS)

    def handle(self, *args, days, **options):
        deleted = events_prune(before=timezone.now() - timedelta(days=days))
        self.stdout.write(f"deleted {deleted} events older than {days:g} days")
