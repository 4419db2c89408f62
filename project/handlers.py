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

Request threads are reused. ``ASGIHandler`` makes each request's thread-sensitive context
a new one-thread executor and, at the end, starts one more thread to join it; the event
loop blocks in both ``Thread.start`` calls until the new thread runs, which, while other
threads hold the GIL, costs milliseconds of a loop that is also writing live frames
(py-spy on the fan-out benchmark under uvicorn: 9% of the loop's samples). Here a request
borrows an idle one-thread executor and hands it back: a thread per concurrent request,
as before, without creating and joining one per request. That takes asgiref's
``ThreadSensitiveContext(executor=...)``, new in asgiref 3.13 (3.12 and earlier take no
argument): pyproject.toml pins the range, and the handler refuses to be built on an asgiref
without it, rather than fail every request.
"""

from __future__ import annotations

import inspect
from concurrent.futures import ThreadPoolExecutor

import asgiref
import django
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.base import BaseHandler


class RequestThreads:
    """Idle one-thread executors, each request borrowing one for its thread-sensitive work.

    Used from the event loop's thread only. Up to ``keep`` idle executors stay; one handed
    back beyond that is shut down without waiting (its thread ends when its queue is done).
    """

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.idle: list[ThreadPoolExecutor] = []

    def borrow(self) -> ThreadPoolExecutor:
        if self.idle:
            return self.idle.pop()  # the most recently used: its thread is warm
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="request")

    def give_back(self, executor: ThreadPoolExecutor) -> None:
        # A request cancelled by a disconnect may leave its view running on the thread; the
        # next borrower's work then queues behind it on the same one thread, which is safe.
        if len(self.idle) < self.keep:
            self.idle.append(executor)
        else:
            executor.shutdown(wait=False)


class SyncChainASGIHandler(ASGIHandler):
    # Idle request threads kept: about the concurrency one process serves at its peak.
    IDLE_REQUEST_THREADS = 32

    def __init__(self) -> None:
        if "executor" not in inspect.signature(ThreadSensitiveContext).parameters:
            raise ImproperlyConfigured(
                "project/handlers.py needs asgiref's ThreadSensitiveContext(executor=...), "
                "new in asgiref 3.13: install the range pyproject.toml pins "
                f"(installed: asgiref {asgiref.__version__})"
            )
        BaseHandler.__init__(self)
        self.load_middleware(is_async=False)
        self.request_threads = RequestThreads(keep=self.IDLE_REQUEST_THREADS)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        executor = self.request_threads.borrow()
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            self.request_threads.give_back(executor)

    async def get_response_async(self, request):
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)


def get_asgi_application() -> SyncChainASGIHandler:
    """``django.core.asgi.get_asgi_application`` with this handler."""
    django.setup(set_prefix=False)
    return SyncChainASGIHandler()
