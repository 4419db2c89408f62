"""Standings and final placements from a tournament's matches.

Adapts Match rows to the pure functions in ``matches.formats.standings``: a table with
tiebreakers for round robin and swiss; for the elimination formats, placements by the
stage where each participant went out (1st, 2nd, 3rd–4th, 5th–8th… in single elimination).
"""

from __future__ import annotations

from collections import Counter

from matches.formats.standings import Result, table
from matches.models import Match
from tournaments.models import Participant, Tournament

Bracket = Match.Bracket
GROUP_FORMATS = (Tournament.Format.ROUND_ROBIN, Tournament.Format.SWISS)


def _played(matches: list[Match]) -> list[Match]:
    return [m for m in matches if m.status == Match.Status.COMPLETED and not m.is_bye]


def standings_rows(
    *, tournament: Tournament, matches: list[Match], participants: list[Participant]
) -> list[dict]:
    """``[{participant, rank, wins, losses, draws, points, tiebreaks}]``, best first."""
    seeds = {p.pk: p.seed or 0 for p in participants}
    if tournament.format in GROUP_FORMATS:
        byes = Counter(
            m.participant_a_id for m in matches if m.is_bye and m.status == Match.Status.COMPLETED
        )
        rows = table(
            participants=list(seeds),
            seeds=seeds,
            results=[
                Result(a=m.participant_a_id, b=m.participant_b_id, winner=m.winner_id)
                for m in _played(matches)
            ],
            byes=dict(byes),
        )
        return [
            {
                "participant": r.participant,
                "rank": r.rank,
                "wins": r.wins,
                "losses": r.losses,
                "draws": r.draws,
                "points": r.points,
                "tiebreaks": r.tiebreaks,
            }
            for r in rows
        ]

    wins, losses = Counter(), Counter()
    for m in _played(matches):
        wins[m.winner_id] += 1
        losses[m.loser_id()] += 1
    rows = []
    rank = 1
    for group in elimination_placements(tournament=tournament, matches=matches, seeds=seeds):
        for pk in group:
            rows.append(
                {
                    "participant": pk,
                    "rank": rank,
                    "wins": wins[pk],
                    "losses": losses[pk],
                    "draws": 0,
                    "points": wins[pk],
                    "tiebreaks": {"seed": seeds[pk]},
                }
            )
        rank += len(group)
    return rows


def placements_for(
    *, tournament: Tournament, matches: list[Match], participants: list[Participant]
) -> list[list[int]]:
    """Final placement groups, best first; tied participants share a group."""
    if tournament.format in GROUP_FORMATS:
        rows = standings_rows(tournament=tournament, matches=matches, participants=participants)
        return [[row["participant"]] for row in rows]
    seeds = {p.pk: p.seed or 0 for p in participants}
    return elimination_placements(tournament=tournament, matches=matches, seeds=seeds)


def elimination_placements(
    *, tournament: Tournament, matches: list[Match], seeds: dict[int, int]
) -> list[list[int]]:
    """Groups by how far each participant got: still in (by seed), then out at the latest
    stage first. In double elimination only losers-bracket and grand-final defeats put a
    participant out; a winners-bracket defeat only sends them down."""
    double = tournament.format == Tournament.Format.DOUBLE_ELIMINATION
    # Stage order: the later a participant went out, the better they placed.
    stage_rank = {Bracket.WINNERS: 0, Bracket.LOSERS: 0, Bracket.GRAND_FINAL: 1}
    out_at: dict[int, tuple[int, int]] = {}
    for m in _played(matches):
        loser = m.loser_id()
        if double and m.bracket == Bracket.WINNERS:
            continue
        if m.bracket == Bracket.GRAND_FINAL and m.round == 1 and m.winner_id == m.participant_b_id:
            continue  # the winners-bracket side's first loss: the grand final is played again
        out_at[loser] = (stage_rank[m.bracket], m.round)

    alive = sorted((pk for pk in seeds if pk not in out_at), key=lambda pk: seeds[pk])
    groups: list[list[int]] = (
        [[pk] for pk in alive] if len(alive) == 1 else ([alive] if alive else [])
    )
    for stage in sorted(set(out_at.values()), reverse=True):
        groups.append(
            sorted((pk for pk, s in out_at.items() if s == stage), key=lambda pk: seeds[pk])
        )
    return groups
