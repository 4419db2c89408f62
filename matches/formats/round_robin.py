"""Round robin by the circle method: everyone meets everyone exactly once.

Why the circle method: it gives the minimum number of rounds (``n - 1`` for even ``n``,
``n`` for odd ``n``) with nobody playing twice in a round. Participant 1 stays fixed and
the others rotate one place per round; each round pairs the first of the circle with the
last, the second with the second to last, and so on. For odd ``n`` a dummy joins the
circle and whoever is paired with it sits out that round: no match is planned for them,
so each participant sits out exactly one round.
"""

from __future__ import annotations

from .plan import GROUP, PlannedMatch

MIN_PARTICIPANTS, MAX_PARTICIPANTS = 2, 1024


def rounds_count(n: int) -> int:
    """Rounds of a round robin of ``n``: ``n - 1`` if ``n`` is even, else ``n``."""
    return n - 1 if n % 2 == 0 else n


def plan(n: int) -> list[PlannedMatch]:
    """Plan a round robin for ``n`` participants (2..1024), seeds 1..n as labels.

    Bracket ``"group"``, rounds ``1..rounds_count(n)``, positions ``1..`` within a round.
    Side a holds the lower seed. There is no wiring: no ``winner_to``, no byes.
    """
    if not MIN_PARTICIPANTS <= n <= MAX_PARTICIPANTS:
        raise ValueError(
            f"a round robin needs {MIN_PARTICIPANTS}..{MAX_PARTICIPANTS} participants, not {n}"
        )
    dummy = n + 1 if n % 2 else None
    circle: list[int] = list(range(1, n + 1)) + ([dummy] if dummy else [])
    size = len(circle)
    matches: list[PlannedMatch] = []
    for r in range(1, size):
        position = 0
        for i in range(size // 2):
            x, y = circle[i], circle[size - 1 - i]
            if dummy in (x, y):
                continue  # the other one sits out this round
            position += 1
            matches.append(
                PlannedMatch(
                    bracket=GROUP, round=r, position=position, seed_a=min(x, y), seed_b=max(x, y)
                )
            )
        # Keep the first participant fixed, rotate the rest one place clockwise.
        circle = [circle[0], circle[-1], *circle[1:-1]]
    return matches
