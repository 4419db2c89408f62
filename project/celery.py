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

# A task whose database connection was lost (PostgreSQL restarted, its backend terminated)
# or whose transaction lost a deadlock rolled back whole: every task is idempotent, so it
# is retried (the worker closes the dead connection before the next run).
DATABASE_ERRORS = (OperationalError, InterfaceError)
