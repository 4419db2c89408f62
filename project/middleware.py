"""Middleware of this project (the rest of the chain is Django's, WhiteNoise's and axes')."""

from __future__ import annotations

from django.db import connection

from project.celery import DATABASE_ERRORS

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class LostConnectionReadRetry:
    """Run a read's view once more when its database connection was lost under it.

    A connection can die while a request uses it (PostgreSQL restarted, the backend
    terminated by an administrator or a failover). The pool hands out only checked
    connections (project/settings.py), so what remains is a request that was using one at
    that moment. A safe method changes nothing, so running its view again on a new
    connection is always right; a write is not retried here, because whether its
    transaction committed before the connection went cannot be known (an
    ``Idempotency-Key`` is the client's way to retry one safely).

    Only a lost connection is retried: a database error on a connection that still works
    (a bug, a timeout) is answered as it is.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if (
            request.method not in SAFE_METHODS
            or not isinstance(exception, DATABASE_ERRORS)
            or getattr(request, "lost_connection_retried", False)
            or connection.in_atomic_block
            or connection.is_usable()
        ):
            return None
        request.lost_connection_retried = True
        connection.close()  # a broken connection goes back to the pool, which discards it
        match = request.resolver_match
        return match.func(request, *match.args, **match.kwargs)
