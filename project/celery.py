"""The Celery app: ``celery -A project worker`` runs tasks, ``celery -A project beat`` sends
the periodic ones (``CELERY_BEAT_SCHEDULE``). Every setting is a ``CELERY_*`` Django setting
(project/settings.py); README, "Background work", says why each is what it is.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

app = Celery("project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
