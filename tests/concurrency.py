"""Run many requests at once from real threads, each with its own database connection."""

import threading
import time

from django.db import connections, transaction

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


# --- Interleavings made exact -------------------------------------------------------------


class Background:
    """Run ``call`` in a thread of its own (its own database connection); ``result()``
    waits for it and returns its result, or the exception it raised."""

    def __init__(self, call):
        self._value = None
        self._thread = threading.Thread(target=self._run, args=(call,))
        self._thread.start()

    def _run(self, call):
        try:
            self._value = call()
        except Exception as error:  # noqa: BLE001 - reported to the test
            self._value = error
        finally:
            connections.close_all()

    def result(self, timeout: float = 30):
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the call did not finish"
        return self._value


class HeldOpen:
    """Run ``call`` in a thread inside a transaction that stays open until ``commit()``.

    What the call locked and wrote stays locked and uncommitted meanwhile, so that a test
    can start a concurrent action at exactly that point. The call's own ``atomic`` blocks
    become savepoints of the held transaction; its on-commit work runs at ``commit()``.
    """

    def __init__(self, call):
        self._called = threading.Event()
        self._release = threading.Event()
        self.value = None
        self._thread = threading.Thread(target=self._run, args=(call,))
        self._thread.start()
        assert self._called.wait(30), "the call did not finish"
        if isinstance(self.value, Exception):
            self.commit()
            raise self.value

    def _run(self, call):
        try:
            with transaction.atomic():
                try:
                    self.value = call()
                except Exception as error:  # noqa: BLE001 - raised in the test's thread
                    self.value = error
                finally:
                    self._called.set()
                self._release.wait(60)
        finally:
            connections.close_all()

    def commit(self):
        self._release.set()
        self._thread.join(30)
        assert not self._thread.is_alive()


def waiting_on_a_lock() -> int:
    """How many sessions on the test database wait for a lock (row or transaction)."""
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def wait_for_lock_waiters(count: int, timeout: float = 10) -> None:
    """Wait until ``count`` sessions wait for a lock, that is until the concurrent actions
    started have reached the lock that the interleaving is about."""
    deadline = time.monotonic() + timeout
    while waiting_on_a_lock() < count:
        assert time.monotonic() < deadline, f"fewer than {count} sessions wait for a lock"
        time.sleep(0.02)
