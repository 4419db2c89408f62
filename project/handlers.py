"""The ASGI handler for HTTP: Django's, with the middleware chain run in one thread.

Every view of this API is synchronous (DRF), and so is WhiteNoise's middleware. Django's
``ASGIHandler`` builds its middleware chain in async mode: each ``MiddlewareMixin``
middleware then runs its ``process_request``/``process_response``/``process_view`` through
its own ``sync_to_async`` call, WhiteNoise (sync only) goes back to the event loop with
``async_to_sync``, and the view is one more hop; about twenty thread switches per request,
each a wake-up of another thread and a GIL hand-over. Measured with bench/joins.py they
were the largest single cost of a join under daphne.

This handler builds the same chain, in the same order, in sync mode (as under WSGI) and
runs the whole of it, view included, in ONE ``sync_to_async`` call: one switch per
request. That call is thread-sensitive, and ``ASGIHandler`` gives each request its own
thread-sensitive context, so concurrent requests still run in parallel threads (the
database waits of one do not hold up another), while everything one request does with
the ORM stays on one thread. Nothing else changes: the request is read, the
``request_started``/``request_finished`` signals are sent and the response is written by
``ASGIHandler`` itself; an async view (there is none) would run through ``async_to_sync``
as Django does under WSGI.
"""

from __future__ import annotations

import django
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.base import BaseHandler


class SyncChainASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        BaseHandler.__init__(self)
        self.load_middleware(is_async=False)

    async def get_response_async(self, request):
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)


def get_asgi_application() -> SyncChainASGIHandler:
    """``django.core.asgi.get_asgi_application`` with this handler."""
    django.setup(set_prefix=False)
    return SyncChainASGIHandler()
