"""Standings and final placements of a tournament's match rows, as ``matches.formats``
rules them.

The rules (points, tiebreakers, who is out where, the order of the placements) are the
pure functions of ``matches.formats``; this only hands them the rows and shapes their
answer: the standings as the API shows them (``GET .../standings``), the placements that
prizes are split by (``tournament.completed``, ``matches.progression``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from matches.formats import progress
from matches.formats.standings import elimination_standings, table
from matches.models import Match
from tournaments.models import Participant, Tournament


def standings_rows(
    *, tournament: Tournament, matches: list[Match], participants: list[Participant]
) -> list[dict]:
    """``[{participant, rank, wins, losses, draws, points, tiebreaks}]``, best first: the
    table with its tiebreakers in round robin and swiss; in the elimination formats, by the
    stage where each participant went out (1st, 2nd, 3rd-4th, 5th-8th... in single
    elimination), those still in first."""
    seeds = _seeds(participants)
    if tournament.format in progress.GROUP_FORMATS:
        results, byes = progress.group_results(matches)
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
            for r in table(participants=list(seeds), seeds=seeds, results=results, byes=byes)
        ]

    wins, losses = Counter(), Counter()
    for m in matches:
        if m.status == Match.Status.COMPLETED and not m.is_bye:
            wins[m.winner_id] += 1
            losses[progress.loser_of(m)] += 1
    eliminated_at = progress.eliminations(format=tournament.format, matches=matches)
    rows = []
    rank = 1
    for group in elimination_standings(seeds=seeds, eliminated_at=eliminated_at):
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
    *, tournament: Tournament, matches: Iterable[Match], participants: list[Participant]
) -> list[list[int]]:
    """Final placement groups, best first; tied participants share a group
    (``matches.formats.progress.placements``). ``participants``: the seeded ones; the
    disqualified among them take no place (those below move up)."""
    return progress.placements(
        format=tournament.format,
        matches=matches,
        seeds=_seeds(participants),
        disqualified=[p.pk for p in participants if p.status == Participant.Status.DISQUALIFIED],
    )


def _seeds(participants: list[Participant]) -> dict[int, int]:
    # Not seeded yet (before the start): seed 0.
    return {p.pk: p.seed or 0 for p in participants}
