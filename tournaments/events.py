"""The tournament event log: one row per committed change, numbered without gaps.

The service that changes a tournament bumps ``Tournament.version`` in the same guarded
``UPDATE`` that makes the change (which also serialises concurrent changes of one
tournament on its row lock), then appends the event with that number here, inside the
same transaction. A rolled-back change therefore leaves neither an event nor a gap.
"""

from tournaments.models import Tournament, TournamentEvent


def event_append(*, tournament: Tournament, name: str, data: dict) -> TournamentEvent:
    return TournamentEvent.objects.create(
        tournament_id=tournament.pk, version=tournament.version, name=name, data=data
    )
