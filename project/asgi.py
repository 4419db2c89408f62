import gc
import os

from project.handlers import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
# Django must be set up before the consumers (and their models) are imported. HTTP goes
# through Django's ASGI handler with its middleware chain run in one thread per request
# (project/handlers.py).
django_asgi_app = get_asgi_application()

from urllib.parse import urlparse  # noqa: E402

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import get_resolver  # noqa: E402

from consumers.auth import TokenAuthMiddleware  # noqa: E402
from consumers.live import TournamentSocket  # noqa: E402
from consumers.routing import spectator_tournament_id, websocket_urlpatterns  # noqa: E402

# Origin check first; then the session's user, which a token header overrides.
websocket_app = AllowedHostsOriginValidator(
    AuthMiddlewareStack(TokenAuthMiddleware(URLRouter(websocket_urlpatterns)))
)
router = ProtocolTypeRouter({"http": django_asgi_app, "websocket": websocket_app})


async def application(scope, receive, send):
    """``router``, except for a spectator's socket (``/ws/tournaments/{id}/``) from an
    allowed origin: it needs no user, so it skips the authentication stack and the router
    and is served here, in the connection's one task (what that saves per socket:
    ``consumers.live.TournamentSocket``). Every other scope, a refused origin included,
    goes the whole way."""
    if scope["type"] == "websocket":
        tournament_id = spectator_tournament_id(scope)
        if tournament_id is not None and _origin_allowed(scope):
            return await TournamentSocket(tournament_id).serve(scope, receive, send)
    return await router(scope, receive, send)


def _origin_allowed(scope) -> bool:
    """``websocket_app``'s decision on the scope's ``Origin`` header, read as Channels'
    ``OriginValidator`` reads it (the last one counts)."""
    origin = None
    for name, value in scope.get("headers", []):
        if name == b"origin":
            origin = urlparse(value.decode("latin1"))
    return websocket_app.valid_origin(origin)


# The embedded default has no broker and no `celery beat`: its periodic tasks (deadlines,
# stalled refunds and payouts, the log's pruning) run in a thread of this process.
from project.embedded_beat import embedded_beat_start  # noqa: E402

embedded_beat_start()

# Everything loaded so far (modules, classes, the URLconf's views, the middleware) lives as
# long as the process: move it out of the garbage collector's way. A full collection walks
# every tracked object and holds the event loop, and every live frame, while it does; with
# 1,000 spectators under uvicorn (bench/fanout.py, 13 of them timed once the sockets were
# open) one took 170-268 ms, and 80-148 ms (6 timed) with the ~144,000 objects of
# start-up frozen.
get_resolver().url_patterns  # noqa: B018 - load the URLconf (and the views) now
gc.freeze()
