"""The embedded default runs the beat schedule in its own process (project.embedded_beat)."""

from datetime import timedelta

import pytest

from project.celery import app
from project.embedded_beat import EmbeddedBeat, embedded_beat_start
from tests.matches.test_deadlines import report_minutes_ago, semifinal  # noqa: F401

pytestmark = pytest.mark.django_db


def test_a_due_entry_runs_its_real_task_once_and_the_others_wait(semifinal):  # noqa: F811
    match, _ = semifinal
    report_minutes_ago(match, 16)  # past the 15-minute deadline
    beat = EmbeddedBeat(app)
    assert set(beat.entries) == {
        "tournament-refunds-sweep",
        "matches-confirm-overdue",
        "tournament-payouts-sweep",
        "tournaments-auto-start",
        "tournament-events-prune",
    }
    ran = []
    original = beat._run
    beat._run = lambda name, task, entry: (ran.append(name), original(name, task, entry))

    beat.tick()  # just started: nothing is due before its first interval
    assert ran == []
    match.refresh_from_db()
    assert match.status == "awaiting_confirmation"

    beat.last_run_at["matches-confirm-overdue"] -= timedelta(seconds=61)
    wait = beat.tick()
    assert ran == ["matches-confirm-overdue"]
    match.refresh_from_db()
    assert match.status == "completed"
    assert 0 < wait <= 60

    beat.tick()  # it ran just now: not due again
    assert ran == ["matches-confirm-overdue"]


def test_a_failing_task_is_logged_and_the_schedule_goes_on(caplog):
    beat = EmbeddedBeat(
        app,
        schedule={
            "broken": {"task": "no.such.task", "schedule": 60.0},
            "prune": {"task": "tournaments.tasks.tournament_events_prune", "schedule": 60.0},
        },
    )
    for name in beat.last_run_at:
        beat.last_run_at[name] -= timedelta(seconds=61)
    beat.tick()
    assert "embedded beat: broken (no.such.task) failed" in caplog.text
    assert beat.tick() > 0  # both ran (and are not due again): the failure stopped nothing
    assert all(not s.is_due(beat.last_run_at[n])[0] for n, (_, s, _) in beat.entries.items())


def test_it_starts_only_without_a_broker(settings):
    assert settings.REDIS_URL  # the suite runs with Redis: `celery beat` is the one
    assert embedded_beat_start() is None

    settings.REDIS_URL = ""
    beat = embedded_beat_start()
    try:
        assert beat is not None
    finally:
        beat.stopped.set()
