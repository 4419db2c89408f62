"""The HTTP side of ``Idempotency-Key``: the views' one call (the rules: idempotency.services)."""

from __future__ import annotations

from collections.abc import Callable

from rest_framework.response import Response

from idempotency.services import Answer, idempotent_call, request_fingerprint
from project.domain_errors import DomainError
from project.errors import error_answer


def run_idempotent(request, action: Callable[[], Answer]) -> Response:
    """Run a view's action under the request's Idempotency-Key, if it has one.

    ``action`` returns the status and body of its answer; a domain error it raises is
    stored as the answer the REST API gives it (``project.errors``).
    """
    fingerprint = request_fingerprint(method=request.method, path=request.path, body=request.data)
    status, body = idempotent_call(
        user_id=request.user.pk,
        key=request.headers.get("Idempotency-Key"),
        fingerprint=fingerprint,
        action=action,
        refusal_answer=_refusal_answer,
    )
    return Response(body, status=status)


def _refusal_answer(error: DomainError) -> Answer:
    answer = error_answer(error)
    return answer.status, answer.body
