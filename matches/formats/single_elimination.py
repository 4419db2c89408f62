"""Single elimination: standard seeding, byes to the top seeds, one loss and you are out.

Why standard bracket order: seeds ``s`` and ``size + 1 - s`` meet in the first round and the
order is built so that, if the better seed always wins, the top 2^j seeds are the ones left
after each round; in particular seeds 1 and 2 sit in different halves and can meet only in
the final.

Why no bye ever meets a bye: with ``P`` the next power of two above ``n`` (2 <= n, so
``P / 2 < n <= P``), every first-round pair is ``(s, P + 1 - s)``; the smaller of the two is
at most ``P / 2 < n``, so at least one side of every first-round match is a real seed. The
absent seeds ``n + 1 .. P`` therefore each face a distinct present seed, namely
``P + 1 - s``, i.e. exactly seeds ``1 .. P - n`` get the byes.
"""

from __future__ import annotations

from .plan import WINNERS, PlannedMatch, Slot, next_power_of_two

MIN_PARTICIPANTS, MAX_PARTICIPANTS = 2, 1024


def seed_order(size: int) -> list[int]:
    """Seeds in standard bracket order; consecutive pairs are the first-round matches.

    ``size`` must be a power of two. Built by doubling: each seed ``s`` of the order for
    ``m`` participants is replaced by the pair ``s, 2m + 1 - s``. Every pair sums to
    ``size + 1`` and the better seed of each pair comes first.

    >>> seed_order(8)
    [1, 8, 4, 5, 2, 7, 3, 6]
    """
    if size < 1 or size & (size - 1):
        raise ValueError(f"size must be a power of two, not {size}")
    order = [1]
    while len(order) < size:
        m = 2 * len(order)
        order = [seed for s in order for seed in (s, m + 1 - s)]
    return order


def _check_participants(n: int) -> None:
    if not MIN_PARTICIPANTS <= n <= MAX_PARTICIPANTS:
        raise ValueError(
            f"a bracket needs {MIN_PARTICIPANTS}..{MAX_PARTICIPANTS} participants, not {n}"
        )


def winners_bracket(n: int) -> list[PlannedMatch]:
    """The winners bracket for ``n`` participants, wired by ``winner_to`` only.

    Round 1 has ``P / 2`` matches (``P`` = next power of two); absent seeds (``> n``) are
    ``None`` and make their match a bye. Match ``p`` of round ``r`` feeds match
    ``ceil(p / 2)`` of round ``r + 1``, side ``"a"`` if ``p`` is odd else ``"b"``.
    """
    _check_participants(n)
    size = next_power_of_two(n)
    rounds = size.bit_length() - 1
    order = seed_order(size)
    matches: list[PlannedMatch] = []
    for r in range(1, rounds + 1):
        for p in range(1, size // 2**r + 1):
            match = PlannedMatch(bracket=WINNERS, round=r, position=p)
            if r == 1:
                seed_a, seed_b = order[2 * p - 2], order[2 * p - 1]
                match.seed_a = seed_a if seed_a <= n else None
                match.seed_b = seed_b if seed_b <= n else None
                # Never both None: see the module docstring.
                match.bye = match.seed_a is None or match.seed_b is None
            if r < rounds:
                match.winner_to = Slot((WINNERS, r + 1, (p + 1) // 2), "a" if p % 2 else "b")
            matches.append(match)
    return matches


def plan(n: int) -> list[PlannedMatch]:
    """Plan a single-elimination bracket for ``n`` participants (2..1024).

    Rounds ``1 .. log2(P)`` of bracket ``"winners"``; ``P - n`` first-round byes go to seeds
    ``1 .. P - n``; the real matches number ``n - 1`` (every participant but the champion
    loses exactly once). Matches are listed round by round, by position.
    """
    return winners_bracket(n)
