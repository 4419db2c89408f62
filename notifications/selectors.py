"""Reads for notifications: who is told, and what about."""

from __future__ import annotations

from matches.models import Match
from tournaments.models import Participant
from users.models import User


def players_of(*, participant_ids: list[int]) -> list[User]:
    """The players on the active rosters of the given participants, each once, by id."""
    return list(
        User.objects.filter(
            participantmember__participant_id__in=participant_ids,
            participantmember__active=True,
            is_active=True,
        )
        .distinct()
        .order_by("pk")
    )


def participant_get(*, participant_id: int) -> Participant | None:
    return (
        Participant.objects.select_related("tournament", "team").filter(pk=participant_id).first()
    )


def match_get(*, match_id: int) -> Match | None:
    return (
        Match.objects.select_related(
            "tournament", "tournament__organizer", "participant_a", "participant_b", "winner"
        )
        .filter(pk=match_id)
        .first()
    )
