"""Brackets played in memory by the engine the services run (``matches.formats.progress``).

The property tests of the formats play plans through ``BracketProgress``: the engine that
``matches.progression.Progression`` runs on the database, here with its matches held in
memory instead of in rows. This file only stores matches and picks results, as the players
and the organizer would; every decision (where a winner or a loser goes, when a bye
completes, the second grand final, the next swiss round, when the tournament is over, who
went out where) is the engine's, so what the tests prove is what the services run.

Participants are the seeds themselves (participant ``s`` has seed ``s``), so "the better
seed" is the smaller number.

Along the way the store checks what every plan and the engine must guarantee together: no
side is filled twice, a bye's empty side is never filled, a played match never gets a new
side, two matches never take one place, and every match gets played.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count

from matches.formats.double_elimination import SECOND_GRAND_FINAL_KEY
from matches.formats.plan import GROUP, MatchKey, PlannedMatch
from matches.formats.progress import (
    COMPLETED,
    GROUP_FORMATS,
    PENDING,
    READY,
    SWISS,
    BracketProgress,
    MatchLike,
    eliminations,
    key_of,
    start_plan,
)
from matches.formats.swiss import default_rounds

SIDES = ("participant_a_id", "participant_b_id")


@dataclass(eq=False)
class PlainMatch:
    """A match held in memory, with the attributes of ``progress.MatchLike``."""

    pk: int
    bracket: str
    round: int
    position: int
    is_bye: bool = False
    participant_a_id: int | None = None
    participant_b_id: int | None = None
    status: str = PENDING
    winner_id: int | None = None
    scores: list[int] | None = None
    completed_at: None = None
    next_match_id: int | None = None
    next_slot: str = ""
    loser_next_match_id: int | None = None
    loser_next_slot: str = ""

    def __setattr__(self, name: str, value: object) -> None:
        if name in SIDES and value is not None and name in self.__dict__:
            current = self.__dict__[name]
            where = f"{name} of {key_of(self)}"
            assert current in (None, value), f"{where} filled twice ({current}, then {value})"
            assert self.status != COMPLETED, f"{where} filled after the match was played"
            other = SIDES[1 - SIDES.index(name)]
            assert not (self.is_bye and self.__dict__[other] is not None), (
                f"the empty side of bye {key_of(self)} filled"
            )
        super().__setattr__(name, value)
        # The store's index of open matches (the database's match_by_status index).
        open_index = self.__dict__.get("open_index")
        if name == "status" and open_index is not None:
            if value == COMPLETED:
                open_index.discard(self.pk)
            else:
                open_index.add(self.pk)

    def state(self) -> tuple:
        """Everything the engine may change, to compare two brackets."""
        return (
            self.is_bye,
            self.participant_a_id,
            self.participant_b_id,
            self.status,
            self.winner_id,
            self.scores,
            self.next_match_id,
            self.next_slot,
            self.loser_next_match_id,
            self.loser_next_slot,
        )


class Bracket:
    """A tournament's matches in memory, started from its plan as ``tournament_start``
    starts one (``settle_all``: byes complete at once)."""

    def __init__(self, *, format: str, participants: int, swiss_rounds: int | None = None):
        self.format = format
        self.seeds = {s: s for s in range(1, participants + 1)}
        self.swiss_rounds = (
            (swiss_rounds or default_rounds(participants)) if format == SWISS else None
        )
        self.matches: dict[int, PlainMatch] = {}
        self.by_key: dict[MatchKey, int] = {}
        self.open: set[int] = set()  # pks of the matches not completed
        self._pks = count(1)
        created = self.insert(start_plan(format=format, participants=participants), self.seeds)
        start = Progress(self)
        start.settle_all(created.values())

    def insert(self, planned: list[PlannedMatch], by_seed: dict[int, int]) -> dict[int, PlainMatch]:
        """Store the planned matches and wire them as ``matches.progression.matches_insert``
        does: the plan's ``winner_to``/``loser_to`` become pointers to the matches' pks."""
        by_key = {
            pm.key: self.add(
                PlainMatch(
                    pk=self.next_pk(),
                    bracket=pm.bracket,
                    round=pm.round,
                    position=pm.position,
                    is_bye=pm.bye,
                    participant_a_id=by_seed.get(pm.seed_a),
                    participant_b_id=by_seed.get(pm.seed_b),
                )
            )
            for pm in planned
        }
        for pm in planned:
            match = by_key[pm.key]
            if pm.winner_to:
                match.next_match_id = by_key[pm.winner_to.key].pk
                match.next_slot = pm.winner_to.side
            if pm.loser_to:
                match.loser_next_match_id = by_key[pm.loser_to.key].pk
                match.loser_next_slot = pm.loser_to.side
        return {m.pk: m for m in by_key.values()}

    def next_pk(self) -> int:
        return next(self._pks)

    def add(self, match: PlainMatch) -> PlainMatch:
        # The database's unique place of a match (match_place_once).
        assert key_of(match) not in self.by_key, f"two matches at {key_of(match)}"
        self.matches[match.pk] = match
        self.by_key[key_of(match)] = match.pk
        match.open_index = self.open
        if match.status != COMPLETED:
            self.open.add(match.pk)
        return match

    def remove(self, pk: int) -> None:
        match = self.matches.pop(pk)
        del self.by_key[key_of(match)]
        self.open.discard(pk)
        match.open_index = None

    def at(self, key: MatchKey) -> PlainMatch:
        return self.matches[self.by_key[key]]

    def state(self) -> dict[MatchKey, tuple]:
        return {key_of(m): m.state() for m in self.matches.values()}


class Progress(BracketProgress):
    """The engine with the bracket's matches in memory (the database's counterpart is
    ``matches.progression.Progression``)."""

    def __init__(self, bracket: Bracket):
        super().__init__(format=bracket.format, swiss_rounds=bracket.swiss_rounds)
        self.bracket = bracket

    def load(self, ids: list[int]) -> dict[int, MatchLike]:
        return {pk: self.bracket.matches[pk] for pk in ids}

    def now(self) -> None:
        return None  # time plays no part in a bracket's progress

    def match_insert(self, *, key, participant_a_id, participant_b_id, status) -> MatchLike:
        bracket, round_number, position = key
        match = PlainMatch(
            pk=self.bracket.next_pk(),
            bracket=bracket,
            round=round_number,
            position=position,
            participant_a_id=participant_a_id,
            participant_b_id=participant_b_id,
            status=status,
        )
        return self.bracket.add(match)

    def round_insert(self, planned, by_seed) -> dict[int, MatchLike]:
        return self.bracket.insert(planned, by_seed)

    def matches_delete(self, ids: list[int]) -> None:
        for pk in ids:
            self.bracket.remove(pk)

    def later_rounds(self, round_number: int) -> list[tuple[int, str, bool]]:
        return [
            (m.pk, m.status, m.is_bye)
            for pk, m in sorted(self.bracket.matches.items())
            if m.bracket == GROUP and m.round > round_number
        ]

    def any_open(self, *, excluding) -> bool:
        return any(pk not in excluding for pk in self.bracket.open)

    def group_matches(self, *, excluding) -> list[MatchLike]:
        skip = set(excluding)
        return [
            m for pk, m in self.bracket.matches.items() if m.bracket == GROUP and pk not in skip
        ]

    def seeds(self) -> dict[int, int]:
        return dict(self.bracket.seeds)

    def reports_drop(self, match: MatchLike) -> None:
        pass  # results are given here directly: there are no reports to forget


def result_enter(bracket: Bracket, match: PlainMatch, winner: int | None) -> Progress:
    """One result, as one action of the services: the engine completes the match, then
    concludes (a closed round, the next swiss round, the end)."""
    progress = Progress(bracket)
    progress.complete(match, winner, None)
    progress.conclude()
    return progress


def result_undo(bracket: Bracket, match: PlainMatch) -> Progress:
    """An organizer's reset of ``match``, as ``match_reset`` does it."""
    progress = Progress(bracket)
    progress.revert(match, keep_reports=False)
    progress.conclude()
    return progress


@dataclass(frozen=True)
class Played:
    key: MatchKey
    a: int
    b: int
    winner: int | None

    @property
    def loser(self) -> int | None:
        if self.winner is None:
            return None
        return self.b if self.winner == self.a else self.a


@dataclass
class Run:
    bracket: Bracket
    champion: int | None  # the elimination formats' last winner
    played: list[Played]  # real matches, in the order they were played
    byes: list[tuple[MatchKey, int]]  # (bye match, the participant who went through)
    eliminated_at: dict[int, MatchKey]
    reset: bool
    losses: Counter = field(default_factory=Counter)


def play(
    bracket: Bracket,
    *,
    rng: random.Random,
    chalk: bool = False,
    draws: float = 0.0,
    decide: Callable[[PlainMatch], int | None] | None = None,
) -> Run:
    """Play ``bracket`` to the end: a random ready match at a time, with a random winner
    (the better seed with ``chalk``; a draw with probability ``draws``; or whatever
    ``decide`` says). Asserts that the engine says the tournament is over exactly with
    the last result, and that every match was played."""

    def pick(match: PlainMatch) -> int | None:
        if decide is not None:
            return decide(match)
        a, b = match.participant_a_id, match.participant_b_id
        if chalk:
            return min(a, b)
        if draws and rng.random() < draws:
            return None
        return rng.choice((a, b))

    ready = {pk for pk, m in bracket.matches.items() if m.status == READY}
    played: list[Played] = []
    champion = None
    finished = False
    while ready:
        assert not finished, "results still to play after the tournament was over"
        match = bracket.matches[rng.choice(sorted(ready))]
        winner = pick(match)
        played.append(Played(key_of(match), match.participant_a_id, match.participant_b_id, winner))
        progress = result_enter(bracket, match, winner)
        finished = progress.finished
        if finished and bracket.format not in GROUP_FORMATS:
            champion = winner
        for pk, changed in progress.changed.items():
            if changed.status == READY:
                ready.add(pk)
            else:
                ready.discard(pk)
        ready.difference_update(progress.deleted)

    assert finished, "the tournament never finished"
    unplayed = [key_of(m) for m in bracket.matches.values() if m.status != COMPLETED]
    assert not unplayed, f"matches never played: {unplayed}"
    matches = list(bracket.matches.values())
    group = bracket.format in GROUP_FORMATS
    return Run(
        bracket=bracket,
        champion=champion,
        played=played,
        byes=[(key_of(m), m.winner_id) for m in matches if m.is_bye],
        eliminated_at={} if group else eliminations(format=bracket.format, matches=matches),
        reset=any(key_of(m) == SECOND_GRAND_FINAL_KEY for m in matches),
        losses=Counter(loser for p in played if (loser := p.loser) is not None),
    )


def run_to_the_end(format: str, n: int, *, rng: random.Random, chalk: bool = False) -> Run:
    """A bracket of ``n`` started, then played to the end (see ``play``)."""
    return play(Bracket(format=format, participants=n), rng=rng, chalk=chalk)
