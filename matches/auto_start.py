"""The automatic start: at ``starts_at`` the service starts a tournament with ``auto_start``.

The beat runs ``tournaments_auto_start`` every minute (``matches.tasks``). Each due
tournament is started in a transaction of its own by the organizer's own action,
``tournament_start`` (check-in removals and refunds, promotions, the waitlist's removal,
then the bracket), so one that fails rolls back alone and the others still start. Two
runs at once (a slow run overlapping the next, two beats) start each tournament once: the
start locks the tournament row and refuses one that is no longer in registration.

A start that fails because fewer than 2 participants are left changes nothing (the start
rolls back whole); the tournament stays in registration with ``auto_start`` turned off, so
the beat does not try again every minute (a ``tournament.updated`` event tells the
console and the live pages), and a warning is logged. The organizer then
decides: start it by hand once enough have joined, move ``starts_at`` and turn
``auto_start`` on again, or cancel it (which refunds everyone).
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.utils import timezone

from matches.errors import NotEnoughParticipants
from matches.services import tournament_start
from tournaments.errors import InvalidTransition
from tournaments.models import Tournament
from tournaments.services import tournament_auto_start_off

logger = logging.getLogger(__name__)


def tournaments_auto_start_due_ids(*, now: datetime) -> list[int]:
    """Ids of the tournaments waiting to start themselves whose ``starts_at`` has passed
    (the partial index ``tournament_auto_start_due``)."""
    return list(
        Tournament.objects.filter(
            auto_start=True, status=Tournament.Status.REGISTRATION, starts_at__lte=now
        )
        .order_by("starts_at", "pk")
        .values_list("pk", flat=True)
    )


def tournaments_auto_start(*, now: datetime | None = None) -> list[int]:
    """Start every due ``auto_start`` tournament, each in its own transaction; returns the
    ids of those this run started."""
    started = []
    for tournament_id in tournaments_auto_start_due_ids(now=now or timezone.now()):
        try:
            tournament_start(tournament_id=tournament_id, user=None)
        except InvalidTransition:
            continue  # a concurrent run, or the organizer, started or cancelled it first
        except NotEnoughParticipants:
            tournament_auto_start_off(tournament_id=tournament_id)
            logger.warning(
                "tournament %s did not start at its start time: fewer than 2 participants; "
                "left in registration with auto_start off",
                tournament_id,
            )
            continue
        started.append(tournament_id)
    return started
