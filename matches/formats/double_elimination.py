"""Double elimination: a winners bracket, a losers bracket and a grand final.

Shape for ``P = 2^k`` bracket slots (``P`` = next power of two above ``n``):

- winners bracket ("winners"), rounds ``1..k``: exactly as in single elimination, plus
  ``loser_to`` on every real match;
- losers bracket ("losers"), rounds ``1..2(k-1)``: round 1 pairs the losers of winners
  round 1 (matches ``2p-1`` and ``2p`` into position ``p``); round ``2r`` puts the winner of
  losers round ``2r-1`` position ``p`` on side a against a loser of winners round ``r+1``
  (a "drop-in") on side b; round ``2r+1`` pairs the winners of round ``2r`` (positions
  ``2p-1`` and ``2p`` into ``p``). Its last round is the losers final, whose side b is the
  loser of the winners final;
- grand final ("grand_final", round 1, position 1): winners-bracket champion on side a,
  losers-bracket champion on side b. The second grand final is not planned: the bracket's
  progress (``progress``) makes it, at ``SECOND_GRAND_FINAL_KEY``, when ``needs_reset``
  says so.

With ``n = 2`` there is no losers bracket: the loser of the only winners match goes
straight to side b of the grand final.

Drop-in order (which losers-bracket position a winners-bracket loser drops into). Rule:
the loser of winners round ``r+1`` match ``q`` drops into losers round ``2r`` at the
*neighbouring* position, ``q + 1`` for odd ``q`` and ``q - 1`` for even ``q`` (position 1
for the losers final, which has one match).

Property this buys ("fresh drop-in match"): in every losers round that has at least two
matches, a dropped player never meets someone they could already have played in the
winners bracket. Proof by induction: after losers round ``2r-1``, position ``p`` holds only
players who lost in the winners subtree under winners round ``r+1`` match ``p`` (true for
round 1 by construction; round ``2r`` adds the loser of match ``p xor 1``, a sibling in the
same round-``r+2`` subtree, and round ``2r+1`` merges the two siblings, giving exactly the
subtree of round ``r+2`` match ``ceil(p/2)``). A player losing in match ``q`` has only
played people from the subtree under ``q`` and lands at the neighbour position, whose
players all come from the neighbour's subtree: disjoint. The losers final is the exception
nobody can avoid: everyone but the two winners finalists can reach its side a.
Why not the common "alternately reverse and swap halves" order: with losers round 1 and the
odd losers rounds fixed to pair neighbours, the neighbour swap is the only order that keeps
this property in every round with two or more matches (reversing already fails at P = 16,
losers round 4). What it costs, honestly: a dropped player's *second* losers match may be
against someone they beat in the winners bracket, and when their drop-in match is a bye
(its other side void, see below) their first real losers match may be too.

Byes. A side is *empty* when its source is an absent seed, the winner of a void match, or
the loser of a bye or void match. One empty side makes a match a ``bye``; two make it
*void*, and void matches are left out of the plan (their positions are gaps). Pointers
whose source is empty are removed, so nothing ever points into an empty side and a bye has
no ``loser_to``. Emptiness is computed in play order, so cascades (a void feeding a match
that thereby becomes a bye) come out right. Winners byes only occur in round 1; a losers
round-1 match is a bye or void when one or both of its winners matches were byes, which
can in turn make a losers round-2 match a bye (never void: its drop-in side is the loser of
a real winners round-2 match).
"""

from __future__ import annotations

from .plan import GRAND_FINAL, LOSERS, WINNERS, MatchKey, PlannedMatch, Slot
from .single_elimination import winners_bracket

GRAND_FINAL_KEY: MatchKey = (GRAND_FINAL, 1, 1)
# Not planned: made when the first grand final ``needs_reset`` (matches.formats.progress).
SECOND_GRAND_FINAL_KEY: MatchKey = (GRAND_FINAL, 2, 1)


def needs_reset(grand_final_winner_side: str) -> bool:
    """Whether the grand final must be played again: the losers-bracket champion (side b)
    won the first one, so both finalists now have one loss."""
    if grand_final_winner_side not in ("a", "b"):
        raise ValueError(f"side must be 'a' or 'b', not {grand_final_winner_side!r}")
    return grand_final_winner_side == "b"


def drop_position(*, position: int, matches_in_round: int) -> int:
    """Losers-bracket position for the loser of winners match ``position`` (see the module
    docstring for the rule and the property it keeps)."""
    if matches_in_round == 1:
        return 1
    return position + 1 if position % 2 else position - 1


def plan(n: int) -> list[PlannedMatch]:
    """Plan a double-elimination bracket for ``n`` participants (2..1024).

    Returned in play order: winners rounds, then losers rounds, then the grand final.
    Real (non-bye) matches number ``2n - 2``, plus one if the grand final is reset.
    """
    matches = winners_bracket(n)
    rounds = max(m.round for m in matches)  # k, with P = 2^k
    size = 2**rounds
    by_key = {m.key: m for m in matches}
    wb_final = by_key[(WINNERS, rounds, 1)]
    wb_final.winner_to = Slot(GRAND_FINAL_KEY, "a")

    lb_rounds = 2 * (rounds - 1)
    for lr in range(1, lb_rounds + 1):
        count = size // 2 ** ((lr + 1) // 2 + 1)  # P/4, P/4, P/8, P/8, ...
        for p in range(1, count + 1):
            match = PlannedMatch(bracket=LOSERS, round=lr, position=p)
            if lr == lb_rounds:
                match.winner_to = Slot(GRAND_FINAL_KEY, "b")
            elif lr % 2:  # odd round: its winner meets a drop-in at the same position
                match.winner_to = Slot((LOSERS, lr + 1, p), "a")
            else:  # even round: winners pair up with their neighbour
                match.winner_to = Slot((LOSERS, lr + 1, (p + 1) // 2), "a" if p % 2 else "b")
            matches.append(match)
            by_key[match.key] = match

    for m in list(by_key.values()):
        if m.bracket != WINNERS:
            continue
        if rounds == 1:
            m.loser_to = Slot(GRAND_FINAL_KEY, "b")
        elif m.round == 1:
            m.loser_to = Slot((LOSERS, 1, (m.position + 1) // 2), "a" if m.position % 2 else "b")
        else:
            count = size // 2**m.round
            target = drop_position(position=m.position, matches_in_round=count)
            m.loser_to = Slot((LOSERS, 2 * (m.round - 1), target), "b")

    grand_final = PlannedMatch(bracket=GRAND_FINAL, round=1, position=1)
    matches.append(grand_final)
    return _drop_void_matches(matches)


def _drop_void_matches(matches: list[PlannedMatch]) -> list[PlannedMatch]:
    """Mark byes, remove void matches and every pointer whose source is empty.

    ``matches`` must be in play order (every match after the matches that feed it).
    """
    feeders: dict[Slot, tuple[PlannedMatch, str]] = {}
    for m in matches:
        for outcome, slot in (("winner", m.winner_to), ("loser", m.loser_to)):
            if slot is not None:
                if slot in feeders:
                    raise AssertionError(f"two sources feed {slot}")
                feeders[slot] = (m, outcome)

    empty_output: set[tuple[MatchKey, str]] = set()  # (match key, "winner" / "loser")
    kept: list[PlannedMatch] = []
    for m in matches:
        empty_sides = 0
        for side, seed in (("a", m.seed_a), ("b", m.seed_b)):
            if seed is not None:
                continue
            source = feeders.get(Slot(m.key, side))
            if source is None or (source[0].key, source[1]) in empty_output:
                empty_sides += 1
        if empty_sides == 2:
            empty_output.update({(m.key, "winner"), (m.key, "loser")})
            continue
        m.bye = empty_sides == 1
        if m.bye:
            empty_output.add((m.key, "loser"))
        kept.append(m)

    # A kept match always has a winner; only a bye's missing loser needs unwiring.
    for m in kept:
        if (m.key, "loser") in empty_output:
            m.loser_to = None
    return kept
