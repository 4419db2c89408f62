"""A pure simulator for bracket plans (``matches.formats``), used by the format tests.

It plays a plan the way the service will: seeds fill the first round, a match is played
once both sides are known (a bye as soon as its one present side is known, with no loser),
the winner follows ``winner_to`` and the loser ``loser_to``. Ready matches are played in
random order, to catch plans that only work in one order. When the grand final's side b
wins, a second grand final (key ``("grand_final", 2, 1)``) is played, as the service does.

Along the way it asserts what every plan must guarantee: no side is filled twice, a bye's
empty side is never filled, every planned match gets played.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

from matches.formats.double_elimination import needs_reset
from matches.formats.plan import GRAND_FINAL, MatchKey, PlannedMatch

GRAND_FINAL_RESET: MatchKey = (GRAND_FINAL, 2, 1)


@dataclass(frozen=True)
class Played:
    key: MatchKey
    a: int
    b: int
    winner: int

    @property
    def loser(self) -> int:
        return self.b if self.winner == self.a else self.a


@dataclass
class Run:
    champion: int
    played: list[Played]  # real matches, in the order they were played
    byes: list[tuple[MatchKey, int]]  # (bye match, the participant who went through)
    eliminated_at: dict[int, MatchKey]
    reset: bool
    losses: Counter = field(default_factory=Counter)


def simulate(plan: list[PlannedMatch], *, rng: random.Random, chalk: bool = False) -> Run:
    """Play ``plan`` to the end with random winners (or the lower seed, with ``chalk``).

    Participants are the seeds themselves, so ``chalk`` means the better seed always wins.
    """
    by_key = {m.key: m for m in plan}
    assert len(by_key) == len(plan), "duplicate match keys"
    sides: dict[MatchKey, dict[str, int]] = {m.key: {} for m in plan}
    for m in plan:
        for side, seed in (("a", m.seed_a), ("b", m.seed_b)):
            if seed is not None:
                sides[m.key][side] = seed
    done: set[MatchKey] = set()
    played: list[Played] = []
    byes: list[tuple[MatchKey, int]] = []
    eliminated_at: dict[int, MatchKey] = {}
    champion: int | None = None
    reset = False

    def fill(slot, participant: int) -> None:
        assert slot.key in by_key, f"pointer to a match not in the plan: {slot}"
        assert slot.key not in done, f"{slot} filled after its match was played"
        assert slot.side not in sides[slot.key], f"{slot} filled twice"
        sides[slot.key][slot.side] = participant
        if is_ready(slot.key):
            ready.add(slot.key)

    def pick(a: int, b: int) -> int:
        if chalk:
            return min(a, b)
        return rng.choice((a, b))

    def is_ready(key: MatchKey) -> bool:
        return key not in done and len(sides[key]) == (1 if by_key[key].bye else 2)

    ready = {m.key for m in plan if is_ready(m.key)}
    while ready:
        m = by_key[rng.choice(sorted(ready))]
        ready.discard(m.key)
        done.add(m.key)
        if m.bye:
            (present,) = sides[m.key].values()
            byes.append((m.key, present))
            assert m.loser_to is None, f"bye {m.key} has a loser_to"
            winner = present
            loser = None
        else:
            a, b = sides[m.key]["a"], sides[m.key]["b"]
            winner = pick(a, b)
            loser = b if winner == a else a
            played.append(Played(m.key, a, b, winner))
        if m.key[0] == GRAND_FINAL:
            assert loser is not None
            if needs_reset("a" if winner == sides[m.key]["a"] else "b"):
                reset = True
                a, b = sides[m.key]["a"], sides[m.key]["b"]
                final_winner = pick(a, b)
                played.append(Played(GRAND_FINAL_RESET, a, b, final_winner))
                winner = final_winner
                loser = b if final_winner == a else a
                eliminated_at[loser] = GRAND_FINAL_RESET
            else:
                eliminated_at[loser] = m.key
            champion = winner
            continue
        if m.winner_to is not None:
            fill(m.winner_to, winner)
        elif not m.bye:
            champion = winner  # single elimination final
        if loser is not None:
            if m.loser_to is not None:
                fill(m.loser_to, loser)
            else:
                eliminated_at[loser] = m.key

    unplayed = [m.key for m in plan if m.key not in done]
    assert not unplayed, f"matches never played: {unplayed}"
    assert champion is not None
    losses = Counter(p.loser for p in played)
    return Run(
        champion=champion,
        played=played,
        byes=byes,
        eliminated_at=eliminated_at,
        reset=reset,
        losses=losses,
    )
