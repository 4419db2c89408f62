"""Refunds on a real ``celery -A project worker`` process, real Redis, the test database.

The worker is a subprocess with the suite's settings but ``DATABASE_URL`` naming the test
database (pytest-django's ``test_<name>``) and ``CELERY_TASK_ALWAYS_EAGER`` off; this
process enqueues with eager mode off too. The tests use ``transaction=True`` so that the
worker sees the rows they commit.
"""

import re
import time

import psycopg
import pytest
from django.db import connection

from tests.concurrency import waiting_on_a_lock
from tests.processes import (
    VISIBILITY_TIMEOUT,
    database_url_of_the_tests,
    wait_for,
    worker_kill,
)
from tests.tournaments.test_refunds import assert_refunded_exactly_once, big_cup, events_of
from tournaments import tasks
from tournaments.models import Participant, Tournament
from tournaments.services import tournament_cancel

pytestmark = pytest.mark.django_db(transaction=True)


def pending(cup: Tournament) -> int:
    return Tournament.objects.values_list("refunds_pending", flat=True).get(pk=cup.pk)


def other_backends(*states: str) -> int:
    """Sessions on the test database other than this process's, in the given states."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND state = ANY(%s) AND backend_type = 'client backend'",
            [list(states)],
        )
        return cursor.fetchone()[0]


def assert_no_results_stored(broker) -> None:
    """Results are ignored: no result keys in Redis, no result table in the database."""
    assert not broker.keys("celery-task-meta-*")
    assert not [t for t in connection.introspection.table_names() if "celery" in t.lower()]


def test_worker_killed_mid_chunk_then_a_new_worker_refunds_everyone_exactly_once(
    make_user, broker, start_worker
):
    organizer = make_user()
    cup = big_cup(organizer, 2000)
    second_chunk = list(
        Participant.objects.filter(tournament=cup).order_by("pk").values_list("pk", flat=True)
    )[1000:]
    # Hold one participant of the second chunk: that chunk's transaction stops there, half
    # done (its accounts locked, nothing committed), until the worker is killed.
    blocker = psycopg.connect(database_url_of_the_tests())
    blocker.execute(
        "SELECT id FROM tournaments_participant WHERE id = %s FOR UPDATE", [second_chunk[500]]
    )

    try:
        first = start_worker()
        tournament_cancel(tournament_id=cup.pk, user=organizer)  # enqueues chunk 1 on commit
        assert wait_for(lambda: pending(cup) == 1000 and waiting_on_a_lock() > 0, 30), (
            first.log_path.read_text()
        )

        worker_kill(first)
        killed_at = time.monotonic()
    finally:
        blocker.rollback()  # the killed worker's session then fails and rolls back
        blocker.close()
    assert wait_for(lambda: other_backends("active", "idle in transaction") == 0, 15)
    assert pending(cup) == 1000  # the chunk in progress left nothing behind

    # acks_late: the killed worker never acknowledged chunk 2, so the broker gives it to the
    # next worker once its visibility timeout has passed.
    time.sleep(max(0.0, VISIBILITY_TIMEOUT + 0.5 - (time.monotonic() - killed_at)))
    second = start_worker()
    assert wait_for(lambda: pending(cup) == 0, 60), second.log_path.read_text()
    # Nothing but the redelivered message could have run chunk 2 (no sweeper here). The
    # worker logs its success only after the chunk committed: wait for the line as well.
    succeeded = re.compile(r"tournament_refunds_chunk_run\[[-0-9a-f]+\] succeeded")
    assert wait_for(lambda: succeeded.search(second.log_path.read_text()), 15), (
        second.log_path.read_text()
    )

    assert_refunded_exactly_once(cup, 2000)
    assert events_of(cup) == [(1, "tournament.cancelled", None), (2, "refunds.progress", 1000),
                              (3, "refunds.progress", 0)]  # fmt: skip
    assert_no_results_stored(broker)


def test_the_sweeper_enqueues_again_a_refund_whose_message_was_lost(
    make_user, broker, start_worker
):
    organizer = make_user()
    cup = big_cup(organizer, 1200)
    tournament_cancel(tournament_id=cup.pk, user=organizer)
    assert broker.llen("celery") == 1
    broker.delete("celery")  # the message is lost (say, Redis lost it, or it was purged)

    worker = start_worker(REFUNDS_STALLED_AFTER="1")
    time.sleep(1.5)
    assert pending(cup) == 1200  # nothing is running: the chain is gone

    tasks.tournament_refunds_sweep.delay()  # what celery beat sends every minute
    assert wait_for(lambda: pending(cup) == 0, 60), worker.log_path.read_text()

    assert_refunded_exactly_once(cup, 1200)
    assert b"stalled: enqueued again" in worker.log_path.read_bytes()
    assert_no_results_stored(broker)
