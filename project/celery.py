"""The Celery app: ``celery -A project worker`` runs tasks, ``celery -A project beat`` sends
the periodic ones (``CELERY_BEAT_SCHEDULE``). Every setting is a ``CELERY_*`` Django setting
(project/settings.py); docs/background-work.md, "Reliability", says why each is what it is.
"""

import logging
import os

from celery import Celery
from celery.contrib.django.task import DjangoTask
from django.db import InterfaceError, OperationalError, transaction

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

logger = logging.getLogger(__name__)


class Task(DjangoTask):
    """Every task's class: Celery's ``DjangoTask``, whose ``delay_on_commit`` enqueues once
    the transaction commits, with one difference: a failed enqueue is logged, not raised.
    By then the change has committed, so a broker that cannot be reached must not turn the
    caller's success into an error (``DjangoTask`` lets the exception out of the commit,
    into the request that made the change, and skips the commit's other callbacks): it is
    logged, like a failed publish of live events, and the periodic sweepers re-enqueue what
    is unfinished (refunds, payouts). Run eagerly (no broker: the embedded default, the
    tests) the task itself runs at the commit, and its errors are its own, as before.

    The enqueue itself is Celery's ``apply_async``, on the thread that committed: it takes
    a producer and its connection from the app's ``producer_pool`` and hands them back, so
    a process keeps one broker connection per concurrent sender and opens none per request
    (tests/tournaments/test_publish.py counts them). Handing it to another thread would
    save the request ~0.4 ms of waiting but no CPU, and would move the enqueue's failure
    away from the request that caused it.
    """

    def delay_on_commit(self, *args, **kwargs) -> None:
        if self.app.conf.task_always_eager:
            super().delay_on_commit(*args, **kwargs)
        else:
            self._enqueue_on_commit(args, kwargs)

    def apply_async_on_commit(self, *args, **kwargs) -> None:
        if self.app.conf.task_always_eager:
            super().apply_async_on_commit(*args, **kwargs)
        else:
            self._enqueue_on_commit(*args, **kwargs)

    def _enqueue_on_commit(self, *args, **kwargs) -> None:
        def task_enqueue() -> None:
            try:
                self.apply_async(*args, **kwargs)
            except Exception:  # logged, never raised: the change has committed
                logger.exception("task %s not enqueued after its transaction committed", self.name)

        transaction.on_commit(task_enqueue)


app = Celery("project", task_cls=Task)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The errors of a lost database connection (PostgreSQL restarted, its backend terminated)
# or of a transaction that lost a deadlock: either way it rolled back whole. Every task is
# idempotent, so a task is retried on them (the worker closes the dead connection before the
# next run); project.middleware runs a read's view again on a lost connection.
DATABASE_ERRORS = (OperationalError, InterfaceError)
