"""Reads for notifications: who is told, and what about.

Tournaments and matches call this app (``notifications.services.*_notify``) from their
services, so it must not import them back: it reads their tables through their models
looked up by name in Django's app registry (``apps.get_model``, the run-time twin of a
``ForeignKey("app.Model")``), when a task runs, never at import time. The dependency
between the apps' code points one way, tournaments and matches -> notifications; what
this app reads of theirs is their schema (names used below).
"""

from __future__ import annotations

from django.apps import apps
from django.db.models import Model, QuerySet

from users.models import User


def model_get(label: str) -> type[Model]:
    """``"matches.Match"`` -> the model class, from the loaded app registry."""
    return apps.get_model(label)


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
        model_get("tournaments.ParticipantMember")
        .objects.filter(participant_id__in=participant_ids, active=True, user__is_active=True)
        .select_related("user")
        .order_by("pk")
    ):
        rosters.setdefault(member.participant_id, []).append(member.user)
    return rosters


def participant_get(*, participant_id: int) -> Model | None:
    """The participant (``tournaments.Participant``) with its tournament and team."""
    return (
        model_get("tournaments.Participant")
        .objects.select_related("tournament", "team")
        .filter(pk=participant_id)
        .first()
    )


def _matches() -> QuerySet:
    return model_get("matches.Match").objects.select_related(
        "tournament", "tournament__organizer", "participant_a", "participant_b", "winner"
    )


def match_get(*, match_id: int) -> Model | None:
    """The match (``matches.Match``) with its tournament, organizer, sides and winner."""
    return _matches().filter(pk=match_id).first()


def matches_list(*, match_ids: list[int]) -> list[Model]:
    return list(_matches().filter(pk__in=match_ids).order_by("pk"))
