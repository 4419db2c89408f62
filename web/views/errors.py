"""The 404 and 500 answers (``handler404``, ``handler500`` in project/urls.py).

Paths under ``/api/`` keep the API's JSON bodies (``project.errors.json_404`` and
``json_500``: API.md's ``{"code", "detail"}``); every other path is a page for people and
gets one, in the site's layout.
"""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, HttpResponseNotFound, HttpResponseServerError
from django.template import loader
from django.views.decorators.csrf import requires_csrf_token

from project.errors import json_404, json_500

logger = logging.getLogger(__name__)

# Shown when even the 500 page cannot be rendered (a missing static manifest, say): plain
# HTML that needs nothing.
PLAIN_500 = (
    "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
    "<title>Something went wrong · Atom Tournament</title></head><body>"
    "<h1>Something went wrong</h1><p>The error has been logged. Try again in a moment, "
    "or go back to <a href='/'>the tournaments</a>.</p></body></html>"
)


def is_api_path(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


@requires_csrf_token
def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """A styled page for people; JSON for the API. The page renders with the request's
    context (the nav shows who is signed in), as Django's own handler does."""
    if is_api_path(request.path):
        return json_404(request, exception)
    body = loader.render_to_string("web/404.html", {"path": request.path}, request)
    return HttpResponseNotFound(body)


@requires_csrf_token
def server_error(request: HttpRequest) -> HttpResponse:
    """A page for people; JSON for the API. Rendered without the request's context, as
    Django's own handler is: what failed may be the database behind the session, so the
    page must not need it (the nav then shows "Sign in")."""
    if is_api_path(request.path):
        return json_500(request)
    try:
        body = loader.get_template("web/500.html").render({})
    except Exception:  # the error page must not fail in turn: plain HTML then
        logger.exception("the 500 page could not be rendered")
        body = PLAIN_500
    return HttpResponseServerError(body)
