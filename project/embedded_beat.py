"""The periodic tasks of the embedded default, run inside the server process.

In production ``celery -A project beat`` sends ``CELERY_BEAT_SCHEDULE``'s tasks to the
broker and a worker runs them. The embedded default (no ``REDIS_URL``: SQLite, tasks run
in-process) has neither, so without this nothing would confirm an unanswered report after
its deadline, resume stalled refunds or payouts, or prune the event log. ``project.asgi``
starts one ``EmbeddedBeat`` thread there: it reads the same schedule with Celery's own
schedule objects and runs each due task in its thread, as an eager task (``apply``). The
tasks are idempotent and each takes its own transactions, so running beside the requests
is what a worker does too.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from celery.schedules import maybe_schedule
from django.conf import settings
from django.db import close_old_connections

logger = logging.getLogger(__name__)


class EmbeddedBeat:
    """``CELERY_BEAT_SCHEDULE`` run in a thread of this process (``start``), or a tick at a
    time (``tick``, tests)."""

    def __init__(self, app, schedule: dict | None = None):
        self.app = app
        entries = settings.CELERY_BEAT_SCHEDULE if schedule is None else schedule
        self.entries = {
            name: (entry["task"], maybe_schedule(entry["schedule"], app=app), entry)
            for name, entry in entries.items()
        }
        # Every entry first runs one interval after the start, as beat does.
        started = app.now()
        self.last_run_at: dict[str, datetime] = dict.fromkeys(self.entries, started)
        self.stopped = threading.Event()

    def tick(self, now: datetime | None = None) -> float:
        """Runs the entries due at ``now``; returns the seconds until one is next due."""
        now = self.app.now() if now is None else now
        wait = 60.0
        for name, (task, schedule, entry) in self.entries.items():
            due, next_in = schedule.is_due(self.last_run_at[name])
            if due:
                self.last_run_at[name] = now
                self._run(name, task, entry)
            wait = min(wait, next_in)
        return max(wait, 0.5)

    def _run(self, name: str, task: str, entry: dict) -> None:
        try:
            self.app.tasks[task].apply(args=entry.get("args", ()), kwargs=entry.get("kwargs", {}))
        except Exception:  # a failed run is logged; the next interval tries again
            logger.exception("embedded beat: %s (%s) failed", name, task)

    def run(self) -> None:
        while not self.stopped.wait(self.tick_safely()):
            pass

    def tick_safely(self) -> float:
        try:
            return self.tick()
        except Exception:
            logger.exception("embedded beat: tick failed")
            return 5.0
        finally:
            # The thread's connection, as a worker releases it between tasks.
            close_old_connections()

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="embedded-beat", daemon=True)
        thread.start()
        return thread


def embedded_beat_start() -> EmbeddedBeat | None:
    """Start the in-process beat when this is the embedded default (no broker): returns it,
    or None when ``celery beat`` is the one to run the schedule."""
    if settings.REDIS_URL:
        return None
    from project.celery import app

    beat = EmbeddedBeat(app)
    beat.start()
    logger.info("embedded beat: running %s periodic tasks in-process", len(beat.entries))
    return beat
