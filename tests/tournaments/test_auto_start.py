"""``auto_start`` (issue 13, API.md "Match play"): at ``starts_at`` the beat starts the
tournament itself, with the check-in prelude of any start; each tournament is started once
however many runs overlap; one that cannot start (fewer than 2 left) stays in registration,
unchanged but for ``auto_start``, which is turned off.
"""

import logging
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from matches.auto_start import tournaments_auto_start
from tests.concurrency import run_concurrently
from tests.processes import PROJECT_DIR, database_url_of_the_tests, wait_for
from tournaments.models import Participant, Tournament, TournamentEvent
from tournaments.services import tournament_check_in, tournament_create, tournament_join
from wallets.models import Account, Posting

FEE = 100


def cup(organizer, *, starts_in_minutes=-1, check_in=0, auto_start=True, name="Cup"):
    return tournament_create(
        organizer=organizer, name=name, format="single_elimination", max_participants=4,
        entry_fee=FEE, starts_at=timezone.now() + timedelta(minutes=starts_in_minutes),
        auto_start=auto_start, check_in_opens_minutes=check_in,
    )  # fmt: skip


def players_join(tournament, users) -> None:
    for user in users:
        tournament_join(tournament_id=tournament.pk, user=user)


@pytest.fixture
def organizer(make_user):
    return make_user("org")


@pytest.mark.django_db
def test_a_due_tournament_starts_and_the_others_wait(organizer, make_user):
    players = [make_user(f"p{i}", funds=3 * FEE) for i in range(2)]
    due = cup(organizer, name="due")
    later = cup(organizer, starts_in_minutes=10, name="later")
    manual = cup(organizer, auto_start=False, name="manual")
    for tournament in (due, later, manual):
        players_join(tournament, players)

    assert tournaments_auto_start() == [due.pk]
    statuses = dict(Tournament.objects.values_list("name", "status"))
    assert statuses == {"due": "in_progress", "later": "registration", "manual": "registration"}
    assert due.events.order_by("version").last().name == "tournament.started"
    assert tournaments_auto_start() == []  # started once


@pytest.mark.django_db
def test_an_automatic_start_removes_the_no_shows_and_refunds_them(organizer, make_user):
    tournament = cup(organizer, check_in=30)
    players = [make_user(n, funds=FEE) for n in ("a", "b", "gone")]
    players_join(tournament, players)
    for user in players[:2]:
        tournament_check_in(tournament_id=tournament.pk, user=user)

    assert tournaments_auto_start() == [tournament.pk]
    assert Participant.objects.get(name="gone").status == "left"
    assert Account.objects.get(user=players[2]).balance == FEE
    tournament.refresh_from_db()
    assert (tournament.status, tournament.participant_count) == ("in_progress", 2)


@pytest.mark.django_db
def test_one_that_cannot_start_stays_in_registration_with_auto_start_off(
    organizer, make_user, caplog
):
    tournament = cup(organizer, check_in=30)
    players = [make_user(n, funds=FEE) for n in ("a", "b")]
    players_join(tournament, players)
    tournament_check_in(tournament_id=tournament.pk, user=players[0])
    tournament.refresh_from_db()
    before = (tournament.version, tournament.participant_count, tournament.prize_pool)
    postings = Posting.objects.count()

    with caplog.at_level(logging.WARNING, logger="matches.auto_start"):
        assert tournaments_auto_start() == []
    tournament.refresh_from_db()
    assert (tournament.status, tournament.auto_start) == ("registration", False)
    # Only the edit that turned the automatic start off: one event, the organizer's kind.
    assert (tournament.version - 1, tournament.participant_count, tournament.prize_pool) == before
    last = TournamentEvent.objects.get(tournament=tournament, version=tournament.version)
    assert last.name == "tournament.updated" and last.data["tournament"]["auto_start"] is False
    assert Posting.objects.count() == postings  # the no-show was not refunded: rolled back
    assert set(Participant.objects.values_list("status", flat=True)) == {"registered"}
    assert "fewer than 2 participants" in caplog.text
    assert tournaments_auto_start() == []  # not tried again every minute


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(3))
def test_concurrent_runs_start_each_tournament_once(round_, organizer, make_user):
    players = [make_user(f"p{i}", funds=3 * FEE) for i in range(3)]
    tournaments = [cup(organizer, check_in=30, name=f"c{i}") for i in range(3)]
    for tournament in tournaments:
        players_join(tournament, players)
        for user in players[:2]:
            tournament_check_in(tournament_id=tournament.pk, user=user)

    runs = run_concurrently([tournaments_auto_start for _ in range(4)])

    started = sorted(pk for run in runs for pk in run)
    assert started == sorted(t.pk for t in tournaments)  # each by exactly one run
    for tournament in tournaments:
        assert tournament.events.filter(name="tournament.started").count() == 1
        refunds = Posting.objects.filter(kind="refund", tournament_id=tournament.pk)
        assert refunds.count() == 1  # the one no-show, once
    assert Account.objects.get(user=players[2]).balance == 3 * FEE


@pytest.mark.django_db(transaction=True)
def test_a_real_beat_and_worker_start_a_due_tournament(
    organizer, make_user, broker, start_worker, tmp_path
):
    """``celery beat`` sends the auto-start entry (every second here: AUTO_START_EVERY) and
    a real worker runs it on the test database: the tournament starts with its check-in."""
    tournament = cup(organizer, check_in=30)
    players = [make_user(n, funds=FEE) for n in ("a", "b", "gone")]
    players_join(tournament, players)
    for user in players[:2]:
        tournament_check_in(tournament_id=tournament.pk, user=user)

    start_worker(AUTO_START_EVERY="1")
    beat_log = tmp_path / "beat.log"
    beat = subprocess.Popen(
        [
            sys.executable, "-m", "celery", "-A", "project", "beat", "--loglevel=INFO",
            f"--schedule={tmp_path / 'beat-schedule'}",
        ],
        cwd=PROJECT_DIR,
        # Not eager: the beat only sends; the worker runs the task.
        env={
            **os.environ,
            "AUTO_START_EVERY": "1",
            "REDIS_URL": settings.REDIS_URL,
            "DATABASE_URL": database_url_of_the_tests(),
            "CELERY_TASK_ALWAYS_EAGER": "0",
        },
        stdout=beat_log.open("wb"),
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        started = wait_for(
            lambda: Tournament.objects.get(pk=tournament.pk).status == "in_progress", 60, every=0.2
        )
        assert started, beat_log.read_text()[-3000:]
    finally:
        beat.terminate()
        beat.wait(timeout=10)
    tournament.refresh_from_db()
    assert tournament.participant_count == 2
    assert Participant.objects.get(name="gone").status == "left"
    assert Account.objects.get(user=players[2]).balance == FEE
    assert tournament.events.filter(name="tournament.started").count() == 1
    assert "tournaments-auto-start" in beat_log.read_text()
