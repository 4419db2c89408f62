"""WebSocket routes (API.md, "Live updates"); the design is in consumers.live and .hub."""

from django.urls import path

from consumers.live import MatchConsumer, TournamentConsumer

websocket_urlpatterns = [
    path("ws/tournaments/<int:tournament_id>/", TournamentConsumer.as_asgi()),
    path("ws/matches/<int:match_id>/", MatchConsumer.as_asgi()),
]
