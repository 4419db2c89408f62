"""The progression engine on the database: results flowing through a tournament's rows.

``Progression`` is ``matches.formats.progress.BracketProgress`` (which decides where every
participant goes, when a bye completes, when the grand final is played again, how the
next swiss round is paired and when the tournament is over) with the matches kept in
the database: the matches a result feeds are loaded locked (``matches.locks``), and
``save`` writes what changed with a fixed number of statements whatever the size of the
bracket, appends the events, tells the players, and finishes the tournament after its
last match: placements (``matches.placements``, by ``formats.progress.placements``) and
prizes (``matches.payouts``).

Public API: ``Progression(tournament, loader=...)``, then ``settle_all``, ``settle``,
``complete``, ``touch``, ``revert`` (from ``BracketProgress``) and ``forfeit``, then
``save`` once; ``tournament_start`` calls ``notify`` instead, having written its matches
itself.

Forfeits. ``forfeit`` completes a match for the other side, with no scores, and moves it
on like any result. A match that becomes ready (``settle``) with a disqualified side is
forfeited at once, in the same action, so a disqualified participant's matches fall one
after the other as the bracket reaches them; when both sides are disqualified, side b
forfeits (side a, usually the better seed, moves on, to forfeit its next match in turn).
Those forfeits chain like byes do. The disqualified are read once per action, after the
first match that needs them is locked, and again after the tournament's lock (a swiss
round paired then must see a disqualification committed while this action waited);
``disqualifying`` adds the participant that the current action disqualifies (its row is
written last, after the tournament's: ``tournaments.locks``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from datetime import datetime

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from matches import locks, payouts, tasks
from matches.errors import DownstreamPlayed, MatchClosed
from matches.formats import progress
from matches.formats.plan import GRAND_FINAL, WINNERS, MatchKey, PlannedMatch
from matches.models import Match, MatchReport
from matches.payloads import match_data
from matches.placements import placements_for
from notifications.services import (
    match_ready_notify,
    match_result_confirmed_notify,
    match_result_disputed_notify,
)
from project.statements import placeholders, rows_update
from tournaments.events import events_append, tournament_row_update
from tournaments.locks import tournament_lock
from tournaments.models import Participant, Tournament
from tournaments.payloads import tournament_data

Status = Match.Status

# Fields a result can change on a match; saved with one UPDATE per action (rows_update).
MATCH_STATE_FIELDS = [
    "participant_a",
    "participant_b",
    "status",
    "winner",
    "scores",
    "games",
    "completed_at",
    "next_match",
    "next_slot",
    "forfeit",
]


class Progression(progress.BracketProgress):
    """Results flowing through ``tournament``'s bracket, for one action.

    ``loader`` loads the matches a result feeds: ``matches.locks.matches_lock`` for the
    actions on a running tournament; at the start, the matches just made, held in memory.
    """

    BuiltUpon = DownstreamPlayed

    def __init__(
        self, tournament: Tournament, *, loader: Callable[[list[int]], dict[int, Match]]
    ) -> None:
        super().__init__(format=tournament.format, swiss_rounds=tournament.swiss_rounds)
        self.tournament = tournament
        self.loader = loader
        # Matches forfeited by this action, in order: their event precedes their completion.
        self.forfeited: list[int] = []
        # The participant this action disqualifies (not yet written), and the events that
        # go before the matches' (its ``participant.disqualified``).
        self.disqualifying: set[int] = set()
        self.leading_events: list[tuple[str, dict]] = []
        self._disqualified: set[int] | None = None

    # --- Forfeits ----------------------------------------------------------------------------

    def forfeit(self, match: Match, participant_id: int) -> None:
        """``participant_id`` (a side of ``match``) gives the match up: the other side wins,
        with no scores, and moves on as after any result."""
        winner_id = (
            match.participant_b_id
            if participant_id == match.participant_a_id
            else match.participant_a_id
        )
        self.complete(match, winner_id, None)
        match.forfeit_id = participant_id
        self.forfeited.append(match.pk)

    def settle(self, match: Match) -> None:
        """As ``BracketProgress.settle``; a match that becomes ready with a disqualified
        side is forfeited at once by that side (side b if both are)."""
        super().settle(match)
        if match.status != Status.READY or match.pk not in self.became_ready:
            return
        forfeiting = self._disqualified_side(match)
        if forfeiting is not None:
            self.became_ready.remove(match.pk)  # nobody is to play it
            self.forfeit(match, forfeiting)

    def conclude(self) -> None:
        """As ``BracketProgress.conclude``; a swiss round paired here that forfeits closed
        at once (its matches all between disqualified sides, or byes) is closed in turn."""
        closing = self.round_done
        super().conclude()
        while self.round_done not in (None, closing) and not self.finished:
            closing = self.round_done
            self._round_close(closing)

    def _disqualified_side(self, match: Match) -> int | None:
        # Nobody is disqualified before the start (the matches are being made).
        if self.tournament.status != Tournament.Status.IN_PROGRESS:
            return None
        if self._disqualified is None:
            self._disqualified = set(
                Participant.objects.filter(
                    tournament=self.tournament, status=Participant.Status.DISQUALIFIED
                ).values_list("pk", flat=True)
            )
        out = self._disqualified | self.disqualifying
        for participant_id in (match.participant_b_id, match.participant_a_id):
            if participant_id in out:
                return participant_id
        return None

    # --- Where the matches live (formats.progress.BracketProgress) ---------------------------

    def load(self, ids: list[int]) -> dict[int, Match]:
        return self.loader(ids)

    def now(self) -> datetime:
        return timezone.now()

    # --- Series: the games of a result (the engine knows only winners and scores) ----------

    def complete(
        self,
        match: Match,
        winner_id: int | None,
        scores: list[int] | None,
        games: list[list[int]] | None = None,
    ) -> None:
        """``BracketProgress.complete``, keeping the games of a series result (byes and
        the engine's own completions have none)."""
        match.games = games
        match.forfeit_id = None  # a result played (or settled) replaces a forfeit
        super().complete(match, winner_id, scores)

    def revert(self, match: Match, *, keep_reports: bool) -> None:
        super().revert(match, keep_reports=keep_reports)
        match.games = None
        match.forfeit_id = None

    def match_insert(
        self,
        *,
        key: MatchKey,
        participant_a_id: int | None,
        participant_b_id: int | None,
        status: str,
    ) -> Match:
        bracket, round_number, position = key
        match = Match.objects.create(
            tournament=self.tournament,
            bracket=bracket,
            round=round_number,
            position=position,
            participant_a_id=participant_a_id,
            participant_b_id=participant_b_id,
            status=status,
            best_of=series_length(self.tournament, bracket=bracket, last=True),
        )
        match.loaded_reports = []
        return match

    def round_insert(
        self, planned: list[PlannedMatch], by_seed: dict[int, int]
    ) -> dict[int, Match]:
        created = matches_insert(tournament=self.tournament, planned=planned, by_seed=by_seed)
        for match in created.values():
            match.loaded_reports = []
        return created

    def matches_delete(self, ids: list[int]) -> None:
        Match.objects.filter(pk__in=ids).delete()

    def later_rounds(self, round_number: int) -> list[tuple[int, str, bool]]:
        return locks.later_rounds_lock(tournament=self.tournament, after_round=round_number)

    def any_open(self, *, excluding: Iterable[int]) -> bool:
        return open_match_exists(tournament_id=self.tournament.pk, excluding=list(excluding))

    def group_matches(self, *, excluding: Iterable[int]) -> QuerySet[Match]:
        return Match.objects.filter(
            tournament=self.tournament, bracket=Match.Bracket.GROUP
        ).exclude(pk__in=excluding)

    def seeds(self) -> dict[int, int]:
        return dict(
            Participant.objects.filter(tournament=self.tournament, seed__isnull=False).values_list(
                "pk", "seed"
            )
        )

    def reports_drop(self, match: Match) -> None:
        MatchReport.objects.filter(match=match).delete()
        match.loaded_reports = []

    # --- Writing it down ---------------------------------------------------------------------

    def save(self) -> None:
        """Write what changed, finish the tournament if it is over, and send the events,
        taking their versions in the same tournament UPDATE that records the finish.

        Whether a round or the tournament is over is decided under the tournament's lock
        (``tournaments.locks``), taken after every match row this change locked: a
        concurrent result has then either committed, and is seen, or waits for this one.
        Without it two results that each finished the last open match of a round both saw
        the other open, or both completed the tournament and awarded its prizes twice.
        Other changes take the lock with their guarded UPDATE at the end.
        """
        if self.round_done is not None or self.finished:
            self._tournament_lock()
        self.conclude()
        rows_update(list(self.changed.values()), MATCH_STATE_FIELDS)

        # A match made from a result that was undone (the second grand final, a swiss round
        # paired on it) goes away with it; watchers learn that from its own event.
        events = [*self.leading_events]
        events += [("match.removed", {"match_id": pk}) for pk in sorted(self.deleted)]
        for pk, name in self.events.items():
            data = {"match": match_data(self.changed[pk])}
            if pk in self.forfeited and name == "match.completed":
                events.append(("match.forfeited", data))
            events.append((name, data))
        self.notify()
        if not self.finished:
            if not tournament_row_update(
                self.tournament,
                events=len(events),
                when_status=Tournament.Status.IN_PROGRESS,
            ):
                raise MatchClosed("The tournament is no longer in progress.")
            events_append(tournament=self.tournament, events=events)
            return

        placements, prizes, payouts_pending = self._tournament_finish()
        now = timezone.now()
        finished = tournament_row_update(
            self.tournament,
            events=len(events) + 1,
            values={
                "status": Tournament.Status.COMPLETED,
                "completed_at": now,
                "payouts_pending": payouts_pending,
            },
            when_status=Tournament.Status.IN_PROGRESS,
        )
        if not finished:
            raise MatchClosed("The tournament is no longer in progress.")
        self.tournament.completed_at = now
        if payouts_pending:
            tasks.tournament_payouts_chunk_run.delay_on_commit(self.tournament.pk)
        events.append(
            (
                "tournament.completed",
                {
                    "tournament": tournament_data(self.tournament),
                    "placements": placements,
                    "prizes": {str(pk): amount for pk, amount in prizes.items()},
                },
            )
        )
        events_append(tournament=self.tournament, events=events)

    def notify(self) -> None:
        """Tell the players what this change means for them, once it commits."""
        match_ready_notify(match_ids=[pk for pk in self.became_ready if pk not in self.deleted])
        for pk, event in self.events.items():
            if event == "match.completed" and not self.changed[pk].is_bye:
                match_result_confirmed_notify(match_id=pk)
            elif event == "match.disputed":
                match_result_disputed_notify(match_id=pk)

    def _tournament_lock(self) -> None:
        """Lock the tournament row; refuse if it is no longer in progress (it completed or
        was cancelled while this change waited for its match rows)."""
        status = tournament_lock(self.tournament.pk).status
        if status != Tournament.Status.IN_PROGRESS:
            raise MatchClosed(f"The tournament is {status}.")
        self._disqualified = None  # read again: one may have committed while this waited

    def _tournament_finish(self) -> tuple[list[list[int]], dict[int, int], int]:
        """Placements from the final bracket, and the prizes decided for them (paid here,
        or recorded for the payout chunks: ``payouts.prizes_award``). Returns the
        placements, the prizes, and how many of them are left to pay."""
        tournament = self.tournament
        stored = Match.objects.filter(tournament=tournament).exclude(pk__in=self.changed)
        participants = list(Participant.objects.filter(tournament=tournament, seed__isnull=False))
        for participant in participants:
            if participant.pk in self.disqualifying:
                participant.status = Participant.Status.DISQUALIFIED
        placements = placements_for(
            tournament=tournament,
            matches=[*stored, *self.changed.values()],
            participants=participants,
        )
        prizes, pending = payouts.prizes_award(tournament=tournament, placements=placements)
        return placements, prizes, pending


def open_match_exists(*, tournament_id: int, excluding: list[int]) -> bool:
    """Whether the tournament has a match not completed (as stored) but those in
    ``excluding``: every group result asks it, under the tournament's lock, to know
    whether its round is over.

    Written by hand: the ORM's version (``Match.objects.filter(tournament_id=...)
    .exclude(status=COMPLETED).exclude(pk__in=excluding).exists()``) took 4-5.5x the CPU
    (``bench/statements.py``). Plain SQL, the same on both databases.
    """
    sql = _open_match_sql()
    if excluding:
        sql += f" AND id NOT IN ({placeholders(len(excluding))})"
    with connection.cursor() as cursor:
        cursor.execute(sql + " LIMIT 1", [tournament_id, Status.COMPLETED, *excluding])
        return cursor.fetchone() is not None


@functools.cache
def _open_match_sql() -> str:
    table = connection.ops.quote_name(Match._meta.db_table)
    return f"SELECT 1 FROM {table} WHERE tournament_id = %s AND status <> %s"


def matches_insert(
    *, tournament: Tournament, planned: list[PlannedMatch], by_seed: dict[int, int]
) -> dict[int, Match]:
    """Insert the planned matches in one statement, then wire where winners and losers go
    (in memory: the caller writes the wiring with the matches' state). ``by_seed``: the
    participant at each seed. Returns the matches by pk."""
    by_key = {
        pm.key: Match(
            tournament=tournament,
            bracket=pm.bracket,
            round=pm.round,
            position=pm.position,
            is_bye=pm.bye,
            participant_a_id=by_seed.get(pm.seed_a),
            participant_b_id=by_seed.get(pm.seed_b),
            best_of=series_length(tournament, bracket=pm.bracket, last=pm.winner_to is None),
        )
        for pm in planned
    }
    Match.objects.bulk_create(by_key.values())
    for pm in planned:
        match = by_key[pm.key]
        if pm.winner_to:
            match.next_match = by_key[pm.winner_to.key]
            match.next_slot = pm.winner_to.side
        if pm.loser_to:
            match.loser_next_match = by_key[pm.loser_to.key]
            match.loser_next_slot = pm.loser_to.side
    return {match.pk: match for match in by_key.values()}


def series_length(tournament: Tournament, *, bracket: str, last: bool) -> int:
    """Games in a match of ``tournament``, fixed when the match is made: ``best_of_final``
    (when set) in the deciding matches of the elimination formats, ``best_of`` elsewhere.
    The deciding matches are both grand finals of double elimination (the second one is
    made on a bracket reset) and the single elimination final, the winners-bracket match
    that feeds nothing (``last``). Round robin and swiss play ``best_of`` everywhere."""
    deciding = bracket == GRAND_FINAL or (
        tournament.format == Tournament.Format.SINGLE_ELIMINATION and bracket == WINNERS and last
    )
    if deciding and tournament.best_of_final is not None:
        return tournament.best_of_final
    return tournament.best_of
