"""Writes for brackets and results: the actions start, report, resolve, reset, and the
confirmation of an overdue report.

Every action is one transaction that locks the match rows it changes (the reported match
first, then the matches it feeds, in that order: ``matches.locks``), then the ledger
accounts when it pays prizes, then the tournament row last, by the guarded ``UPDATE`` that
takes the versions of the events it sends. The action checks who may do what; the
progression engine (``matches.progression``, deciding through ``matches.formats``) moves
the result through the bracket, and records it with the relations loaded with the locked
match and a constant number of statements whatever the size of the bracket. Prizes and
their payout chunks are in ``matches.payouts``.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone

from matches.errors import (
    AlreadyReported,
    InvalidResult,
    MatchClosed,
    MatchNotReady,
    NotAPlayer,
    NotEnoughParticipants,
)
from matches.formats import progress, swiss
from matches.locks import match_lock, matches_lock
from matches.models import Match, MatchReport
from matches.payloads import matches_data
from matches.progression import MATCH_STATE_FIELDS, Progression, matches_insert
from tournaments.errors import InvalidTransition, NotOrganizer
from tournaments.events import events_append, tournament_row_update
from tournaments.locks import tournament_lock
from tournaments.models import Participant, ParticipantMember, Tournament
from tournaments.payloads import participant_data, tournament_data
from users.models import User

Format = Tournament.Format
Status = Match.Status


# --- Start ----------------------------------------------------------------------------------


def tournament_start(
    *, tournament_id: int, user: User, seeding: str = "registration"
) -> Tournament:
    """Close registration, seed the participants and create every match in one go."""
    with transaction.atomic():
        tournament = tournament_lock(tournament_id)  # first: it touches no match row yet
        _organizer_check(tournament, user)
        if tournament.status != Tournament.Status.REGISTRATION:
            raise InvalidTransition(f"The tournament is {tournament.status}; it cannot start.")
        participants = list(
            Participant.objects.filter(tournament=tournament, status=Participant.Status.REGISTERED)
            .order_by("pk")
            .prefetch_related(_roster_prefetch())
        )
        if len(participants) < 2:
            raise NotEnoughParticipants("A tournament needs at least 2 participants to start.")
        if seeding == "random":
            secrets.SystemRandom().shuffle(participants)
        for seed, participant in enumerate(participants, start=1):
            participant.seed = seed
        Participant.objects.bulk_update(participants, ["seed"])

        by_seed = {p.seed: p.pk for p in participants}
        swiss_rounds = tournament.swiss_rounds
        if tournament.format == Format.SWISS:
            swiss_rounds = swiss_rounds or swiss.default_rounds(len(participants))
        planned = progress.start_plan(format=tournament.format, participants=len(participants))
        matches = matches_insert(tournament=tournament, planned=planned, by_seed=by_seed)

        # Byes complete at once, their winners moving on (in memory: nothing is saved yet).
        start = Progression(tournament, loader=lambda ids: {pk: matches[pk] for pk in ids})
        start.settle_all(matches.values())
        Match.objects.bulk_update(
            matches.values(), MATCH_STATE_FIELDS + ["loser_next_match", "loser_next_slot"]
        )
        start.notify()

        now = timezone.now()
        tournament_row_update(
            tournament,
            events=1,
            set_sql="status = %s, started_at = %s, swiss_rounds = %s",
            set_params=[Tournament.Status.IN_PROGRESS, now, swiss_rounds],
        )
        tournament.started_at, tournament.swiss_rounds = now, swiss_rounds
        for match in matches.values():
            match.loaded_reports = []
        events_append(
            tournament=tournament,
            events=[
                (
                    "tournament.started",
                    {
                        "tournament": tournament_data(tournament),
                        "participants": [participant_data(p) for p in participants],
                        "matches": matches_data(_ordered(matches.values())),
                    },
                )
            ],
        )
    return tournament


# --- Results --------------------------------------------------------------------------------


def match_report(
    *, match_id: int, user: User, winner_id: int | None, scores: list[int] | None = None
) -> Match:
    """A side reports the result; the second agreeing report completes the match."""
    with transaction.atomic():
        match = match_lock(match_id)
        tournament = match.tournament
        participant_id = _reporting_side(match, user)
        if tournament.status != Tournament.Status.IN_PROGRESS:
            raise MatchClosed(f"The tournament is {tournament.status}.")
        if match.status == Status.PENDING:
            raise MatchNotReady("This match is still waiting for a participant.")
        if match.status in (Status.COMPLETED, Status.DISPUTED):
            raise MatchClosed(f"This match is {match.status}; only the organizer can change it.")
        if any(r.participant_id == participant_id for r in match.loaded_reports):
            raise AlreadyReported("Your side has already reported this match.")
        _result_check(match, tournament, winner_id, scores)

        report = MatchReport.objects.create(
            match=match,
            participant_id=participant_id,
            reported_by=user,
            winner_id=winner_id,
            scores=scores,
        )
        other = next((r for r in match.loaded_reports if r.participant_id != participant_id), None)
        match.loaded_reports.append(report)

        progression = Progression(tournament, loader=matches_lock)
        if other is None:
            match.status = Status.AWAITING_CONFIRMATION
            progression.touch(match, "match.updated")
        elif other.winner_id == winner_id and (
            not scores or not other.scores or scores == other.scores
        ):
            progression.complete(match, winner_id, scores or other.scores)
        else:
            match.status = Status.DISPUTED
            progression.touch(match, "match.disputed")
        progression.save()
    return match


def match_resolve(
    *, match_id: int, user: User, winner_id: int | None, scores: list[int] | None = None
) -> Match:
    """The organizer settles a dispute, or overrides any result not yet built upon."""
    with transaction.atomic():
        match = match_lock(match_id)
        tournament = match.tournament
        _organizer_check(tournament, user)
        if tournament.status != Tournament.Status.IN_PROGRESS:
            raise MatchClosed(f"The tournament is {tournament.status}.")
        if match.status == Status.PENDING:
            raise MatchNotReady("This match is still waiting for a participant.")
        if match.is_bye:
            raise MatchClosed("A bye has no result to settle.")
        _result_check(match, tournament, winner_id, scores)
        progression = Progression(tournament, loader=matches_lock)
        if match.status == Status.COMPLETED:
            progression.revert(match, keep_reports=True)
        progression.complete(match, winner_id, scores)
        progression.save()
    return match


def match_reset(*, match_id: int, user: User) -> Match:
    """Back to ``ready``, reports dropped, provided nothing downstream has a result yet."""
    with transaction.atomic():
        match = match_lock(match_id)
        tournament = match.tournament
        _organizer_check(tournament, user)
        if tournament.status != Tournament.Status.IN_PROGRESS:
            raise MatchClosed(f"The tournament is {tournament.status}.")
        if match.is_bye:
            raise MatchClosed("A bye cannot be reset.")
        if match.status == Status.PENDING:
            raise MatchNotReady("This match is still waiting for a participant.")
        progression = Progression(tournament, loader=matches_lock)
        progression.revert(match, keep_reports=False)
        progression.save()
    return match


def match_confirm_overdue(*, match_id: int, reported_before: datetime) -> Match | None:
    """Confirm a one-sided report made before ``reported_before`` as reported, so that a
    side that never answers cannot stall the bracket. None if the match moved on meanwhile
    (confirmed, disputed, reset): the deadline then no longer applies."""
    with transaction.atomic():
        match = match_lock(match_id)
        tournament = match.tournament
        if (
            tournament.status != Tournament.Status.IN_PROGRESS
            or match.status != Status.AWAITING_CONFIRMATION
            or len(match.loaded_reports) != 1
            or match.loaded_reports[0].at > reported_before
        ):
            return None
        report = match.loaded_reports[0]
        progression = Progression(tournament, loader=matches_lock)
        progression.complete(match, report.winner_id, report.scores)
        progression.save()
    return match


# --- Helpers --------------------------------------------------------------------------------


def _roster_prefetch() -> Prefetch:
    return Prefetch(
        "roster",
        queryset=ParticipantMember.objects.select_related("user").order_by("pk"),
        to_attr="loaded_roster",
    )


def _reporting_side(match: Match, user: User) -> int:
    for participant in (match.participant_a, match.participant_b):
        if participant is not None and participant.captain_id == user.pk:
            return participant.pk
    raise NotAPlayer("Only a player of either side (the captain, for teams) can report.")


def _result_check(
    match: Match, tournament: Tournament, winner_id: int | None, scores: list[int] | None
) -> None:
    if winner_id is None:
        if match.bracket != Match.Bracket.GROUP:
            raise InvalidResult(
                "Elimination matches cannot end in a draw: name the winner.",
                fields={"winner": ["Required in elimination matches."]},
            )
    elif match.side_of(winner_id) is None:
        raise InvalidResult(
            f"Participant {winner_id} does not play in this match.",
            fields={"winner": [f"One of {match.participant_a_id} or {match.participant_b_id}."]},
        )
    if scores is None:
        return
    if len(scores) != 2:
        raise InvalidResult("Scores are [side a, side b].", fields={"scores": ["Two numbers."]})
    # The scores must tell the same story as the winner: the side named has more, and a
    # draw is level. Stored otherwise, standings and spectators would show two results.
    score_a, score_b = scores
    if winner_id is None and score_a != score_b:
        raise InvalidResult(
            f"A draw has level scores, not {score_a}-{score_b}.",
            fields={"scores": ["Level scores for a draw, or name the winner."]},
        )
    if winner_id is not None:
        winner_score, loser_score = (
            (score_a, score_b) if winner_id == match.participant_a_id else (score_b, score_a)
        )
        if winner_score <= loser_score:
            raise InvalidResult(
                f"The winner's score must be the higher one, not {score_a}-{score_b}.",
                fields={"scores": [f"Participant {winner_id}'s score must be higher."]},
            )


def _organizer_check(tournament: Tournament, user: User) -> None:
    if tournament.organizer_id != user.pk and not user.is_staff:
        raise NotOrganizer("Only the tournament's organizer can do this.")


def _ordered(matches: Iterable[Match]) -> list[Match]:
    order = {b: i for i, b in enumerate(Match.Bracket.values)}
    return sorted(matches, key=lambda m: (order[m.bracket], m.round, m.position))
