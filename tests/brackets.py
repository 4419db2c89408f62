"""Big brackets for tests, made at the cost of a few statements.

Registering 1,024 players through ``user_register`` and ``tournament_join`` costs a
password hash, a wallet, a token and a transaction with its event per player: seconds
that tell nothing about what the tests measure (results, events, the page). Here the
players and their registrations are inserted in bulk, in the state the services leave
them in for a free solo tournament; the bracket is then started through the service.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from itertools import count

from django.db import connection

from matches.models import Match
from matches.progression import Progression
from matches.services import tournament_start
from tournaments.models import Participant, ParticipantMember, Tournament
from tournaments.services import tournament_create
from users.models import User

_batches = count(1)


def free_cup_registered(*, organizer: User, format: str, players: int) -> Tournament:
    """A free solo tournament in registration with ``players`` participants (``p1``...),
    each its own captain with a one-member roster, as ``tournament_join`` leaves them."""
    tournament = tournament_create(
        organizer=organizer,
        name=f"Big {format.replace('_', ' ')} cup",
        format=format,
        max_participants=players,
    )
    batch = next(_batches)
    users = User.objects.bulk_create(
        User(username=f"cup{tournament.pk}-{batch}-p{i}", password="!") for i in range(players)
    )
    participants = Participant.objects.bulk_create(
        Participant(tournament=tournament, captain=user, name=f"p{i + 1}")
        for i, user in enumerate(users)
    )
    ParticipantMember.objects.bulk_create(
        ParticipantMember(
            participant=participant, tournament=tournament, user_id=participant.captain_id
        )
        for participant in participants
    )
    Tournament.objects.filter(pk=tournament.pk).update(participant_count=players)
    tournament.participant_count = players
    return tournament


def free_cup_started(*, organizer: User, format: str, players: int) -> Tournament:
    tournament = free_cup_registered(organizer=organizer, format=format, players=players)
    return tournament_start(tournament_id=tournament.pk, user=organizer)


def results_fast_forward(
    *, tournament: Tournament, keep: Iterable[int] = (), passes: int | None = None
) -> None:
    """Complete every match of the bracket but those in ``keep`` (and the matches they
    feed), side a winning, without events: the state that playing them out through the
    services leaves, reached in one round trip instead of thousands of transactions.
    ``passes``: stop after completing that many waves of ready matches (1: the first
    round; 2: the second, and the first of the losers bracket...).

    No event is appended and the version does not move, so call it before anything reads
    the tournament (the servers cache what they read by version).

    It drives the services' own progression engine (``matches.progression.Progression``)
    on matches held in memory, exactly as ``tournament_start`` completes byes, so winners
    and losers land where the services would put them. Side a winning every grand final keeps the
    second grand final from being needed."""
    matches = {m.pk: m for m in Match.objects.filter(tournament=tournament)}
    for match in matches.values():
        match.loaded_reports = []
    progression = Progression(tournament, loader=lambda ids: {pk: matches[pk] for pk in ids})
    blocked = set(keep)
    waves = 0
    while passes is None or waves < passes:
        waves += 1
        playable = [
            m for m in matches.values() if m.status == Match.Status.READY and m.pk not in blocked
        ]
        if not playable:
            break
        for match in playable:
            progression.complete(match, match.participant_a_id, [1, 0])
    # One UPDATE per match in one round trip: Django's bulk_update builds a CASE per field
    # and row, which costs seconds for the 2,047 matches of a 1,024-player bracket.
    changed = [m for m in matches.values() if m.pk in progression.changed]
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {Match._meta.db_table} SET participant_a_id = %s, participant_b_id = %s, "
            "status = %s, winner_id = %s, scores = %s, completed_at = %s WHERE id = %s",
            [
                (
                    m.participant_a_id,
                    m.participant_b_id,
                    m.status,
                    m.winner_id,
                    json.dumps(m.scores) if m.scores is not None else None,
                    m.completed_at,
                    m.pk,
                )
                for m in changed
            ],
        )
