"""Tournaments that finish with a tie at the top, broken by the server's tiebreaks.

Both are the case of issue 12: two participants level on points, the lower seed ranked
second by the server. A page that ranks by points and then by seed (as the live page once
did for its banner) names the wrong champion.

- ``swiss_tied_on_buchholz``: four players, two rounds. Round 1: seed 1 beats seed 3, seed
  2 beats seed 4; round 2: seeds 1 and 2 draw, seed 4 beats seed 3. Seeds 1 and 2 have 3
  points each and the same head-to-head (their draw); Buchholz: seed 2's opponents have
  2 + 3 = 5 points, seed 1's 0 + 3 = 3, so seed 2 is first.
- ``round_robin_tied_on_head_to_head``: four players. Seed 2 beats seed 1, seed 1 beats
  seeds 3 and 4, seed 3 beats seed 2, seed 2 beats seed 4, seed 4 beats seed 3: seeds 1
  and 2 have 4 points each, and seed 2 won their game, so seed 2 is first.

Each returns the started tournament and a function that plays it out (through the
services, both sides reporting), to call from a thread of its own (``committed``) where
the test's thread runs a browser.
"""

from __future__ import annotations

from matches.models import Match
from matches.services import match_report, tournament_start
from tournaments.models import Participant
from tournaments.services import tournament_create, tournament_join

# Round-robin results: (winner seed, loser seed) for every pair of the four.
ROUND_ROBIN_BEATS = {(2, 1), (1, 3), (1, 4), (3, 2), (2, 4), (4, 3)}


def _started(make_user, format: str, name: str):
    organizer = make_user()
    tournament = tournament_create(
        organizer=organizer, name=name, format=format, max_participants=4
    )
    for seed in range(1, 5):
        tournament_join(tournament_id=tournament.pk, user=make_user(f"{format}-seed-{seed}"))
    return tournament_start(tournament_id=tournament.pk, user=organizer)


def _report(match: Match, winner_seed: int | None, seeds: dict[int, int]) -> None:
    """Both sides report the same result; ``winner_seed`` None is a draw."""
    by_seed = {seed: pk for pk, seed in seeds.items()}
    winner = None if winner_seed is None else by_seed[winner_seed]
    scores = [2, 1] if winner == match.participant_a_id else [1, 2]
    if winner is None:
        scores = [1, 1]
    for pk in (match.participant_a_id, match.participant_b_id):
        captain = Participant.objects.get(pk=pk).captain
        match_report(match_id=match.pk, user=captain, winner_id=winner, scores=scores)


def _seeds(tournament) -> dict[int, int]:
    return dict(Participant.objects.filter(tournament=tournament).values_list("pk", "seed"))


def _ready(tournament) -> list[Match]:
    return list(
        Match.objects.filter(tournament=tournament, status="ready").order_by("round", "position")
    )


def swiss_tied_on_buchholz(make_user):
    tournament = _started(make_user, "swiss", "Swiss tie")
    seeds = _seeds(tournament)

    def winner_of(match: Match) -> int | None:
        pair = {seeds[match.participant_a_id], seeds[match.participant_b_id]}
        if match.round == 1:
            return min(pair)  # 1 beats 3, 2 beats 4
        if pair == {1, 2}:
            return None  # a draw
        if pair == {3, 4}:
            return 4
        raise AssertionError(f"unexpected swiss pairing {sorted(pair)} in round {match.round}")

    def play_out():
        while matches := _ready(tournament):
            for match in matches:
                _report(match, winner_of(match), seeds)

    return tournament, play_out


def round_robin_tied_on_head_to_head(make_user):
    tournament = _started(make_user, "round_robin", "Round robin tie")
    seeds = _seeds(tournament)

    def play_out():
        while matches := _ready(tournament):
            for match in matches:
                a, b = seeds[match.participant_a_id], seeds[match.participant_b_id]
                _report(match, a if (a, b) in ROUND_ROBIN_BEATS else b, seeds)

    return tournament, play_out


def seed_of(tournament, seed: int) -> Participant:
    return Participant.objects.get(tournament=tournament, seed=seed)
