"""WebSocket routes. The live consumers (/ws/tournaments/{id}/, /ws/matches/{id}/) are
built on the event log in tournaments.events; see issue 4."""

websocket_urlpatterns: list = []
