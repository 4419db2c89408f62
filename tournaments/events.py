"""The tournament event log: one row per committed change, numbered without gaps.

A change to a tournament is one guarded ``UPDATE`` of its row (``tournament_row_update``)
that applies the change, checks the rule it enforces, and takes the next event versions,
all in one statement. The row lock it takes serialises concurrent changes of one
tournament, so versions come out consecutive. The change's events are then appended
(``events_append``) in the same transaction: a rolled-back change leaves neither an event
nor a gap, and nothing commits without its event.

Publishing. Once the transaction has committed (``transaction.on_commit``: never from
inside it, and nothing for a rolled-back change), the change's events go to the channel
layer as ONE group message to ``live.tournament.<id>``, each event already encoded as the
WebSocket frame spectators receive (``event_frame``). The committing thread hands it to the
process's publisher (``tournaments.publish``), which sends it from one long-lived event
loop: the request does not wait for Redis, and no publish opens a connection. The group's
members are not consumers but one hub per server process (``consumers.hub``), which hands
the same string to every local spectator: a change costs one JSON encoding in total and
one layer delivery per process, whatever the number of spectators. The layer delivers at
most once; the log is what makes that safe: a hub that sees a version gap reads the
missing events here, and a client resumes with ``since``.

Retention. Events are kept ``LIVE_EVENT_RETENTION_DAYS`` (default 7) days; ``events_prune``
(``manage.py events_prune``) deletes older ones, always a prefix of a tournament's log, so
a log is either complete after a version or says that it is not (readers then send a
snapshot, see ``consumers.selectors``).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from django.db import connection, transaction
from django.db.models import Field, Max

from project.encoding import json_text
from tournaments.models import Tournament, TournamentEvent
from tournaments.publish import publisher

# A version as clients send it (``?since=V`` over REST and WebSocket): ASCII digits only
# (str.isdigit() also takes "²", which int() refuses), at most 18, so it fits the BIGINT.
VERSION_PATTERN = re.compile(r"[0-9]{1,18}")

logger = logging.getLogger(__name__)

# The type of the channel-layer message that carries a committed change's events.
LIVE_MESSAGE_TYPE = "live.events"


class LiveEvent(NamedTuple):
    """One event as it travels to live clients: ``frame`` is the encoded WebSocket frame."""

    version: int
    name: str
    match_id: int | None  # the match it is about (for /ws/matches/{id}/), if any
    frame: str


def tournament_group(tournament_id: int) -> str:
    return f"live.tournament.{tournament_id}"


def event_frame(*, version: int, name: str, data: dict) -> str:
    """The frame of API.md's ``{"type": "event", ...}``: the one encoding of an event."""
    return json_text({"type": "event", "version": version, "event": name, "data": data})


def live_event(*, version: int, name: str, data: dict) -> LiveEvent:
    match = data.get("match") if isinstance(data, dict) else None
    match_id = match.get("id") if isinstance(match, dict) else None
    return LiveEvent(version, name, match_id, event_frame(version=version, name=name, data=data))


# What the guarded UPDATE reads back onto the ``Tournament`` it was given: every counter a
# change can move, so the caller acts on the locked row's values without a SELECT.
_RETURNED_FIELDS = (
    "version",
    "status",
    "participant_count",
    "prize_pool",
    "refunds_pending",
    "payouts_pending",
    "waitlist_count",
)


def tournament_row_update(
    tournament: Tournament,
    *,
    events: int,
    values: Mapping[str, object] | None = None,
    increments: Mapping[str, int | Decimal] | None = None,
    when_status: str | None = None,
    when_room_for: int = 0,
    when_at_least: Mapping[str, int] | None = None,
) -> bool:
    """Change the tournament row and take ``events`` new versions, in one guarded statement.

    The change: ``values`` sets fields (``{"status": ..., "completed_at": now}``);
    ``increments`` adds to counters (``{"participant_count": 1, "prize_pool": fee}``; a
    negative amount takes away). It applies only if the row, as locked by the statement,
    is ``when_status``, has room for ``when_room_for`` more participants (``participant_count
    + n <= max_participants``) and holds at least ``when_at_least`` (``{"payouts_pending":
    3}``). The counters of ``_RETURNED_FIELDS`` are copied back onto ``tournament``, so a
    refused change says why; False if it was refused (nothing changed).

    Callers name fields, never SQL. The statement is put together here rather than by the
    ORM (``filter(...).update(...)`` with ``F`` and ``Q``) because the ORM cannot read an
    updated row back (it has no ``RETURNING`` for updates: one more SELECT per write), and
    because building the UPDATE alone costs the ORM more CPU than this whole statement,
    sent and answered (``bench/statements.py``; figures in bench/README.md).
    """
    assignments, params = [], []
    for name, value in (values or {}).items():
        assignments.append(f"{_column(name)} = %s")
        params.append(_field(name).get_db_prep_save(value, connection))
    for name, amount in (increments or {}).items():
        assignments.append(f"{_column(name)} = {_column(name)} + %s")
        params.append(amount)
    assignments.append(f"{_column('version')} = {_column('version')} + %s")
    params.append(events)

    conditions, condition_params = [f"{_column('id')} = %s"], [tournament.pk]
    if when_status is not None:
        conditions.append(f"{_column('status')} = %s")
        condition_params.append(when_status)
    if when_room_for:
        conditions.append(f"{_column('participant_count')} + %s <= {_column('max_participants')}")
        condition_params.append(when_room_for)
    for name, amount in (when_at_least or {}).items():
        conditions.append(f"{_column(name)} >= %s")
        condition_params.append(amount)

    returned = ", ".join(_column(name) for name in _RETURNED_FIELDS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {connection.ops.quote_name(Tournament._meta.db_table)} "
            f"SET {', '.join(assignments)} "
            f"WHERE {' AND '.join(conditions)} RETURNING {returned}",
            [*params, *condition_params],
        )
        row = cursor.fetchone()
    if row is None:
        return False
    for name, value in zip(_RETURNED_FIELDS, row, strict=True):
        setattr(tournament, name, value)
    return True


@functools.cache
def _field(name: str) -> Field:
    """The tournament's concrete field ``name``; an unknown name raises FieldDoesNotExist."""
    return Tournament._meta.get_field(name)


@functools.cache
def _column(name: str) -> str:
    """The quoted column of the tournament's field ``name`` (both backends quote alike)."""
    return connection.ops.quote_name(_field(name).column)


def events_append(
    *, tournament: Tournament, events: list[tuple[str, dict]]
) -> list[TournamentEvent]:
    """Append the events that the last ``tournament_row_update`` took versions for."""
    first = tournament.version - len(events) + 1
    rows = TournamentEvent.objects.bulk_create(
        TournamentEvent(tournament_id=tournament.pk, version=first + i, name=name, data=data)
        for i, (name, data) in enumerate(events)
    )
    if rows:
        events_publish_on_commit(
            tournament_id=tournament.pk,
            events=[(row.version, row.name, row.data) for row in rows],
        )
    return rows


def events_publish_on_commit(*, tournament_id: int, events: list[tuple[int, str, dict]]) -> None:
    """Publish the events when (and only if) the current transaction commits.

    ``robust``: the change has committed by then, so a failure to publish (Redis away) must
    not turn the caller's success into an error; it is logged, and live clients recover the
    events from the log (the hubs' sweep, or ``since``).
    """

    def events_publish() -> None:  # a named function: robust on_commit logs its __qualname__
        _events_publish(tournament_id, events)

    transaction.on_commit(events_publish, robust=True)


def _events_publish(tournament_id: int, events: list[tuple[int, str, dict]]) -> None:
    """Hand the change's one layer message to this process's publisher
    (``tournaments.publish``): it returns at once, and the message leaves from the
    publisher's long-lived loop, after the ones published before it for this tournament."""
    message = {
        "type": LIVE_MESSAGE_TYPE,
        "tournament": tournament_id,
        "events": [
            list(live_event(version=version, name=name, data=data))
            for version, name, data in events
        ],
    }
    publisher.publish(tournament_group(tournament_id), message)


def events_prune(*, before: datetime) -> int:
    """Delete the events created before ``before``; returns how many.

    Per tournament it deletes every version up to the newest one older than ``before``, so
    what is left is always the log's tail (``created_at`` follows the version order up to
    clock skew between servers; cutting at a version keeps the log gap-free anyway).
    """
    cuts = (
        TournamentEvent.objects.filter(created_at__lt=before)
        .values("tournament_id")
        .annotate(upto=Max("version"))
        .values_list("tournament_id", "upto")
    )
    deleted = 0
    for tournament_id, upto in cuts:
        count, _ = TournamentEvent.objects.filter(
            tournament_id=tournament_id, version__lte=upto
        ).delete()
        deleted += count
    return deleted
