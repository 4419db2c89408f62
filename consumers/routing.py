"""WebSocket routes (API.md, "Live updates"); the design is in consumers.live and .hub.

``project.asgi`` serves the spectator route, which needs no user, without the
authentication stack (``spectator_tournament_id``); the full stack still routes it here.
"""

from django.urls import path

from consumers.live import MatchConsumer, tournament_socket

spectator_route = path("ws/tournaments/<int:tournament_id>/", tournament_socket)

websocket_urlpatterns = [
    spectator_route,
    path("ws/matches/<int:match_id>/", MatchConsumer.as_asgi()),
]


def spectator_tournament_id(scope) -> int | None:
    """The tournament of a ``/ws/tournaments/{id}/`` scope, matched as Channels'
    ``URLRouter`` matches it (``root_path`` removed, then the same pattern); else None."""
    path_ = scope.get("path")
    if path_ is None:
        return None
    root_path = scope.get("root_path", "")
    if root_path:
        if not path_.startswith(root_path):
            return None
        path_ = path_[len(root_path) :]
    match = spectator_route.pattern.match(path_.lstrip("/"))
    if not match:
        return None
    _, _, kwargs = match
    return kwargs["tournament_id"]
