"""Prize money: shares of the pool by placement, and a team's share among its roster.

All amounts are integer minor units (cents). Every share is rounded down and the
remainder goes to first place (or the captain), so the shares always add up to exactly
the amount being split: no cent is created or lost.
"""

from __future__ import annotations


def prize_shares(*, pool: int, split: list[int], placements: list[list[int]]) -> dict[int, int]:
    """Split ``pool`` by placement.

    ``split``: whole percentages for 1st, 2nd, 3rd, ... (non-negative, summing to 100).
    ``placements``: groups of participants, best first; a group of ``m`` after ``k``
    participants covers places ``k+1 .. k+m`` (a tie, e.g. the two semifinal losers share
    3rd-4th) and its members split the sum of those places' percentages evenly.

    Each member's share is rounded down. Everything not handed out goes to the first member
    of the first group (list a tie for first in the order the remainder should go): the
    rounding remainder, and the percentages of paid places nobody occupies (fewer
    participants than paid places). Places beyond ``split`` get nothing.
    Participants whose share is 0 are left out of the result, so every entry can become a
    ledger line. ``sum(result.values()) == pool`` always.
    """
    if pool < 0:
        raise ValueError(f"pool must not be negative, not {pool}")
    if any(percent < 0 for percent in split) or sum(split) != 100:
        raise ValueError(f"split must be non-negative percentages summing to 100: {split}")
    flat = [p for group in placements for p in group]
    if any(not group for group in placements):
        raise ValueError("placement groups must not be empty")
    if len(set(flat)) != len(flat):
        raise ValueError("a participant appears in two placements")
    if not flat:
        if pool:
            raise ValueError("there is nobody to pay the pool to")
        return {}

    shares: dict[int, int] = {}
    place = 0
    for group in placements:
        percent = sum(split[place : place + len(group)])
        place += len(group)
        each = pool * percent // (100 * len(group))
        for participant in group:
            shares[participant] = each
    shares[placements[0][0]] += pool - sum(shares.values())
    return {p: amount for p, amount in shares.items() if amount > 0}


def split_among_roster(*, amount: int, members: list[int], captain: int) -> dict[int, int]:
    """Split a team's ``amount`` evenly among ``members``; the remainder goes to ``captain``.

    Members whose share is 0 are left out. ``sum(result.values()) == amount`` always.
    """
    if amount < 0:
        raise ValueError(f"amount must not be negative, not {amount}")
    if len(set(members)) != len(members):
        raise ValueError("members must be distinct")
    if captain not in members:
        raise ValueError(f"the captain {captain} is not on the roster")
    each = amount // len(members)
    shares = dict.fromkeys(members, each)
    shares[captain] += amount - each * len(members)
    return {m: share for m, share in shares.items() if share > 0}
