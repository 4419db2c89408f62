"""Reads for notifications: who is told, and what about."""

from __future__ import annotations

from django.db.models import QuerySet

from matches.models import Match
from tournaments.models import Participant, ParticipantMember
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


def rosters_of(*, participant_ids: list[int]) -> dict[int, list[User]]:
    """``{participant id: the players on its active roster}``, in one query."""
    rosters: dict[int, list[User]] = {}
    for member in (
        ParticipantMember.objects.filter(
            participant_id__in=participant_ids, active=True, user__is_active=True
        )
        .select_related("user")
        .order_by("pk")
    ):
        rosters.setdefault(member.participant_id, []).append(member.user)
    return rosters


def participant_get(*, participant_id: int) -> Participant | None:
    return (
        Participant.objects.select_related("tournament", "team").filter(pk=participant_id).first()
    )


def _matches() -> QuerySet[Match]:
    return Match.objects.select_related(
        "tournament", "tournament__organizer", "participant_a", "participant_b", "winner"
    )


def match_get(*, match_id: int) -> Match | None:
    return _matches().filter(pk=match_id).first()


def matches_list(*, match_ids: list[int]) -> list[Match]:
    return list(_matches().filter(pk__in=match_ids).order_by("pk"))
