"""The event log and its publishing (tournaments.events), on PostgreSQL and Redis."""

import asyncio
import json
import threading
from datetime import timedelta

import pytest
from channels.layers import get_channel_layer
from django.core.exceptions import FieldDoesNotExist
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from consumers.hub import db_call
from tests.concurrency import run_concurrently
from tournaments import events as events_module
from tournaments.errors import TournamentFull
from tournaments.events import (
    LIVE_MESSAGE_TYPE,
    events_prune,
    tournament_group,
    tournament_row_update,
)
from tournaments.models import Tournament, TournamentEvent
from tournaments.services import tournament_create, tournament_join


@pytest.fixture
def organizer(make_user):
    return make_user("organizer")


def cup_create(organizer, *, places=64):
    return tournament_create(
        organizer=organizer, name="Cup", format="round_robin", max_participants=places
    )


async def published(layer, channel, *, timeout=0.5) -> list[dict]:
    """Every message the group delivered to ``channel`` until it stays quiet."""
    messages = []
    while True:
        try:
            messages.append(await asyncio.wait_for(layer.receive(channel), timeout))
        except TimeoutError:
            return messages


async def test_a_burst_of_concurrent_joins_gets_consecutive_versions_each_published_once(
    transactional_db, make_user, organizer
):
    cup = await db_call(cup_create, organizer=organizer)
    players = await db_call(lambda: [make_user(f"p{i}") for i in range(30)])
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(tournament_group(cup.pk), channel)

    calls = [
        (lambda user=user: tournament_join(tournament_id=cup.pk, user=user)) for user in players
    ]
    results = await db_call(run_concurrently, calls=calls, threads=15)
    assert not [r for r in results if isinstance(r, Exception)]

    logged = await db_call(
        lambda: list(TournamentEvent.objects.filter(tournament=cup).values_list("version", "name"))
    )
    assert logged == [(v, "participant.joined") for v in range(1, 31)]
    messages = await published(layer, channel)
    assert {m["type"] for m in messages} == {LIVE_MESSAGE_TYPE}
    versions = sorted(e[0] for m in messages for e in m["events"])
    assert versions == list(range(1, 31))  # each once; the order between commits may vary
    frame = json.loads(messages[0]["events"][0][3])
    assert set(frame) == {"type", "version", "event", "data"}
    assert frame["type"] == "event" and frame["event"] == "participant.joined"
    await layer.group_discard(tournament_group(cup.pk), channel)


def test_a_row_update_applies_its_change_and_reads_the_row_back(db, organizer):
    cup = cup_create(organizer, places=3)
    Tournament.objects.filter(pk=cup.pk).update(participant_count=1, waitlist_count=2)
    stale = Tournament.objects.get(pk=cup.pk)  # the caller's copy; the row moves under it
    Tournament.objects.filter(pk=cup.pk).update(waitlist_count=5)

    assert tournament_row_update(
        stale,
        events=2,
        values={"name": "Renamed"},
        increments={"participant_count": 2, "waitlist_count": -1},
        when_status=Tournament.Status.REGISTRATION,
        when_room_for=2,
        when_at_least={"waitlist_count": 5},
    )

    row = Tournament.objects.get(pk=cup.pk)
    assert (row.name, row.participant_count, row.waitlist_count, row.version) == (
        "Renamed",
        3,
        4,
        2,
    )
    # Every counter is copied back from the row, not computed from the stale copy.
    assert (stale.participant_count, stale.waitlist_count, stale.version) == (3, 4, 2)


@pytest.mark.parametrize(
    "guard",
    [
        {"when_status": Tournament.Status.IN_PROGRESS},
        {"when_room_for": 2},  # one place left
        {"when_at_least": {"payouts_pending": 1}},
    ],
)
def test_a_row_update_whose_guard_fails_changes_nothing(db, organizer, guard):
    cup = cup_create(organizer, places=3)
    Tournament.objects.filter(pk=cup.pk).update(participant_count=2)

    assert not tournament_row_update(cup, events=1, increments={"participant_count": 1}, **guard)

    row = Tournament.objects.get(pk=cup.pk)
    assert (row.participant_count, row.version) == (2, 0)


def test_a_row_update_refuses_a_field_the_tournament_does_not_have(db, organizer):
    cup = cup_create(organizer)
    with pytest.raises(FieldDoesNotExist):
        tournament_row_update(cup, events=1, increments={"participant_cuont": 1})
    assert Tournament.objects.get(pk=cup.pk).version == 0


def test_a_rolled_back_change_publishes_nothing_and_takes_no_version(
    db, make_user, organizer, django_capture_on_commit_callbacks, monkeypatch
):
    sent = []
    monkeypatch.setattr(events_module, "_events_publish", lambda *args: sent.append(args))
    cup = cup_create(organizer, places=2)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            tournament_join(tournament_id=cup.pk, user=make_user("undone"))
            raise RuntimeError("the change is rolled back")
        tournament_join(tournament_id=cup.pk, user=make_user("first"))
        tournament_join(tournament_id=cup.pk, user=make_user("second"))
        with pytest.raises(TournamentFull):
            tournament_join(tournament_id=cup.pk, user=make_user("refused"))
    assert len(callbacks) == 2
    assert [(tid, [e[0] for e in events]) for tid, events in sent] == [(cup.pk, [1]), (cup.pk, [2])]
    assert list(cup.events.values_list("version", flat=True)) == [1, 2]


def test_events_are_published_after_the_commit(transactional_db, make_user, organizer, monkeypatch):
    seen = []

    def publish(tournament_id, events):
        # Runs after the commit, outside any transaction, and another connection sees the row.
        visible = []
        reader = threading.Thread(
            target=lambda: visible.append(
                TournamentEvent.objects.filter(tournament_id=tournament_id).exists()
            )
        )
        reader.start()
        reader.join()
        seen.append((transaction.get_connection().in_atomic_block, visible))

    monkeypatch.setattr(events_module, "_events_publish", publish)
    cup = cup_create(organizer)
    tournament_join(tournament_id=cup.pk, user=make_user("p"))
    assert seen == [(False, [True])]


def test_a_failed_publish_does_not_fail_the_change(
    transactional_db, make_user, organizer, client_for, monkeypatch
):
    async def broken(*args, **kwargs):
        raise ConnectionError("Redis is away")

    monkeypatch.setattr(get_channel_layer(), "group_send", broken)
    cup = cup_create(organizer)
    response = client_for(make_user("p")).post(f"/api/tournaments/{cup.pk}/join", {}, format="json")
    assert response.status_code == 201
    assert cup.events.count() == 1


def test_prune_keeps_the_tail_of_each_log_and_rest_says_what_was_pruned(
    db, make_user, organizer, anon
):
    cup = cup_create(organizer)
    for i in range(4):
        tournament_join(tournament_id=cup.pk, user=make_user(f"p{i}"))
    week_ago = timezone.now() - timedelta(days=8)
    cup.events.filter(version__lte=2).update(created_at=week_ago)
    other = cup_create(organizer)
    tournament_join(tournament_id=other.pk, user=make_user("q"))

    call_command("events_prune", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert list(cup.events.values_list("version", flat=True)) == [3, 4]
    assert other.events.count() == 1
    assert events_prune(before=week_ago) == 0

    response = anon.get(f"/api/tournaments/{cup.pk}/events?since=1")
    assert response.status_code == 410
    assert response.json()["code"] == "events_pruned"
    response = anon.get(f"/api/tournaments/{cup.pk}/events?since=2")
    assert [e["version"] for e in response.json()["events"]] == [3, 4]
    assert anon.get(f"/api/tournaments/{cup.pk}/events?since=4").json()["events"] == []
