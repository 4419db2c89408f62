"""The reads of the live sockets, each returning frames ready to send.

A snapshot is read in one REPEATABLE READ transaction, so its ``version`` and its objects
are the same moment of the log: the consumer then drops the live events up to that
version and sends the rest (see ``consumers.live``). Reads run on the live executor
(``consumers.hub.db_call``), never on the event loop.
"""

from __future__ import annotations

from typing import NamedTuple

from rest_framework.authtoken.models import Token

from matches.formats import progress
from matches.models import Match
from matches.payloads import match_data
from matches.selectors import match_get, standings_get
from matches.snapshots import snapshots
from project.encoding import json_text
from tournaments.events import LiveEvent, live_event
from tournaments.models import Participant, ParticipantMember, Tournament
from tournaments.selectors import consistent_read, events_since, tournament_get


def tournament_snapshot(
    *, tournament_id: int, at_least: int | None = None, started_after: float | None = None
) -> tuple[int, str]:
    """(version, the ``snapshot`` frame), from the process's snapshot cache (see
    ``matches.snapshots`` for ``at_least`` and ``started_after``). Raises
    TournamentNotFound."""
    snapshot = snapshots.get(tournament_id, at_least=at_least, started_after=started_after)
    return snapshot.version, snapshot.frame


def tournament_snapshot_cached(
    *, tournament_id: int, at_least: int | None = None, started_after: float | None = None
) -> tuple[int, str] | None:
    """``tournament_snapshot`` if the cache has one that will do, else None; no query, so
    it may run on the event loop."""
    snapshot = snapshots.cached(tournament_id, at_least=at_least, started_after=started_after)
    return None if snapshot is None else (snapshot.version, snapshot.frame)


def tournament_events_after(
    *, tournament_id: int, since: int, upto: int | None = None, limit: int | None = None
) -> tuple[int, list[LiveEvent]] | None:
    """(current version, the events after ``since`` up to ``upto``), in order.

    None when the log cannot say it (the client must take a snapshot instead): ``since``
    is older than the oldest kept event, ahead of the tournament (a log from another
    database), or more than ``limit`` events behind (a snapshot is then cheaper).
    Raises TournamentNotFound.
    """
    with consistent_read():
        version = (
            Tournament.objects.filter(pk=tournament_id).values_list("version", flat=True).first()
        )
        if version is None:
            tournament_get(tournament_id=tournament_id)  # raises the domain's not-found
        if since > version:
            return None
        last = version if upto is None else min(upto, version)
        if limit is not None and last - since > limit:
            return None
        if last <= since:
            return version, []
        rows = list(
            events_since(tournament_id=tournament_id, since=since)
            .filter(version__lte=last)
            .values_list("version", "name", "data")
        )
    if len(rows) != last - since or (rows and rows[0][0] != since + 1):
        return None  # pruned
    return version, [live_event(version=v, name=name, data=data) for v, name, data in rows]


def tournament_versions(*, tournament_ids: list[int]) -> dict[int, int]:
    return dict(Tournament.objects.filter(pk__in=tournament_ids).values_list("pk", "version"))


def match_access(*, match_id: int, user) -> tuple[int, bool]:
    """(the match's tournament, whether ``user`` may watch and act on it: a player of
    either side, the organizer, or staff). Raises MatchNotFound."""
    match = Match.objects.filter(pk=match_id).select_related("tournament").first()
    if match is None:
        match_get(match_id=match_id)  # raises the domain's not-found
    tournament = match.tournament
    if tournament.is_run_by(user):
        return tournament.pk, True
    sides = [pk for pk in (match.participant_a_id, match.participant_b_id) if pk]
    plays = ParticipantMember.objects.filter(participant_id__in=sides, user_id=user.pk).exists()
    return tournament.pk, plays


def match_snapshot(*, match_id: int) -> tuple[int, str]:
    """(the tournament's version, ``{"type": "snapshot", "version": V, "match": {...}}``)."""
    with consistent_read():
        match = match_get(match_id=match_id)
        version = Tournament.objects.values_list("version", flat=True).get(pk=match.tournament_id)
        frame = json_text({"type": "snapshot", "version": version, "match": match_data(match)})
    return version, frame


def token_user(*, key: str):
    """The active user holding this DRF token, or None."""
    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        return None
    return token.user


# --- The live page (consumers.views) -----------------------------------------------------


class LivePage(NamedTuple):
    """What ``/tournaments/{id}/live`` renders before its socket takes over.

    ``version`` and ``frame`` are a snapshot (the socket's ``snapshot`` frame, as text) at
    ``version`` or later than ``results_version``; ``standings`` (round robin and swiss once
    started, else None) and ``placements`` (a completed tournament, else None) are the
    server's, both as of ``results_version``: the page uses them once it has applied that
    version, as it does the answers of ``GET .../standings``.
    """

    version: int
    frame: str
    results_version: int
    standings: list[dict] | None
    placements: list[list[int]] | None


GROUP_FORMATS = (Tournament.Format.ROUND_ROBIN, Tournament.Format.SWISS)


def tournament_live_page(*, tournament_id: int) -> LivePage:
    """The live page's reads. Raises TournamentNotFound.

    The results are read first, in one consistent read with their version; the snapshot
    then comes from the process's cache when it has one at least that recent (a page that
    many spectators open costs one snapshot read per version), so the page's snapshot is
    never older than its standings.
    """
    with consistent_read():
        tournament = Tournament.objects.filter(pk=tournament_id).first()
        if tournament is None:
            tournament_get(tournament_id=tournament_id)  # raises the domain's not-found
        started = tournament.status in (Tournament.Status.IN_PROGRESS, Tournament.Status.COMPLETED)
        standings = placements = None
        if started and tournament.format in GROUP_FORMATS:
            standings = standings_get(tournament=tournament)  # as GET .../standings answers
        if tournament.status == Tournament.Status.COMPLETED:
            placements = _final_placements(tournament)
    version, frame = tournament_snapshot(tournament_id=tournament_id, at_least=tournament.version)
    return LivePage(
        version=version,
        frame=frame,
        results_version=tournament.version,
        standings=standings,
        placements=placements,
    )


def _final_placements(tournament: Tournament) -> list[list[int]]:
    """The placements that ``tournament.completed`` carried, read again: the same function
    of the same rows as ``matches.progression`` computed them at the completion (every
    match, the seeded participants), which no longer change once the tournament is
    completed (results cannot be reset then). The event itself may have been pruned."""
    seeds = dict(
        Participant.objects.filter(tournament=tournament, seed__isnull=False).values_list(
            "pk", "seed"
        )
    )
    matches = list(Match.objects.filter(tournament=tournament))
    return progress.placements(format=tournament.format, matches=matches, seeds=seeds)
