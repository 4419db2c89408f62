"""Run many requests at once from real threads, each with its own database connection."""

import threading

from django.db import connections

# PostgreSQL allows 100 connections here; leave room for the test's own connection.
MAX_THREADS = 60


def run_concurrently(calls, *, threads: int = MAX_THREADS) -> list:
    """Run the callables from ``threads`` threads released together; return their results.

    An exception is returned in place of its call's result rather than raised, so a test
    can assert on every outcome.
    """
    threads = min(threads, len(calls))
    results: list = [None] * len(calls)
    barrier = threading.Barrier(threads)

    def worker(indexes):
        try:
            barrier.wait(timeout=60)
            for i in indexes:
                try:
                    results[i] = calls[i]()
                except Exception as error:  # noqa: BLE001 - reported to the test
                    results[i] = error
        finally:
            # Each thread opened its own connection; close it so the test DB can be dropped.
            connections.close_all()

    workers = [
        threading.Thread(target=worker, args=(range(k, len(calls), threads),))
        for k in range(threads)
    ]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return results
