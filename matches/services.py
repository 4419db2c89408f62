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
from django.utils import timezone

from matches.errors import (
    AlreadyDisqualified,
    AlreadyReported,
    InvalidResult,
    MatchClosed,
    MatchNotReady,
    NotAPlayer,
    NotASide,
    NotEnoughParticipants,
    ParticipantNotFound,
)
from matches.formats import progress, swiss
from matches.locks import match_lock, matches_lock, participant_matches_lock
from matches.models import Match, MatchReport
from matches.payloads import matches_data
from matches.progression import MATCH_STATE_FIELDS, Progression, matches_insert
from tournaments.errors import (
    InvalidTransition,
    NotRegistered,
    TournamentNotFound,
)
from tournaments.events import events_append, tournament_row_update
from tournaments.locks import tournament_lock
from tournaments.models import Participant, Tournament
from tournaments.payloads import participant_data, tournament_data
from tournaments.selectors import roster_prefetch
from tournaments.services import organizer_check, registrations_close
from users.models import User

Format = Tournament.Format
Status = Match.Status


# --- Start ----------------------------------------------------------------------------------


def tournament_start(
    *, tournament_id: int, user: User | None, seeding: str = "registration"
) -> Tournament:
    """Close registration, seed the participants and create every match in one go.

    ``user`` None is the service itself (``auto_start``). Registration closes first
    (``registrations_close``: check-in removals with their refunds, promotions from the
    waitlist, the waitlist's removal); a start that then refuses rolls all of it back.
    """
    with transaction.atomic():
        tournament = tournament_lock(tournament_id)  # first: it touches no match row yet
        if user is not None:
            organizer_check(tournament, user)
        if tournament.status != Tournament.Status.REGISTRATION:
            raise InvalidTransition(f"The tournament is {tournament.status}; it cannot start.")
        registrations_close(tournament)
        participants = list(
            Participant.objects.filter(tournament=tournament, status=Participant.Status.REGISTERED)
            .order_by("pk")
            .prefetch_related(roster_prefetch())
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
            values={
                "status": Tournament.Status.IN_PROGRESS,
                "started_at": now,
                "swiss_rounds": swiss_rounds,
            },
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
    *,
    match_id: int,
    user: User,
    winner_id: int | None,
    scores: list[int] | None = None,
    games: list[list[int]] | None = None,
) -> Match:
    """A side reports the result; the second agreeing report completes the match.

    In a best-of series (``match.best_of`` > 1) reports agree when they name the same
    winner and the same series score; the games they list do not decide agreement, and the
    match keeps them when they do not contradict each other (``_agreed_games``)."""
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
        _result_check(match, tournament, winner_id, scores, games)

        report = MatchReport.objects.create(
            match=match,
            participant_id=participant_id,
            reported_by=user,
            winner_id=winner_id,
            scores=scores,
            games=games,
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
            progression.complete(
                match, winner_id, scores or other.scores, _agreed_games(games, other.games)
            )
        else:
            match.status = Status.DISPUTED
            progression.touch(match, "match.disputed")
        progression.save()
    return match


def match_resolve(
    *,
    match_id: int,
    user: User,
    winner_id: int | None,
    scores: list[int] | None = None,
    games: list[list[int]] | None = None,
) -> Match:
    """The organizer settles a dispute, or overrides any result not yet built upon (a
    series result by the same rules as a report)."""
    with transaction.atomic():
        match = match_lock(match_id)
        tournament = match.tournament
        organizer_check(tournament, user)
        if tournament.status != Tournament.Status.IN_PROGRESS:
            raise MatchClosed(f"The tournament is {tournament.status}.")
        if match.status == Status.PENDING:
            raise MatchNotReady("This match is still waiting for a participant.")
        if match.is_bye:
            raise MatchClosed("A bye has no result to settle.")
        _result_check(match, tournament, winner_id, scores, games)
        progression = Progression(tournament, loader=matches_lock)
        if match.status == Status.COMPLETED:
            progression.revert(match, keep_reports=True)
        progression.complete(match, winner_id, scores, games)
        progression.save()
    return match


def match_reset(*, match_id: int, user: User) -> Match:
    """Back to ``ready``, reports dropped, provided nothing downstream has a result yet."""
    with transaction.atomic():
        match = match_lock(match_id)
        tournament = match.tournament
        organizer_check(tournament, user)
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
        progression.complete(match, report.winner_id, report.scores, report.games)
        progression.save()
    return match


# --- Helpers --------------------------------------------------------------------------------


def _reporting_side(match: Match, user: User) -> int:
    """The side ``user`` acts for (reports, forfeits). A disqualified side acts no more: its
    match is ready again only after an organizer's reset, for the organizer to settle."""
    for participant in (match.participant_a, match.participant_b):
        if participant is not None and participant.captain_id == user.pk:
            if participant.status == Participant.Status.DISQUALIFIED:
                raise NotAPlayer(
                    f"{participant.name} is disqualified: the organizer settles this match."
                )
            return participant.pk
    raise NotAPlayer("Only a player of either side (the captain, for teams) can report.")


def _result_check(
    match: Match,
    tournament: Tournament,
    winner_id: int | None,
    scores: list[int] | None,
    games: list[list[int]] | None = None,
) -> None:
    if match.best_of > 1:
        _series_check(match, winner_id, scores, games)
        return
    if games is not None:
        raise InvalidResult(
            "Only a best-of series lists its games; this match is one game.",
            fields={"games": ["Leave out (or null) in a match of one game."]},
        )
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


def _series_check(
    match: Match, winner_id: int | None, scores: list[int] | None, games: list[list[int]] | None
) -> None:
    """A best-of-N result: a winner (no draws), the finished series score, and the games
    (optional) that add up to it and stop when the series was decided."""
    needed = (match.best_of + 1) // 2
    if winner_id is None:
        raise InvalidResult(
            f"A best-of-{match.best_of} series cannot be drawn: name the winner.",
            fields={"winner": ["Required in a best-of series."]},
        )
    if match.side_of(winner_id) is None:
        raise InvalidResult(
            f"Participant {winner_id} does not play in this match.",
            fields={"winner": [f"One of {match.participant_a_id} or {match.participant_b_id}."]},
        )
    if not _is_pair(scores):
        raise InvalidResult(
            f"A best-of-{match.best_of} result needs the series score [side a, side b].",
            fields={"scores": [f"Required: games won by each side, the winner {needed}."]},
        )
    winner_side = match.side_of(winner_id)
    won, lost = scores if winner_side == "a" else scores[::-1]
    if won != needed or lost >= needed:
        raise InvalidResult(
            f"{scores[0]}-{scores[1]} is not a finished best-of-{match.best_of} series won by "
            f"participant {winner_id}.",
            fields={"scores": [f"Participant {winner_id} has {needed}, the other side fewer."]},
        )
    if games is None:
        return
    if not isinstance(games, list) or not all(_is_pair(game) for game in games):
        raise InvalidResult(
            "Games are a list of [side a, side b] scores.",
            fields={"games": ["Each game is [side a, side b], whole numbers of at least 0."]},
        )
    if any(a == b for a, b in games):
        raise InvalidResult(
            "A game of a series cannot be drawn.",
            fields={"games": ["Each game has a winner: no level scores."]},
        )
    won_by_a = sum(1 for a, b in games if a > b)
    if [won_by_a, len(games) - won_by_a] != list(scores):
        raise InvalidResult(
            f"The games add up to {won_by_a}-{len(games) - won_by_a}, not {scores[0]}-{scores[1]}.",
            fields={"games": ["The games won by each side must equal the series score."]},
        )
    last_a, last_b = games[-1]
    if (last_a > last_b) != (winner_side == "a"):
        raise InvalidResult(
            "A game is listed after the series was decided.",
            fields={"games": ["The series ends with the game that decided it."]},
        )


def _is_pair(value: object) -> bool:
    """``[a, b]``: two whole numbers of at least 0 (booleans are not numbers here)."""
    return (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in value)
    )


def _agreed_games(games: list[list[int]] | None, other: list[list[int]] | None) -> list | None:
    """The games the match keeps from two agreeing reports: those of the side that listed
    them, or the common list; none when both listed different games (nobody confirmed
    either; both stay on the reports)."""
    if games is None or other is None or games == other:
        return games if games is not None else other
    return None


def _ordered(matches: Iterable[Match]) -> list[Match]:
    order = {b: i for i, b in enumerate(Match.Bracket.values)}
    return sorted(matches, key=lambda m: (order[m.bracket], m.round, m.position))


# --- Forfeits and disqualification ----------------------------------------------------------


def match_forfeit(*, match_id: int, user: User, participant_id: int | None = None) -> Match:
    """A side gives the match up: the other side wins, with no scores, and moves on like
    after any result (``reset`` undoes it like one).

    Without ``participant_id`` the user forfeits their own side (the captain, for teams);
    with it, the organizer forfeits that side. A match awaiting confirmation or disputed
    can be forfeited too: a side may give up whatever was reported, and the organizer may
    settle a dispute this way; the reports stay on the match, as reported.
    """
    with transaction.atomic():
        match = match_lock(match_id)
        tournament = match.tournament
        if participant_id is None:
            forfeiting = _reporting_side(match, user)
        else:
            organizer_check(tournament, user)
        if tournament.status != Tournament.Status.IN_PROGRESS:
            raise MatchClosed(f"The tournament is {tournament.status}.")
        if match.status == Status.PENDING:
            raise MatchNotReady("This match is still waiting for a participant.")
        if match.status == Status.COMPLETED:
            raise MatchClosed("This match is completed; only the organizer can reset it.")
        if participant_id is not None:
            if match.side_of(participant_id) is None:
                raise NotASide(
                    f"Participant {participant_id} does not play in this match.",
                    fields={
                        "participant": [
                            f"One of {match.participant_a_id} or {match.participant_b_id}."
                        ]
                    },
                )
            forfeiting = participant_id
        progression = Progression(tournament, loader=matches_lock)
        progression.forfeit(match, forfeiting)
        progression.save()
    return match


def participant_disqualify(*, tournament_id: int, participant_id: int, user: User) -> Participant:
    """The organizer removes a participant from a tournament in progress.

    Its current match (ready, awaiting confirmation or disputed) is forfeited at once, and
    every later one as it becomes ready (``matches.progression``); it keeps its fee (no
    refund) and takes no place and no prize. The participant's open matches are locked
    first, then those its forfeits feed, then the tournament row, and the participant's row
    last (``matches.locks``): a result that would bring it a new opponent either committed
    before (and its match is forfeited here) or waits, and then sees it disqualified.
    """
    with transaction.atomic():
        tournament = Tournament.objects.filter(pk=tournament_id).first()
        if tournament is None:
            raise TournamentNotFound(f"There is no tournament {tournament_id}.")
        organizer_check(tournament, user)
        if tournament.status != Tournament.Status.IN_PROGRESS:
            raise InvalidTransition(
                f"The tournament is {tournament.status}; only a tournament in progress "
                "disqualifies."
            )
        participant = (
            Participant.objects.filter(pk=participant_id, tournament=tournament)
            .prefetch_related(roster_prefetch())
            .first()
        )
        if participant is None:
            raise ParticipantNotFound(
                f"There is no participant {participant_id} in tournament {tournament_id}."
            )
        _disqualifiable_check(participant)

        open_matches = participant_matches_lock(
            tournament_id=tournament.pk, participant_id=participant.pk
        )
        participant.status = Participant.Status.DISQUALIFIED
        progression = Progression(tournament, loader=matches_lock)
        progression.disqualifying.add(participant.pk)
        progression.leading_events.append(
            ("participant.disqualified", {"participant": participant_data(participant)})
        )
        for match in open_matches:
            if match.status in (Status.READY, Status.AWAITING_CONFIRMATION, Status.DISPUTED):
                progression.forfeit(match, participant.pk)
        progression.save()
        # Guarded: of two concurrent disqualifications, the second finds the row changed.
        if not Participant.objects.filter(
            pk=participant.pk, status=Participant.Status.REGISTERED
        ).update(status=Participant.Status.DISQUALIFIED):
            raise AlreadyDisqualified(f"{participant.name} is already disqualified.")
    return participant


def _disqualifiable_check(participant: Participant) -> None:
    if participant.status == Participant.Status.DISQUALIFIED:
        raise AlreadyDisqualified(f"{participant.name} is already disqualified.")
    if participant.status != Participant.Status.REGISTERED or participant.seed is None:
        raise NotRegistered(f"{participant.name} is not playing in this tournament.")
