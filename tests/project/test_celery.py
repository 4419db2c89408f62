"""Celery's configuration for reliability, and enqueueing only after commit."""

import base64
import json

import pytest
import redis
from celery.backends.base import DisabledBackend
from django.conf import settings
from django.db import connection, transaction

from project.celery import app as celery_app
from tournaments import tasks as tournament_tasks

OUR_APPS = ("tournaments.", "matches.", "notifications.", "wallets.", "users.")


def our_tasks():
    celery_app.loader.import_default_modules()
    return {name: task for name, task in celery_app.tasks.items() if name.startswith(OUR_APPS)}


def test_tasks_are_acknowledged_late_and_requeued_when_their_worker_dies():
    conf = celery_app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert our_tasks()
    for name, task in our_tasks().items():
        assert task.acks_late, name


def test_the_visibility_timeout_is_longer_than_any_task():
    conf = celery_app.conf
    assert conf.task_time_limit and conf.task_soft_time_limit < conf.task_time_limit
    assert conf.broker_transport_options["visibility_timeout"] > conf.task_time_limit
    for name, task in our_tasks().items():
        assert (task.time_limit or conf.task_time_limit) < conf.broker_transport_options[
            "visibility_timeout"
        ], name


def test_redis_is_the_broker_and_messages_are_json():
    conf = celery_app.conf
    assert conf.broker_url.startswith("redis://")
    assert conf.task_serializer == "json"
    assert conf.accept_content == ["json"]


def test_results_are_ignored_and_no_result_backend_is_configured():
    assert celery_app.conf.task_ignore_result is True
    assert celery_app.conf.result_backend is None
    assert isinstance(celery_app.backend, DisabledBackend)
    for name, task in our_tasks().items():
        assert task.ignore_result, name
    assert not {"django_celery_results", "django_celery_beat"} & set(settings.INSTALLED_APPS)


@pytest.mark.django_db
def test_nothing_is_written_to_a_task_result_table(django_capture_on_commit_callbacks):
    tables = connection.introspection.table_names()
    assert not [t for t in tables if "celery" in t.lower() or "taskresult" in t.lower()]
    with django_capture_on_commit_callbacks(execute=True):
        tournament_tasks.tournament_refunds_sweep.delay()
    assert connection.introspection.table_names() == tables


def test_beat_sweeps_stalled_refunds_every_minute():
    schedule = celery_app.conf.beat_schedule
    sweep = next(e for e in schedule.values() if e["task"].endswith("tournament_refunds_sweep"))
    assert sweep["schedule"] <= 60
    assert sweep["options"]["expires"] <= sweep["schedule"]
    for entry in schedule.values():
        assert entry["task"] in our_tasks(), entry
    # A refund is "stalled" only well after a chunk would have finished.
    assert settings.REFUNDS_STALLED_AFTER >= 60


@pytest.fixture
def broker(monkeypatch):
    """Publish to Redis for real (the suite otherwise runs tasks in-process)."""
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.delete("celery")
    yield client
    client.delete("celery")


@pytest.mark.django_db(transaction=True)
def test_a_task_enqueued_in_a_transaction_that_rolls_back_is_never_sent(broker):
    with pytest.raises(RuntimeError), transaction.atomic():
        tournament_tasks.tournament_refunds_chunk_run.delay_on_commit(41)
        raise RuntimeError("rolled back")
    assert broker.llen("celery") == 0

    # Nor one enqueued in a savepoint that rolls back, inside a transaction that commits.
    with transaction.atomic():
        with pytest.raises(RuntimeError), transaction.atomic():
            tournament_tasks.tournament_refunds_chunk_run.delay_on_commit(42)
            raise RuntimeError("savepoint rolled back")
        tournament_tasks.tournament_refunds_chunk_run.delay_on_commit(43)
        assert broker.llen("celery") == 0  # not before the commit either
    assert broker.llen("celery") == 1
    message = json.loads(broker.lindex("celery", 0))
    assert message["headers"]["task"] == "tournaments.tasks.tournament_refunds_chunk_run"
    assert json.loads(base64.b64decode(message["body"]))[0] == [43]  # (args, kwargs, options)


@pytest.mark.django_db(transaction=True)
def test_a_task_enqueued_in_a_rolled_back_transaction_never_runs(monkeypatch):
    """In-process (the embedded default), the same: the task body never executes."""
    ran = []
    monkeypatch.setattr(
        "tournaments.services.tournament_refunds_resume",
        lambda **kwargs: ran.append(kwargs),
    )
    with pytest.raises(RuntimeError), transaction.atomic():
        tournament_tasks.tournament_refunds_sweep.delay_on_commit()
        raise RuntimeError("rolled back")
    assert ran == []
    with transaction.atomic():
        tournament_tasks.tournament_refunds_sweep.delay_on_commit()
    assert len(ran) == 1


def test_beat_confirms_overdue_results_every_minute_and_prunes_events_daily():
    tasks = {entry["task"]: entry["schedule"] for entry in celery_app.conf.beat_schedule.values()}
    assert tasks["matches.tasks.matches_confirm_overdue"] <= 60
    assert tasks["tournaments.tasks.tournament_events_prune"] == 24 * 3600


def test_the_prune_task_deletes_events_older_than_the_retention(make_user, settings):
    from datetime import timedelta

    from django.utils import timezone

    from tournaments.models import TournamentEvent
    from tournaments.services import tournament_create, tournament_join

    cup = tournament_create(organizer=make_user(), name="Old", format="swiss", max_participants=4)
    for _ in range(2):
        tournament_join(tournament_id=cup.pk, user=make_user())
    old = timezone.now() - timedelta(days=settings.LIVE_EVENT_RETENTION_DAYS, hours=1)
    TournamentEvent.objects.filter(tournament=cup, version=1).update(created_at=old)

    assert tournament_tasks.tournament_events_prune.delay().get() == 1
    assert list(
        TournamentEvent.objects.filter(tournament=cup).values_list("version", flat=True)
    ) == [2]
