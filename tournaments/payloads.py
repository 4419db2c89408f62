"""The JSON shapes of tournaments and participants, built from attributes by hand: the
payloads of events and live frames, the parts of a snapshot, and the REST answers.

The domain builds these itself (the services put them in the event log), so no REST field
can change a stored event by accident: ``tournaments.serializers`` documents the same shapes
for the OpenAPI schema, and ``tests/tournaments/test_payloads.py`` proves each function
here gives the same JSON as its serializer; a field added to one must be added to the
other. They are written by hand, not with a serializer, for speed too: a DRF serializer
spends most of its time in field machinery, and a snapshot renders hundreds of
participants.

The renderers read attributes only, so they take model instances and plain rows alike
(``values_list(..., named=True)``): the snapshot reads rows, never building models.
"""

from __future__ import annotations

from collections import defaultdict
from typing import NamedTuple

from project.encoding import datetime_text
from tournaments.models import Participant, ParticipantMember, Tournament


def tournament_render(tournament) -> dict:
    return {
        "id": tournament.id,
        "name": tournament.name,
        "game": tournament.game,
        "format": tournament.format,
        "team_size": tournament.team_size,
        "max_participants": tournament.max_participants,
        "entry_fee": tournament.entry_fee,
        "prize_split": tournament.prize_split,
        "swiss_rounds": tournament.swiss_rounds,
        "best_of": tournament.best_of,
        "best_of_final": tournament.best_of_final,
        "starts_at": datetime_text(tournament.starts_at),
        "auto_start": tournament.auto_start,
        "check_in_opens_minutes": tournament.check_in_opens_minutes,
        "status": tournament.status,
        "organizer": tournament.organizer_id,
        "participant_count": tournament.participant_count,
        "waitlist_count": tournament.waitlist_count,
        "prize_pool": tournament.prize_pool,
        "refunds_pending": tournament.refunds_pending,
        "payouts_pending": tournament.payouts_pending,
        "version": tournament.version,
        "created_at": datetime_text(tournament.created_at),
        "started_at": datetime_text(tournament.started_at),
        "completed_at": datetime_text(tournament.completed_at),
    }


def participant_render(participant, members) -> dict:
    """``members``: the roster's users (anything with ``id`` and ``username``), in order."""
    return {
        "id": participant.id,
        "name": participant.name,
        "seed": participant.seed,
        "team": participant.team_id,
        "captain": participant.captain_id,
        "members": [{"id": user.id, "username": user.username} for user in members],
        "status": participant.status,
        "checked_in": participant.checked_in,
        "waitlist_position": participant.waitlist_position,
    }


def tournament_data(tournament: Tournament) -> dict:
    """The payload of a tournament (its columns only; no participants)."""
    return tournament_render(tournament)


def participant_data(participant: Participant) -> dict:
    """The payload of a participant whose roster was loaded (``participant.loaded_roster``:
    set by the selectors' ``Prefetch(..., to_attr=...)`` or by the service that created the
    rows); issues no query."""
    return participant_render(participant, [member.user for member in participant.loaded_roster])


class UserRef(NamedTuple):
    id: int
    username: str


PARTICIPANT_COLUMNS = (
    "id",
    "name",
    "seed",
    "team_id",
    "captain_id",
    "status",
    "checked_in",
    "waitlist_position",
)


def participants_rendered(*, tournament_id: int) -> list[dict]:
    """Every participant but those who left, in ``tournament_get``'s order (seed, pk), with
    its roster (pk order): two queries of plain rows."""
    participants = (
        Participant.objects.filter(tournament_id=tournament_id)
        .exclude(status=Participant.Status.LEFT)
        .order_by("seed", "pk")
        .values_list(*PARTICIPANT_COLUMNS, named=True)
    )
    rosters = defaultdict(list)
    members = (
        ParticipantMember.objects.filter(tournament_id=tournament_id)
        .exclude(participant__status=Participant.Status.LEFT)
        .order_by("pk")
        .values_list("participant_id", "user_id", "user__username", named=True)
    )
    for member in members:
        rosters[member.participant_id].append(UserRef(member.user_id, member.user__username))
    return [participant_render(p, rosters[p.id]) for p in participants]
