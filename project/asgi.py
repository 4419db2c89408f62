import gc
import os

from project.handlers import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
# Django must be set up before the consumers (and their models) are imported. HTTP goes
# through Django's ASGI handler with its middleware chain run in one thread per request
# (project/handlers.py).
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import get_resolver  # noqa: E402

from consumers.auth import TokenAuthMiddleware  # noqa: E402
from consumers.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Origin check first; then the session's user, which a token header overrides.
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(TokenAuthMiddleware(URLRouter(websocket_urlpatterns)))
        ),
    }
)

# Everything loaded so far (modules, classes, the URLconf's views, the middleware) lives as
# long as the process: move it out of the garbage collector's way. A full collection walks
# every tracked object and holds the event loop, and every live frame, while it does; with
# 1,000 spectators under uvicorn (bench/fanout.py, 13 of them timed once the sockets were
# open) one took 170-268 ms, and 80-148 ms (6 timed) with the ~144,000 objects of
# start-up frozen.
get_resolver().url_patterns  # noqa: B018 - load the URLconf (and the views) now
gc.freeze()
