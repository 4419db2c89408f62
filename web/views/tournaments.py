"""Tournament pages (server-rendered, no JavaScript needed): each view parses the query,
calls one selector and renders a template of ``web/templates/web/``."""

from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from tournaments.selectors import tournament_list
from web.presentation import STATUS_LABELS

TOURNAMENTS_PER_PAGE = 50


@require_safe
def tournament_list_page(request: HttpRequest) -> HttpResponse:
    """``/``: every tournament, newest first, ``?status=`` to filter, ``?page=`` to page.

    A status that does not exist shows every tournament with a notice saying so (a typed
    or stale link is not an error worth a dead end); a page number that is not one, or is
    past the end, shows the first or the last page (Paginator.get_page).
    """
    status = request.GET.get("status", "")
    unknown_status = None
    if status and status not in STATUS_LABELS:
        unknown_status, status = status, ""
    paginator = Paginator(tournament_list(status=status or None), TOURNAMENTS_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))

    def page_url(number: int) -> str:
        query = {"status": status} if status else {}
        if number > 1:
            query["page"] = number
        return "?" + urlencode(query) if query else request.path

    return render(
        request,
        "web/tournament_list.html",
        {
            "section": "tournaments",
            "page": page,
            "status": status,
            "status_choices": STATUS_LABELS.items(),
            "unknown_status": unknown_status,
            "previous_url": page_url(page.previous_page_number()) if page.has_previous() else None,
            "next_url": page_url(page.next_page_number()) if page.has_next() else None,
        },
    )
