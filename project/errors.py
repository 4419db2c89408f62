"""Domain errors and the one place that maps them (and DRF's own) to the API's error shape.

Every 4xx body is ``{"code": ..., "detail": ...}``; a 400 from validation adds ``fields``.
Services raise the domain errors below; views and consumers never build error bodies by
hand.
"""

from __future__ import annotations

from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response


class DomainError(Exception):
    """A business rule said no. ``code`` is the machine code clients switch on."""

    status = 400
    code = "invalid"

    def __init__(self, detail: str, *, code: str | None = None, fields: dict | None = None):
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        self.fields = fields

    def as_body(self) -> dict:
        body = {"code": self.code, "detail": self.detail}
        if self.fields:
            body["fields"] = self.fields
        return body


class InvalidInput(DomainError):
    status = 400


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


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


def api_exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return Response(exc.as_body(), status=exc.status)
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    if not isinstance(exc, drf_exceptions.APIException):
        return None  # a bug: let Django turn it into a 500 and log it

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
    return Response(body, status=exc.status_code, headers=headers)


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
