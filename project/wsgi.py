"""The WSGI application: the REST API, the pages and the admin under gunicorn in production
(``gunicorn project.wsgi``, settings in gunicorn.conf.py; docs/deploy.md). WebSockets are
not WSGI: daphne serves them from ``project.asgi`` with the same settings, and the reverse
proxy sends ``/ws/`` there.

Nothing here differs from the ASGI side but what the server needs: the same settings, the
same middleware and views. A write's live events leave through the process's publisher
(``tournaments.publish``), which needs no event loop of the server's; the embedded default's
periodic tasks (``project.embedded_beat``) are not started here, since a deployment under
gunicorn runs ``celery beat``.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
application = get_wsgi_application()

from django.urls import get_resolver  # noqa: E402

# Load the URLconf (and with it the views, serializers and services) in each worker as it
# starts, not in the first request it serves.
get_resolver().url_patterns  # noqa: B018
