"""The process's publisher of live events (tournaments.publish), on the tests' Redis.

Each test but the last two builds its own ``LayerPublisher`` (the process's one stays the
app's); the last two drive the app's own path: joins over HTTP, their events and tasks.
"""

import asyncio
import multiprocessing
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
import redis
import redis.asyncio.connection
import redis.connection
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from kombu.exceptions import OperationalError

from project.celery import app as celery_app
from tournaments.models import TeamMember
from tournaments.publish import LayerPublisher
from tournaments.services import team_create, tournament_create

PROJECT_DIR = Path(__file__).resolve().parents[2]


def group_name() -> str:
    return f"publish.test.{uuid.uuid4().hex}"


async def received(layer, channel: str, count: int) -> list[dict]:
    return [await asyncio.wait_for(layer.receive(channel), 5) for _ in range(count)]


async def listening(layer, group: str) -> str:
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    return channel


@pytest.fixture
def publisher():
    instance = LayerPublisher(send_timeout=1)
    yield instance
    instance.close()


class Connects:
    """Counts the Redis connections opened in this process, by redis-py's clients (the
    synchronous one Celery's broker transport uses, the asynchronous one of
    channels-redis). It wraps the method that opens the socket: if redis-py renames it,
    ``monkeypatch`` fails the test instead of counting nothing."""

    def __init__(self, monkeypatch):
        self.sync = self.asynchronous = 0
        opened_sync = redis.connection.Connection._connect
        opened_async = redis.asyncio.connection.Connection._connect

        def counted_sync(connection):
            self.sync += 1
            return opened_sync(connection)

        async def counted_async(connection):
            self.asynchronous += 1
            return await opened_async(connection)

        monkeypatch.setattr(redis.connection.Connection, "_connect", counted_sync)
        monkeypatch.setattr(redis.asyncio.connection.Connection, "_connect", counted_async)

    def reset(self) -> None:
        self.sync = self.asynchronous = 0


async def test_messages_to_one_group_arrive_in_the_order_they_were_published(publisher):
    layer = get_channel_layer()
    first, second = group_name(), group_name()
    first_channel = await listening(layer, first)
    second_channel = await listening(layer, second)
    for n in range(100):  # two groups interleaved: one batch may hold both
        publisher.publish(first, {"type": "test.message", "n": n})
        publisher.publish(second, {"type": "test.message", "n": n})
    assert [m["n"] for m in await received(layer, first_channel, 100)] == list(range(100))
    assert [m["n"] for m in await received(layer, second_channel, 100)] == list(range(100))
    await layer.group_discard(first, first_channel)
    await layer.group_discard(second, second_channel)


def test_publish_returns_while_the_layer_is_still_sending(publisher, monkeypatch):
    release, sent = threading.Event(), []

    async def slow(group, message):
        await asyncio.to_thread(release.wait, 10)
        sent.append(message)

    monkeypatch.setattr(get_channel_layer(), "group_send", slow)
    publisher.publish("g", {"type": "test.message", "n": 1})  # returns: nothing sent yet
    publisher.publish("g", {"type": "test.message", "n": 2})
    assert sent == []
    assert publisher.flush(timeout=0.2) is False
    release.set()
    assert publisher.flush(timeout=5) is True
    assert [m["n"] for m in sent] == [1, 2]


def test_a_failed_or_stuck_send_is_logged_never_raised_and_the_next_still_goes(
    publisher, monkeypatch, caplog
):
    attempts = []

    async def failing(group, message):
        attempts.append(message["n"])
        if message["n"] == 1:
            raise ConnectionError("Redis is away")
        if message["n"] == 2:
            await asyncio.sleep(60)  # given up after send_timeout (1 s here)

    monkeypatch.setattr(get_channel_layer(), "group_send", failing)
    for n in (1, 2, 3):
        publisher.publish("g", {"type": "test.message", "n": n})
    assert publisher.flush(timeout=10) is True
    assert attempts == [1, 2, 3]
    failures = [r.getMessage() for r in caplog.records if r.name == "tournaments.publish"]
    assert len(failures) == 2
    assert "ConnectionError: Redis is away" in failures[0]
    assert "TimeoutError" in failures[1]


def test_past_its_capacity_the_publisher_drops_new_messages_and_says_so(monkeypatch, caplog):
    publisher = LayerPublisher(capacity=2)
    sending, release, sent = threading.Event(), threading.Event(), []

    async def blocked(group, message):
        sending.set()
        await asyncio.to_thread(release.wait, 10)
        sent.append(message["n"])

    monkeypatch.setattr(get_channel_layer(), "group_send", blocked)
    publisher.publish("g", {"type": "test.message", "n": 1})
    assert sending.wait(5)  # 1 is being sent: the queue is empty again
    for n in (2, 3, 4, 5):
        publisher.publish("g", {"type": "test.message", "n": n})
    release.set()
    publisher.close()
    assert sent == [1, 2, 3]
    assert "2 messages waiting, 1 dropped so far" in caplog.text


def test_publishes_reuse_the_loops_connections_at_most_one_per_concurrent_send(
    publisher, monkeypatch
):
    layer = get_channel_layer()
    connects = Connects(monkeypatch)
    # The counter counts: the way this replaced, async_to_sync from a thread without an
    # event loop, opens one connection per publish.
    for n in range(3):
        async_to_sync(layer.group_send)(group_name(), {"type": "test.message", "n": n})
    assert connects.asynchronous == 3

    connects.reset()
    for _ in range(5):
        for n in range(40):  # 40 groups: sent to at most `concurrency` at once
            publisher.publish(group_name(), {"type": "test.message", "n": n})
        assert publisher.flush(timeout=10)
    # 200 publishes: the loop's pool grows to the sends in flight, then every one reuses it.
    assert 1 <= connects.asynchronous <= publisher.concurrency


def _publish_in_child(publisher: LayerPublisher, group: str, done) -> None:
    publisher.publish(group, {"type": "test.message", "from": "child"})
    done.put(publisher.flush(timeout=5))


async def test_a_forked_child_publishes_through_its_own_thread(publisher):
    layer = get_channel_layer()
    group = group_name()
    channel = await listening(layer, group)
    publisher.publish(group, {"type": "test.message", "from": "parent"})  # thread started
    assert (await received(layer, channel, 1))[0]["from"] == "parent"

    fork = multiprocessing.get_context("fork")
    done = fork.Queue()
    child = fork.Process(target=_publish_in_child, args=(publisher, group, done))
    child.start()
    assert await asyncio.to_thread(done.get, True, 10) is True
    await asyncio.to_thread(child.join, 10)
    assert (await received(layer, channel, 1))[0]["from"] == "child"
    await layer.group_discard(group, channel)


async def test_what_is_queued_at_exit_is_sent_before_the_process_ends():
    layer = get_channel_layer()
    group = group_name()
    channel = await listening(layer, group)
    script = (
        "import django; django.setup()\n"
        "from tournaments.publish import publisher\n"
        "for n in range(50):\n"
        f"    publisher.publish({group!r}, {{'type': 'test.message', 'n': n}})\n"
    )  # and exits at once, without a flush
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "project.settings"}
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-c", script], cwd=PROJECT_DIR, env=env, timeout=60
    )
    assert done.returncode == 0
    assert [m["n"] for m in await received(layer, channel, 50)] == list(range(50))
    await layer.group_discard(group, channel)


def test_an_in_process_layer_is_sent_to_before_publish_returns(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    layer = get_channel_layer()
    publisher = LayerPublisher()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("g", channel)
    publisher.publish("g", {"type": "test.message", "n": 1})

    async def already_there():
        return await asyncio.wait_for(layer.receive(channel), 0.01)

    assert async_to_sync(already_there)()["n"] == 1


@pytest.fixture
def broker(monkeypatch):
    """Tasks go to the tests' Redis, as in production (the suite otherwise runs them)."""
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.delete("celery")
    yield client
    client.delete("celery")
    client.close()


@pytest.mark.django_db(transaction=True)
def test_team_joins_publish_and_enqueue_without_opening_a_connection(
    make_user, client_for, broker, monkeypatch
):
    """After the first, a join's after-commit work (its live event, its notification task)
    opens no connection to Redis, and both arrive."""
    from tournaments.publish import publisher

    organizer = make_user("organizer")
    cup = tournament_create(
        organizer=organizer, name="Cup", format="round_robin", max_participants=8, team_size=2
    )
    captains = []
    for i in range(6):
        captain = make_user(f"captain{i}")
        team = team_create(user=captain, name=f"Team {i}")
        TeamMember.objects.create(team=team, user=make_user(f"mate{i}"))
        captains.append((captain, team))
    layer = get_channel_layer()
    channel = async_to_sync(listening)(layer, f"live.tournament.{cup.pk}")

    def join(captain, team) -> None:
        response = client_for(captain).post(
            f"/api/tournaments/{cup.pk}/join", {"team": team.pk}, format="json"
        )
        assert response.status_code == 201, response.content

    join(*captains[0])  # the first may open the process's connections
    assert publisher.flush(timeout=5)
    connects = Connects(monkeypatch)
    redis.Redis.from_url(settings.CELERY_BROKER_URL).ping()  # the counter counts
    assert connects.sync == 1
    connects.reset()
    for captain, team in captains[1:]:
        join(captain, team)
    assert publisher.flush(timeout=5)
    assert (connects.sync, connects.asynchronous) == (0, 0)

    messages = async_to_sync(received)(layer, channel, 6)
    assert [e[0] for m in messages for e in m["events"]] == [1, 2, 3, 4, 5, 6]
    assert broker.llen("celery") == 6


@pytest.mark.django_db(transaction=True)
def test_a_broker_failure_after_the_commit_is_logged_and_the_join_stands(
    make_user, client_for, broker, monkeypatch, caplog
):
    from notifications import tasks as notification_tasks

    assert isinstance(notification_tasks.team_joined_send, celery_app.Task)

    def broker_away(*args, **kwargs):
        raise OperationalError("Error 111 connecting to the broker")

    monkeypatch.setattr(notification_tasks.team_joined_send, "apply_async", broker_away)
    cup = tournament_create(
        organizer=make_user("organizer"),
        name="Cup",
        format="round_robin",
        max_participants=8,
        team_size=2,
    )
    captain = make_user("captain")
    team = team_create(user=captain, name="Team")
    TeamMember.objects.create(team=team, user=make_user("mate"))
    response = client_for(captain).post(
        f"/api/tournaments/{cup.pk}/join", {"team": team.pk}, format="json"
    )
    assert response.status_code == 201
    assert cup.participants.count() == 1 and cup.events.count() == 1
    failures = [r for r in caplog.records if r.name == "project.celery"]
    assert [r.getMessage() for r in failures] == [
        "task notifications.tasks.team_joined_send not enqueued after its transaction committed"
    ]
