"""The shape every bracket generator returns: a list of planned matches and their wiring.

A plan is static: it says which seeds start where and where each winner (and, in double
elimination, each loser) goes next. Running the tournament is the service's job; it
creates one row per ``PlannedMatch`` and follows ``winner_to`` / ``loser_to``.

Invariants every plan keeps (the tests check them for every field size):

- keys ``(bracket, round, position)`` are unique; round and position are 1-based;
- every ``Slot`` that a ``winner_to`` or ``loser_to`` names is fed by exactly one source
  (a seed or exactly one pointer), so the service never overwrites a side;
- a ``bye`` match has exactly one side that nothing will ever fill (no seed, no pointer
  into it); it completes at once, the present side winning, as soon as that side is known,
  and it has no ``loser_to`` (there is no loser);
- no match has two sides that will never be filled: such a "void" match is left out of the
  plan, so positions may have gaps (see ``double_elimination``).
"""

from __future__ import annotations

from dataclasses import dataclass

WINNERS, LOSERS, GRAND_FINAL, GROUP = "winners", "losers", "grand_final", "group"
SIDES = ("a", "b")

MatchKey = tuple[str, int, int]  # (bracket, round, position), round and position 1-based


@dataclass(frozen=True)
class Slot:
    """One side of one match: where a winner or a loser is sent."""

    key: MatchKey
    side: str  # "a" or "b"

    def __post_init__(self) -> None:
        if self.side not in SIDES:
            raise ValueError(f"side must be 'a' or 'b', not {self.side!r}")


@dataclass
class PlannedMatch:
    """A match of a plan, before any participant is known beyond the starting seeds."""

    bracket: str
    round: int
    position: int
    seed_a: int | None = None  # seed (1-based) on side a when the bracket starts, else None
    seed_b: int | None = None
    winner_to: Slot | None = None  # where the winner goes
    loser_to: Slot | None = None  # where the loser goes (double elimination winners bracket)
    # Exactly one side will never be filled; completes at once, the present side winning,
    # as soon as that side is known.
    bye: bool = False

    @property
    def key(self) -> MatchKey:
        return (self.bracket, self.round, self.position)


def next_power_of_two(n: int) -> int:
    """The smallest power of two that is >= ``n`` (``n`` >= 1)."""
    if n < 1:
        raise ValueError(f"n must be at least 1, not {n}")
    return 1 << (n - 1).bit_length()
