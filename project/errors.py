"""The one place that turns errors into answers: the domain's (``project.domain_errors``)
and the REST framework's own, for the REST views (``api_exception_handler``) and for the
live sockets' replies (``socket_error_body``), in the API's error shape.

Every 4xx body is ``{"code": ..., "detail": ...}``; a 400 from validation adds ``fields``.
Services raise domain errors; views and consumers never build error bodies by hand.
"""

from __future__ import annotations

from typing import NamedTuple

from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response

# Re-exported for the edges (views, pages, consumers) that catch them; the domain imports
# them from project.domain_errors, which has no REST framework behind it.
from project.domain_errors import (  # noqa: F401
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
)


class ErrorAnswer(NamedTuple):
    status: int
    body: dict
    headers: dict[str, str]


# DRF's exceptions carry their own codes ("not_authenticated", "parse_error", ...); a few
# are renamed where the API names them differently.
_DRF_CODES = {
    drf_exceptions.ParseError: "malformed_json",
    drf_exceptions.ValidationError: "invalid",
    drf_exceptions.NotAuthenticated: "not_authenticated",
    drf_exceptions.AuthenticationFailed: "authentication_failed",
    drf_exceptions.PermissionDenied: "permission_denied",
    drf_exceptions.NotFound: "not_found",
    drf_exceptions.MethodNotAllowed: "method_not_allowed",
    drf_exceptions.UnsupportedMediaType: "unsupported_media_type",
    drf_exceptions.Throttled: "rate_limited",
}


def error_answer(exc: Exception) -> ErrorAnswer | None:
    """The status, body and headers that answer ``exc``; None for anything that is neither
    a domain error nor one of the REST framework's (a bug, to be logged as a 500)."""
    if isinstance(exc, DomainError):
        body = {"code": exc.code, "detail": exc.detail}
        if exc.fields:
            body["fields"] = exc.fields
        return ErrorAnswer(exc.status, body, {})
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    if not isinstance(exc, drf_exceptions.APIException):
        return None

    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))

    code = next(
        (c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)),
        exc.default_code,
    )
    if isinstance(exc, drf_exceptions.ValidationError):
        fields = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        body = {"code": code, "detail": "The request is not valid.", "fields": fields}
    elif isinstance(exc, drf_exceptions.ParseError):
        body = {"code": code, "detail": f"The request body is not valid JSON: {exc.detail}"}
    else:
        body = {"code": code, "detail": str(exc.detail)}
    return ErrorAnswer(exc.status_code, body, headers)


def api_exception_handler(exc, context):
    """The REST framework's EXCEPTION_HANDLER (settings.REST_FRAMEWORK)."""
    answer = error_answer(exc)
    if answer is None:
        return None  # a bug: let Django turn it into a 500 and log it
    return Response(answer.body, status=answer.status, headers=answer.headers)


def socket_error_body(exc: Exception) -> dict | None:
    """The body of a live socket's error reply: the one a REST view answers ``exc`` with."""
    answer = error_answer(exc)
    return None if answer is None else answer.body


def lockout_response(request, credentials, *args, **kwargs):
    """django-axes calls this when a username is locked out (token endpoint, admin login)."""
    return JsonResponse(
        {
            "code": "locked_out",
            "detail": "Too many failed logins for this username; try again later.",
        },
        status=429,
    )


# csrf_exempt: the catch-all under /api/ answers every method, and a CSRF check there would
# turn a token client's POST to a mistyped path into Django's 403 HTML page. The view reads
# nothing and changes nothing, so there is nothing for CSRF to protect.
@csrf_exempt
def json_404(request, exception=None):
    return JsonResponse({"code": "not_found", "detail": "No such resource."}, status=404)


def json_500(request):
    return JsonResponse(
        {"code": "server_error", "detail": "Internal error; it has been logged."}, status=500
    )
