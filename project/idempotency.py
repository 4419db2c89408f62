"""The HTTP side of ``Idempotency-Key``: the rules live in wallets.idempotency."""

from rest_framework.response import Response

from wallets.idempotency import Action, idempotent_call, request_fingerprint


def run_idempotent(request, action: Action) -> Response:
    """Run a money-moving view action under the request's Idempotency-Key, if it has one."""
    fingerprint = request_fingerprint(method=request.method, path=request.path, body=request.data)
    status, body = idempotent_call(
        user_id=request.user.pk,
        key=request.headers.get("Idempotency-Key"),
        fingerprint=fingerprint,
        action=action,
    )
    return Response(body, status=status)
