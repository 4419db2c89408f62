"""The live bracket page for spectators (API.md, Operations: ``GET /tournaments/{id}/live``).

The page is a static shell: it draws itself in the browser from the tournament's socket
(``/ws/tournaments/{id}/``: a snapshot, then events), so this view only checks that the
tournament exists and names it; everything else arrives over the socket.
"""

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from tournaments.errors import TournamentNotFound
from tournaments.selectors import tournament_get


@require_safe
def tournament_live(request: HttpRequest, tournament_id: int) -> HttpResponse:
    try:
        tournament = tournament_get(tournament_id=tournament_id)
    except TournamentNotFound as error:
        raise Http404(error.detail) from error
    return render(
        request,
        "live/tournament.html",
        {"tournament": tournament, "currency": settings.CURRENCY},
    )
