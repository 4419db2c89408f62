"""Swiss pairing: players with equal scores meet, nobody meets the same opponent twice.

Each round is paired as a maximum-weight perfect matching (``networkx``) on the graph of
allowed pairs (those who have not met). Weights encode, in strict priority order:

1. as many pairs as possible (``maxcardinality=True``: a perfect matching if one exists);
2. the smallest sum of squared score differences (players stay in their score group, and
   when someone must float to the next group, the float is as short as possible);
3. within a score group, the top half meets the bottom half (1 v g/2+1, 2 v g/2+2, ...);
   across groups, the floaters are as close in rank as possible.

Priority 2 dominates 3 because one unit of squared score difference weighs more than
every rank penalty of a whole round together (``score_weight`` below).

The bye (odd number of players) goes to the lowest-ranked player who has not had one;
when the others cannot all be paired without a rematch, the next candidate up gets it.
Only when no candidate works is ``PairingImpossible`` raised.

``pair_round`` pairs by whatever scores the caller counts; ``round_plan``, what the service
plays, counts the standings' points (``standings.points``: win 2, draw 1, loss 0, a bye a
win). ``players`` gives the order among equal scores, normally by seed (lower seed
stronger), so "lowest ranked" means lowest score, then latest in ``players`` (the highest
seed).
"""

from __future__ import annotations

from collections.abc import Callable

import networkx as nx

from .plan import GROUP, PlannedMatch
from .standings import Result, points


class PairingImpossible(Exception):
    """No pairing without rematches (and without a second bye) exists for this round."""

    code = "pairing_impossible"


def default_rounds(n: int) -> int:
    """Swiss rounds for ``n`` players: ``ceil(log2(n))``, at least 1."""
    if n < 1:
        raise ValueError(f"n must be at least 1, not {n}")
    return max(1, (n - 1).bit_length())


def round_plan(
    *, round_number: int, players: list[int], results: list[Result], byes: dict[int, int]
) -> list[PlannedMatch]:
    """The matches of round ``round_number``, paired on the results so far.

    ``players`` are seeds (``PlannedMatch`` labels), best first; ``results`` every match
    played so far and ``byes`` how many byes each player had. Scores are the standings'
    points; nobody meets an opponent of a result again, nobody gets a second bye. Pairs
    take positions ``1..`` in board order; the bye, if any, is the last position, a bye
    match with the player on side a. Raises ``PairingImpossible`` like ``pair_round``.
    """
    pairs, bye = pair_round(
        players=players,
        scores=points(participants=players, results=results, byes=byes),
        played={frozenset((result.a, result.b)) for result in results},
        had_bye={player for player, count in byes.items() if count},
    )
    planned = [
        PlannedMatch(bracket=GROUP, round=round_number, position=i, seed_a=a, seed_b=b)
        for i, (a, b) in enumerate(pairs, start=1)
    ]
    if bye is not None:
        planned.append(
            PlannedMatch(
                bracket=GROUP, round=round_number, position=len(pairs) + 1, seed_a=bye, bye=True
            )
        )
    return planned


def pair_round(
    *,
    players: list[int],
    scores: dict[int, int],
    played: set[frozenset[int]],
    had_bye: set[int],
) -> tuple[list[tuple[int, int]], int | None]:
    """Pair one round.

    ``players``: every player still in the event, in ranking order among equal scores;
    ``scores``: points so far (missing = 0); ``played``: pairs that already met;
    ``had_bye``: players who already had a bye.

    Returns ``(pairs, bye)``: each pair ``(a, b)`` has ``a`` ranked above ``b``; pairs are
    listed by the rank of their ``a`` (board order); ``bye`` is the player sitting out, or
    ``None`` for an even count. Raises ``PairingImpossible`` when no pairing avoids both a
    rematch and a second bye.
    """
    if len(set(players)) != len(players):
        raise ValueError("players must be distinct")
    if len(players) < 2:
        raise PairingImpossible("at least two players are needed to pair a round")
    # Stable sort: equal scores keep the caller's order.
    ranked = sorted(players, key=lambda p: -scores.get(p, 0))
    if len(ranked) % 2 == 0:
        candidates: list[int | None] = [None]
    else:
        candidates = [p for p in reversed(ranked) if p not in had_bye]
        if not candidates:
            raise PairingImpossible("every player has already had a bye")
    for bye in candidates:
        pool = [p for p in ranked if p != bye]
        pairs = _pair_pool(pool=pool, scores=scores, played=played)
        if pairs is not None:
            return pairs, bye
    raise PairingImpossible(
        f"no pairing of these {len(players)} players avoids a rematch"
        + (" with any allowed bye" if len(players) % 2 else "")
    )


def _pair_pool(
    *, pool: list[int], scores: dict[int, int], played: set[frozenset[int]]
) -> list[tuple[int, int]] | None:
    """A perfect matching of ``pool`` (in rank order) without rematches, or ``None``."""
    n = len(pool)
    rank = {p: i for i, p in enumerate(pool)}
    groups: dict[int, list[int]] = {}
    for p in pool:
        groups.setdefault(scores.get(p, 0), []).append(p)
    place = {p: i for members in groups.values() for i, p in enumerate(members)}

    # Rank penalties are below n^2 per pair and there are n/2 pairs, so below n^3 a round.
    score_weight = n**3 + 1

    def penalty(x: int, y: int) -> int:
        sx, sy = scores.get(x, 0), scores.get(y, 0)
        if sx == sy:
            half = len(groups[sx]) // 2
            rank_penalty = (abs(place[x] - place[y]) - half) ** 2
        else:
            rank_penalty = (abs(rank[x] - rank[y]) - 1) ** 2
        return score_weight * (sx - sy) ** 2 + rank_penalty

    # Dense graphs are slow: networkx's blossom algorithm is pure Python, and a dense round
    # of 256 players took 1.5-5 s. So each player is first offered only nearby candidates
    # (by overall rank, for floats, and around the ideal top-half/bottom-half partner in
    # its score group), widening only when that sparse graph has no perfect matching. The
    # last try is the full graph, so the restriction never turns a possible pairing into an
    # impossible one; on 840 random rounds (3..80 players) it found pairings exactly as good
    # in score differences as the dense graph. Measured: a round of 256 takes ~0.1 s
    # (median; 0.3 s worst over 80 rounds); 1024 players take ~2-3 s a round.
    reach = _INITIAL_REACH
    while True:
        dense = reach >= n
        edges = {
            (x, y) if rank[x] < rank[y] else (y, x)
            for x in pool
            for y in (pool if dense else _nearby(x, reach, pool, rank, groups, scores, place))
            if x != y and frozenset((x, y)) not in played
        }
        matching = _max_weight_perfect(pool, edges, penalty)
        if matching is not None or dense:
            break
        reach *= _REACH_GROWTH
    if matching is None:
        return None
    pairs = [(x, y) if rank[x] < rank[y] else (y, x) for x, y in matching]
    return sorted(pairs, key=lambda pair: rank[pair[0]])


_INITIAL_REACH = 4  # candidates on each side of a player's rank and of the ideal partner
_REACH_GROWTH = 4


def _nearby(
    x: int,
    reach: int,
    pool: list[int],
    rank: dict[int, int],
    groups: dict[int, list[int]],
    scores: dict[int, int],
    place: dict[int, int],
) -> list[int]:
    """Candidate opponents of ``x``: ``reach`` players either side of it by rank, and
    ``reach`` players either side of its ideal partner (half a group away) in its group."""
    i = rank[x]
    near = pool[max(0, i - reach) : i + reach + 1]
    group = groups[scores.get(x, 0)]
    half, j = len(group) // 2, place[x]
    for centre in (j - half, j + half):
        near += group[max(0, centre - reach) : max(0, centre + reach + 1)]
    return near


def _max_weight_perfect(
    pool: list[int], edges: set[tuple[int, int]], penalty: Callable[[int, int], int]
) -> set[tuple[int, int]] | None:
    """The best perfect matching of ``pool`` using only ``edges``, or ``None``."""
    if 2 * len(edges) < len(pool):
        return None
    weighted = [(x, y, penalty(x, y)) for x, y in sorted(edges)]
    # Positive weights (top - penalty) so that a heavier matching is a better one.
    top = max(w for _, _, w in weighted) + 1
    graph = nx.Graph()
    graph.add_nodes_from(pool)
    graph.add_weighted_edges_from((x, y, top - w) for x, y, w in weighted)
    matching = nx.max_weight_matching(graph, maxcardinality=True)
    return matching if 2 * len(matching) == len(pool) else None
