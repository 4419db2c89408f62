"""The tournament event log: one row per committed change, numbered without gaps.

A change to a tournament is one guarded ``UPDATE`` of its row (``tournament_row_update``)
that applies the change, checks the rule it enforces, and takes the next event versions,
all in one statement. The row lock it takes serialises concurrent changes of one
tournament, so versions come out consecutive. The change's events are then appended
(``events_append``) in the same transaction: a rolled-back change leaves neither an event
nor a gap, and nothing commits without its event.
"""

from django.db import connection

from tournaments.models import Tournament, TournamentEvent


def tournament_row_update(
    tournament: Tournament,
    *,
    events: int,
    set_sql: str = "",
    set_params: list | tuple = (),
    where_sql: str = "TRUE",
    where_params: list | tuple = (),
) -> bool:
    """Apply ``set_sql`` to the tournament row if ``where_sql`` holds, taking ``events``
    new versions. Copies the counters it returns onto ``tournament``; False if the guard
    refused (nothing changed)."""
    table = Tournament._meta.db_table
    assignments = ", ".join(filter(None, [set_sql, "version = version + %s"]))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {assignments} WHERE id = %s AND ({where_sql}) "
            "RETURNING version, status, participant_count, prize_pool, refunds_pending",
            [*set_params, events, tournament.pk, *where_params],
        )
        row = cursor.fetchone()
    if row is None:
        return False
    (
        tournament.version,
        tournament.status,
        tournament.participant_count,
        tournament.prize_pool,
        tournament.refunds_pending,
    ) = row
    return True


def events_append(
    *, tournament: Tournament, events: list[tuple[str, dict]]
) -> list[TournamentEvent]:
    """Append the events that the last ``tournament_row_update`` took versions for."""
    first = tournament.version - len(events) + 1
    return TournamentEvent.objects.bulk_create(
        TournamentEvent(tournament_id=tournament.pk, version=first + i, name=name, data=data)
        for i, (name, data) in enumerate(events)
    )
