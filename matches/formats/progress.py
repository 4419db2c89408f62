"""Results flowing through a bracket: the one engine the service runs and the tests prove.

``BracketProgress`` completes matches, moves winners (and losers, in double elimination)
into the matches they feed, completes byes whose one side has arrived, makes the second
grand final, pairs the next swiss round, and says when a round or the whole tournament is
over; it undoes a result too, when nothing was built on it. It decides; where the matches
live is its subclass's business: ``matches.progression.Progression`` keeps them in the
database (rows locked as they are loaded), the property tests in memory
(``tests/bracket_runs.py``). Either way it is this code that moves every participant.

It works on match objects with the attributes of ``MatchLike`` (the ORM's ``Match`` has
them), follows the wiring their plan gave them (``next_match_id``/``next_slot``,
``loser_next_match_id``/``loser_next_slot``: see ``plan``), and records what it changed
(``changed``, and the strongest event per match in ``events``) so that the caller can
write it in a fixed number of statements. One object serves one action: a result, an
override, a reset, or the byes at the start.

Also here, over the same match objects: the final placements (``placements``) and what
they are made of (``group_results``, ``eliminations``).
"""

from __future__ import annotations

import abc
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from . import double_elimination, round_robin, single_elimination, swiss
from .plan import GRAND_FINAL, GROUP, WINNERS, MatchKey, PlannedMatch
from .standings import Result, elimination_standings, table, table_placements

# Formats and match statuses, as the tournament and match rows spell them.
SINGLE_ELIMINATION, DOUBLE_ELIMINATION = "single_elimination", "double_elimination"
ROUND_ROBIN, SWISS = "round_robin", "swiss"
FORMATS = (SINGLE_ELIMINATION, DOUBLE_ELIMINATION, ROUND_ROBIN, SWISS)
GROUP_FORMATS = (ROUND_ROBIN, SWISS)
PENDING, READY, COMPLETED = "pending", "ready", "completed"
AWAITING_CONFIRMATION, DISPUTED = "awaiting_confirmation", "disputed"
# A match in one of these has a result, or one on the way.
PLAYED = (COMPLETED, AWAITING_CONFIRMATION, DISPUTED)

# When one action touches a match more than once, the event it sends names the strongest.
EVENT_STRENGTH = {"match.updated": 0, "match.reset": 1, "match.disputed": 2, "match.completed": 3}


class MatchLike(Protocol):
    """What the engine reads and writes on a match."""

    pk: int
    bracket: str
    round: int
    position: int
    is_bye: bool
    participant_a_id: int | None
    participant_b_id: int | None
    status: str
    winner_id: int | None
    scores: list[int] | None
    completed_at: datetime | None
    next_match_id: int | None
    next_slot: str
    loser_next_match_id: int | None
    loser_next_slot: str


class ResultBuiltUpon(Exception):
    """An undo refused: a later result depends on the one to undo."""

    code = "downstream_played"


def key_of(match: MatchLike) -> MatchKey:
    return (match.bracket, match.round, match.position)


def side_of(match: MatchLike, participant_id: int | None) -> str | None:
    """``"a"`` or ``"b"``: the side ``participant_id`` plays on; None if neither."""
    if participant_id is not None and participant_id == match.participant_a_id:
        return "a"
    if participant_id is not None and participant_id == match.participant_b_id:
        return "b"
    return None


def loser_of(match: MatchLike) -> int | None:
    """The side that did not win; None without a winner (not played, or a draw)."""
    if match.winner_id is None:
        return None
    if match.winner_id == match.participant_a_id:
        return match.participant_b_id
    return match.participant_a_id


def start_plan(*, format: str, participants: int) -> list[PlannedMatch]:
    """The matches planned when a tournament of ``participants`` starts, seeds 1..n: the
    whole bracket, or the first swiss round (the next ones are paired as rounds end)."""
    if format == SWISS:
        return swiss.round_plan(
            round_number=1, players=list(range(1, participants + 1)), results=[], byes={}
        )
    planners = {
        SINGLE_ELIMINATION: single_elimination.plan,
        DOUBLE_ELIMINATION: double_elimination.plan,
        ROUND_ROBIN: round_robin.plan,
    }
    if format not in planners:
        raise ValueError(f"format must be one of {FORMATS}, not {format!r}")
    return planners[format](participants)


class BracketProgress(abc.ABC):
    """Results flowing through a bracket, for one action.

    Public API: ``settle_all`` (the start), ``settle`` (a match's sides changed),
    ``complete`` (a result), ``touch`` (any other change of status, to record its event),
    ``revert`` (undo a result), then ``conclude`` once, after the action's last change: it
    drops the matches the undo removed and, after a group match, closes the round. What it
    leaves for the caller: ``changed`` (pk -> match), ``events`` (pk -> event name),
    ``deleted`` (pks), ``became_ready`` (pks), and ``finished`` (the tournament is over).

    Invariants: a side is only filled by the result that feeds it, and only emptied by
    the undo of that result; a bye completes, its present side winning, as soon as that
    side is known; a result is undone only while nothing that follows from it has a
    result (else ``BuiltUpon`` is raised and the caller rolls everything back).
    """

    # Raised when an undo would pull the ground from under a later result.
    BuiltUpon: type[Exception] = ResultBuiltUpon

    def __init__(self, *, format: str, swiss_rounds: int | None) -> None:
        if format not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}, not {format!r}")
        self.format = format
        self.swiss_rounds = swiss_rounds
        self.changed: dict[int, MatchLike] = {}
        self.events: dict[int, str] = {}
        self.deleted: list[int] = []
        self.round_done: int | None = None
        self.finished = False
        self.became_ready: list[int] = []
        # The second grand final that undoing the first one's result is about to delete.
        self.kept_second_grand_final: MatchLike | None = None

    # --- Where the matches live: the subclass ------------------------------------------------

    @abc.abstractmethod
    def load(self, ids: list[int]) -> dict[int, MatchLike]:
        """The matches with these pks (the matches a result feeds), by pk."""

    @abc.abstractmethod
    def now(self) -> datetime | None:
        """The time a match completes."""

    @abc.abstractmethod
    def match_insert(
        self,
        *,
        key: MatchKey,
        participant_a_id: int | None,
        participant_b_id: int | None,
        status: str,
    ) -> MatchLike:
        """A new match (the second grand final), stored at once: it needs its pk."""

    @abc.abstractmethod
    def round_insert(
        self, planned: list[PlannedMatch], by_seed: dict[int, int]
    ) -> dict[int, MatchLike]:
        """The matches of a swiss round, stored, by pk; ``by_seed``: participant by seed."""

    @abc.abstractmethod
    def matches_delete(self, ids: list[int]) -> None:
        """Remove these matches (what an undo took away)."""

    @abc.abstractmethod
    def later_rounds(self, round_number: int) -> list[tuple[int, str, bool]]:
        """``(pk, status, is_bye)`` of every group match after round ``round_number``,
        locked until the action ends: an undo decides on them and then deletes them."""

    @abc.abstractmethod
    def any_open(self, *, excluding: Iterable[int]) -> bool:
        """Whether a match of the tournament not completed, as stored, is left outside
        ``excluding`` (the pks of the matches this action changed)."""

    @abc.abstractmethod
    def group_matches(self, *, excluding: Iterable[int]) -> Iterable[MatchLike]:
        """The tournament's group matches as stored, but those with pks in ``excluding``."""

    @abc.abstractmethod
    def seeds(self) -> dict[int, int]:
        """``{participant: seed}`` of everyone seeded."""

    @abc.abstractmethod
    def reports_drop(self, match: MatchLike) -> None:
        """Forget what the sides reported on ``match`` (a reset)."""

    # --- Results -----------------------------------------------------------------------------

    def touch(self, match: MatchLike, event: str) -> None:
        self.changed[match.pk] = match
        if EVENT_STRENGTH[event] >= EVENT_STRENGTH.get(self.events.get(match.pk, ""), -1):
            self.events[match.pk] = event

    def settle(self, match: MatchLike) -> None:
        """Set the status that the match's sides call for (at start, or a side arrived)."""
        if match.status == COMPLETED:
            return
        a, b = match.participant_a_id, match.participant_b_id
        if match.is_bye and (a or b):
            self.complete(match, a or b, None)
        elif a and b:
            match.status = READY
            self.became_ready.append(match.pk)
            self.touch(match, "match.updated")
        elif a or b:
            self.touch(match, "match.updated")

    def settle_all(self, matches: Iterable[MatchLike]) -> None:
        """At the start: every match takes the status its seeds call for; byes complete at
        once, their winners moving on (``load`` must find the matches just made)."""
        for match in matches:
            self.settle(match)

    def complete(self, match: MatchLike, winner_id: int | None, scores: list[int] | None) -> None:
        """Record the result and move its sides on (``winner_id`` None: a draw)."""
        match.status = COMPLETED
        match.winner_id = winner_id
        match.scores = scores
        match.completed_at = self.now()
        self.touch(match, "match.completed")
        self._advance(match)

    def _advance(self, match: MatchLike) -> None:
        feeds = {
            pk: slot
            for pk, slot in [
                (match.next_match_id, match.next_slot),
                (match.loser_next_match_id, match.loser_next_slot),
            ]
            if pk
        }
        targets = self.load(list(feeds)) if feeds else {}
        if match.next_match_id and match.winner_id:
            self._place(targets[match.next_match_id], match.next_slot, match.winner_id)
        loser = loser_of(match)
        if match.loser_next_match_id and loser:
            self._place(targets[match.loser_next_match_id], match.loser_next_slot, loser)

        if match.bracket == GRAND_FINAL:
            if match.round == 1 and double_elimination.needs_reset(
                side_of(match, match.winner_id) or ""
            ):
                self._grand_final_reset(match)
            else:
                self.finished = True
        elif (
            match.bracket == WINNERS
            and not match.next_match_id
            and self.format == SINGLE_ELIMINATION
        ):
            self.finished = True
        elif match.bracket == GROUP:
            self.round_done = match.round

    def _place(self, target: MatchLike, slot: str, participant_id: int) -> None:
        setattr(target, f"participant_{slot}_id", participant_id)
        self.settle(target)

    def _grand_final_reset(self, first: MatchLike) -> None:
        """The losers-bracket finalist won the grand final: both now have one loss.

        An override of the first grand final that ends it this way again keeps the second
        one that the previous result made (it is still ready, with the same two sides:
        ``_unadvance`` refuses otherwise), instead of deleting it and inserting another in
        its place, which the unique place of a match refuses until the delete is written.
        """
        kept = self.kept_second_grand_final
        if kept is not None and kept.pk in self.deleted:
            self.deleted.remove(kept.pk)
            first.next_match_id, first.next_slot = kept.pk, ""
            self.touch(kept, "match.updated")
            return
        second = self.match_insert(
            key=double_elimination.SECOND_GRAND_FINAL_KEY,
            participant_a_id=first.participant_a_id,
            participant_b_id=first.participant_b_id,
            status=READY,
        )
        first.next_match_id, first.next_slot = second.pk, ""
        self.touch(second, "match.updated")

    # --- Undo --------------------------------------------------------------------------------

    def revert(self, match: MatchLike, *, keep_reports: bool) -> None:
        """Undo the match's result (and the byes it completed), if nothing built on it."""
        if match.status == COMPLETED:
            self._unadvance(match)
        if not keep_reports:
            self.reports_drop(match)
        match.status = READY
        match.winner_id = None
        match.scores = None
        match.completed_at = None
        self.touch(match, "match.reset")

    def _unadvance(self, match: MatchLike) -> None:
        if match.bracket == GROUP:
            if self.format != SWISS:
                return  # round robin rounds do not depend on each other
            # The next swiss round was paired on this result: delete it, to be paired again
            # when the result is in, unless it has results (its byes do not count: they
            # are paired again with the rest).
            later = self.later_rounds(match.round)
            if any(status in PLAYED and not is_bye for _, status, is_bye in later):
                raise self.BuiltUpon("A later round already has results.")
            self.deleted.extend(pk for pk, _, _ in later)
            return
        feeds = [
            (match.next_match_id, match.winner_id),
            (match.loser_next_match_id, loser_of(match)),
        ]
        targets = self.load([pk for pk, _ in feeds if pk])
        for pk, participant_id in feeds:
            if not pk:
                continue
            target = targets[pk]
            if key_of(target) == double_elimination.SECOND_GRAND_FINAL_KEY:
                if target.status != READY:
                    raise self.BuiltUpon("The second grand final already has a result.")
                self.deleted.append(target.pk)
                self.kept_second_grand_final = target
                match.next_match_id = None
                continue
            if target.is_bye and target.status == COMPLETED:
                self._unadvance(target)
                target.winner_id = None
                target.completed_at = None
            elif target.status not in (PENDING, READY):
                raise self.BuiltUpon(f"Match {target.pk}, which this match feeds, has a result.")
            for side in ("a", "b"):
                if getattr(target, f"participant_{side}_id") == participant_id:
                    setattr(target, f"participant_{side}_id", None)
            target.status = PENDING
            self.touch(target, "match.updated")

    # --- The end of an action ----------------------------------------------------------------

    def conclude(self) -> None:
        """Drop what an undo removed, then, after a group match, close its round: finish a
        round robin or the last swiss round, or pair the next swiss round, once every match
        is completed. Call once, after the action's last change (and, in the database,
        under the tournament's lock: see ``matches.progression``)."""
        if self.deleted:
            # Before the round is closed: a swiss round paired again takes the places of
            # the one deleted here. (A second grand final made again never does:
            # ``_grand_final_reset`` keeps the one it would replace.)
            self.matches_delete(self.deleted)
            for pk in self.deleted:
                self.changed.pop(pk, None)
                self.events.pop(pk, None)
        if self.round_done is not None:
            self._round_close(self.round_done)

    def _round_close(self, round_number: int) -> None:
        if self.any_open(excluding=self.changed) or any(
            m.status != COMPLETED for m in self.changed.values()
        ):
            return  # a match of the tournament is still to be played
        if self.format == SWISS and round_number < (self.swiss_rounds or 0):
            self._swiss_pair(round_number + 1)
        else:
            self.finished = True

    def _swiss_pair(self, round_number: int) -> None:
        """Pair the next round on every result so far (all of them are in: the round is
        closed), in seeds, as the first round was paired."""
        seeds = self.seeds()
        played = [*self.group_matches(excluding=self.changed), *self.changed.values()]
        results, byes = group_results(played)
        planned = swiss.round_plan(
            round_number=round_number,
            players=sorted(seeds.values()),
            results=[
                Result(
                    a=seeds[r.a],
                    b=seeds[r.b],
                    winner=None if r.winner is None else seeds[r.winner],
                )
                for r in results
            ],
            byes={seeds[p]: count for p, count in byes.items()},
        )
        by_seed = {seed: pk for pk, seed in seeds.items()}
        for match in self.round_insert(planned, by_seed).values():
            self.settle(match)


# --- Placements ---------------------------------------------------------------------------------


def group_results(matches: Iterable[MatchLike]) -> tuple[list[Result], dict[int, int]]:
    """The completed matches of a round robin or swiss event as standings input: the
    results (draws with no winner) and the byes each participant had."""
    results, byes = [], Counter()
    for m in matches:
        if m.status != COMPLETED:
            continue
        if m.is_bye:
            byes[m.participant_a_id] += 1
        else:
            results.append(Result(a=m.participant_a_id, b=m.participant_b_id, winner=m.winner_id))
    return results, dict(byes)


def eliminations(*, format: str, matches: Iterable[MatchLike]) -> dict[int, MatchKey]:
    """``{participant: key of the match that knocked them out}`` in an elimination bracket:
    the loser of every completed real match, but in double elimination a winners-bracket
    defeat only sends the loser down, and losing the first grand final from the
    winners-bracket side only forces the second one (``needs_reset``)."""
    out: dict[int, MatchKey] = {}
    for m in matches:
        loser = loser_of(m)
        if m.status != COMPLETED or m.is_bye or loser is None:
            continue
        if format == DOUBLE_ELIMINATION and m.bracket == WINNERS:
            continue
        if (
            m.bracket == GRAND_FINAL
            and m.round == 1
            and double_elimination.needs_reset(side_of(m, m.winner_id) or "")
        ):
            continue
        out[loser] = key_of(m)
    return out


def placements(
    *,
    format: str,
    matches: Iterable[MatchLike],
    seeds: dict[int, int],
    disqualified: Iterable[int] = (),
) -> list[list[int]]:
    """Placement groups, best first (what prizes are split by, ``payouts.prize_shares``):
    the standings table's order in round robin and swiss, one participant a group; in
    the elimination formats, by the stage each participant went out at, ties sharing a
    group. ``seeds``: every participant placed, with their seed. ``disqualified``: those
    skipped (``placements_skipping``)."""
    if format in GROUP_FORMATS:
        results, byes = group_results(matches)
        rows = table(participants=list(seeds), seeds=seeds, results=results, byes=byes)
        groups = table_placements(rows)
    else:
        groups = elimination_standings(
            seeds=seeds, eliminated_at=eliminations(format=format, matches=matches)
        )
    return placements_skipping(groups, skipped=set(disqualified))


def placements_skipping(groups: list[list[int]], *, skipped: set[int]) -> list[list[int]]:
    """``groups`` without the participants in ``skipped``: each one leaves its group (a
    group left empty goes), so everyone below moves up by the places it held. Their
    results stay in the table and the bracket (an opponent's tiebreaks, who went out
    where); they only take no place, and so no prize."""
    kept = [[p for p in group if p not in skipped] for group in groups]
    return [group for group in kept if group]
