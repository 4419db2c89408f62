"""The Celery app: ``celery -A project worker`` runs tasks, ``celery -A project beat`` sends
the periodic ones (``CELERY_BEAT_SCHEDULE``). Every setting is a ``CELERY_*`` Django setting
(project/settings.py); README, "Background work", says why each is what it is.
"""

import os

from celery import Celery
from django.db import InterfaceError, OperationalError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

app = Celery("project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The errors of a lost database connection (PostgreSQL restarted, its backend terminated)
# or of a transaction that lost a deadlock: either way it rolled back whole. Every task is
# idempotent, so a task is retried on them (the worker closes the dead connection before the
# next run); project.middleware runs a read's view again on a lost connection.
DATABASE_ERRORS = (OperationalError, InterfaceError)
