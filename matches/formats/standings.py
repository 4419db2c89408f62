"""Standings tables (round robin, swiss) and placements (elimination formats).

Table order, and why: points first (win 2, draw 1, loss 0, a bye counts as a win); among
participants level on points, the points they took from each other (head-to-head: the
result between the tied players is the fairest way to separate them); then Buchholz (the
sum of the opponents' points: a harder schedule ranks higher; byes add nothing); then the
seed (lower first). Seeds are distinct, so ranks are always ``1..n`` with no ties.

Head-to-head is computed once over the whole group level on points; it is not re-applied
to a sub-group that stays level (the next criterion, Buchholz, decides that).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .plan import GRAND_FINAL, LOSERS, WINNERS, MatchKey

WIN_POINTS, DRAW_POINTS = 2, 1


@dataclass(frozen=True)
class Result:
    """A completed match between ``a`` and ``b``; ``winner`` is ``None`` for a draw."""

    a: int
    b: int
    winner: int | None  # None = draw; ids are opaque ints

    def __post_init__(self) -> None:
        if self.a == self.b:
            raise ValueError(f"a participant cannot play itself ({self.a})")
        if self.winner is not None and self.winner not in (self.a, self.b):
            raise ValueError(f"winner {self.winner} played neither side of {self.a} v {self.b}")


@dataclass
class Standing:
    participant: int
    rank: int
    wins: int  # byes included
    losses: int
    draws: int
    points: int
    # {"head_to_head": points among those level on points, "buchholz": ..., "seed": ...}
    tiebreaks: dict[str, int] = field(default_factory=dict)


def points(
    *, participants: list[int], results: list[Result], byes: dict[int, int] | None = None
) -> dict[int, int]:
    """Points of every participant: ``WIN_POINTS`` a win (a bye is a win), ``DRAW_POINTS``
    a draw, nothing for a loss. What ``table`` ranks by first, and what swiss pairs by."""
    wins, _, draws = _tally(participants=participants, results=results, byes=byes or {})
    return _points(wins, draws)


def _points(wins: dict[int, int], draws: dict[int, int]) -> dict[int, int]:
    return {p: WIN_POINTS * wins[p] + DRAW_POINTS * draws[p] for p in wins}


def _tally(
    *, participants: list[int], results: list[Result], byes: dict[int, int]
) -> tuple[dict[int, int], dict[int, int], dict[int, int]]:
    """Wins (byes included), losses and draws of every participant; refuses results and
    byes that name someone else."""
    known = set(participants)
    if len(known) != len(participants):
        raise ValueError("participants must be distinct")
    for result in results:
        if not {result.a, result.b} <= known:
            raise ValueError(f"result {result} names an unknown participant")
    if not byes.keys() <= known:
        raise ValueError(f"byes name unknown participants {sorted(byes.keys() - known)}")
    wins = {p: byes.get(p, 0) for p in participants}
    losses = dict.fromkeys(participants, 0)
    draws = dict.fromkeys(participants, 0)
    for result in results:
        if result.winner is None:
            draws[result.a] += 1
            draws[result.b] += 1
        else:
            wins[result.winner] += 1
            losses[result.b if result.winner == result.a else result.a] += 1
    return wins, losses, draws


def table(
    *,
    participants: list[int],
    seeds: dict[int, int],
    results: list[Result],
    byes: dict[int, int] | None = None,
) -> list[Standing]:
    """The standings table, best first, ranks ``1..len(participants)``.

    ``seeds`` must give every participant a distinct seed. ``byes[p]`` is how many byes
    ``p`` had (each counts as a win, no opponent). ``wins`` includes byes, so
    ``points == 2 * wins + draws`` for every row.
    """
    if len(set(participants)) != len(participants):
        raise ValueError("participants must be distinct")
    missing = set(participants) - seeds.keys()
    if missing:
        raise ValueError(f"no seed for {sorted(missing)}")
    if len({seeds[p] for p in participants}) != len(participants):
        raise ValueError("seeds must be distinct")
    wins, losses, draws = _tally(participants=participants, results=results, byes=byes or {})
    points = _points(wins, draws)

    buchholz = dict.fromkeys(participants, 0)
    for result in results:
        buchholz[result.a] += points[result.b]
        buchholz[result.b] += points[result.a]

    # Head-to-head: points taken in results where both sides are level on points.
    head_to_head = dict.fromkeys(participants, 0)
    for result in results:
        if points[result.a] != points[result.b]:
            continue
        if result.winner is None:
            head_to_head[result.a] += DRAW_POINTS
            head_to_head[result.b] += DRAW_POINTS
        else:
            head_to_head[result.winner] += WIN_POINTS

    order = sorted(
        participants,
        key=lambda p: (-points[p], -head_to_head[p], -buchholz[p], seeds[p]),
    )
    return [
        Standing(
            participant=p,
            rank=rank,
            wins=wins[p],
            losses=losses[p],
            draws=draws[p],
            points=points[p],
            tiebreaks={
                "head_to_head": head_to_head[p],
                "buchholz": buchholz[p],
                "seed": seeds[p],
            },
        )
        for rank, p in enumerate(order, start=1)
    ]


def table_placements(standings: list[Standing]) -> list[list[int]]:
    """Placement groups (one participant each) from a table, for ``payouts.prize_shares``."""
    return [[s.participant] for s in sorted(standings, key=lambda s: s.rank)]


def elimination_placements(
    *,
    champion: int,
    eliminated_at: dict[int, MatchKey],
    seeds: dict[int, int] | None = None,
) -> list[list[int]]:
    """Placement groups, best first, for single or double elimination.

    ``eliminated_at`` maps every participant but the champion to the key
    ``(bracket, round, position)`` of the match that knocked them out (their last loss;
    never a bye). Participants knocked out at the same stage share a group, and a later
    stage is a better one: in single elimination the stage is the winners round (8
    players: ``[[champion], [runner-up], [2 semifinal losers], [4 quarterfinal
    losers]]``); in double elimination it is the losers round, and the grand-final loser
    (first or second grand final) is above every losers round: ``[[champion], [grand final
    loser], [losers final loser], [losers of the losers round before], ...]``. A winners
    match never eliminates anyone in double elimination, so mixing winners and losers keys
    is an error. Within a group, participants are ordered by ``seeds`` if given, else by id.
    """
    if champion in eliminated_at:
        raise ValueError(f"the champion {champion} cannot also be eliminated")
    order = seeds.__getitem__ if seeds is not None else None
    return [[champion], *_knocked_out_groups(eliminated_at, order=order)]


def elimination_standings(
    *, seeds: dict[int, int], eliminated_at: dict[int, MatchKey]
) -> list[list[int]]:
    """Placement groups, best first, of an elimination bracket at any point of its play.

    ``seeds``: every participant, with their seed; ``eliminated_at`` as for
    ``elimination_placements``. The participants still in make the first group, by seed
    (once the bracket is over, the champion alone: ``elimination_placements``); then those
    knocked out, by stage, the latest stage first. Used for the live standings and for the
    final placements that prizes are paid by.
    """
    unknown = eliminated_at.keys() - seeds.keys()
    if unknown:
        raise ValueError(f"no seed for eliminated participants {sorted(unknown)}")
    still_in = sorted((p for p in seeds if p not in eliminated_at), key=seeds.__getitem__)
    knocked_out = _knocked_out_groups(eliminated_at, order=seeds.__getitem__)
    return ([still_in] if still_in else []) + knocked_out


def _knocked_out_groups(
    eliminated_at: dict[int, MatchKey], *, order: Callable[[int], int] | None
) -> list[list[int]]:
    """Groups of the participants knocked out at the same stage, the latest stage first;
    within a group by ``order`` (else by id)."""
    brackets = {bracket for bracket, _, _ in eliminated_at.values()}
    if {WINNERS, LOSERS} <= brackets:
        raise ValueError("winners and losers eliminations cannot be mixed")
    if not brackets <= {WINNERS, LOSERS, GRAND_FINAL}:
        raise ValueError(f"not an elimination bracket: {sorted(brackets)}")

    def stage(key: MatchKey) -> tuple[int, int]:
        bracket, round_, _ = key
        return (1, 0) if bracket == GRAND_FINAL else (0, round_)

    groups: dict[tuple[int, int], list[int]] = {}
    for participant, key in eliminated_at.items():
        groups.setdefault(stage(key), []).append(participant)
    return [sorted(groups[s], key=order) for s in sorted(groups, reverse=True)]
