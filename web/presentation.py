"""How the pages word the service's values: money, statuses, formats, rounds and results.

The words are the live page's (consumers/static/live/live.js), so a tournament reads the
same on every page.
"""

from django.conf import settings

from matches.models import Match, MatchReport
from tournaments.models import Tournament

STATUS_LABELS = {
    Tournament.Status.REGISTRATION: "Registration open",
    Tournament.Status.IN_PROGRESS: "In progress",
    Tournament.Status.COMPLETED: "Completed",
    Tournament.Status.CANCELLED: "Cancelled",
}

FORMAT_LABELS = {
    Tournament.Format.SINGLE_ELIMINATION: "Single elimination",
    Tournament.Format.DOUBLE_ELIMINATION: "Double elimination",
    Tournament.Format.ROUND_ROBIN: "Round robin",
    Tournament.Format.SWISS: "Swiss",
}


def money_text(amount: int, currency: str | None = None) -> str:
    """An amount of minor units as the currency: 123456 -> "1,234.56 USD".

    API.md stores money as integer cents of the deployment's one currency
    (``settings.CURRENCY``); like the notifications' wording (notifications/services.py),
    a hundredth is the minor unit whatever the currency.
    """
    currency = settings.CURRENCY if currency is None else currency
    sign = "-" if amount < 0 else ""
    units, cents = divmod(abs(amount), 100)
    return f"{sign}{units:,}.{cents:02d} {currency}"


# --- Matches (my matches, the match room, the console) --------------------------------------

MATCH_STATUS_LABELS = {
    Match.Status.PENDING: "Waiting for the opponent",
    Match.Status.READY: "Ready to play",
    Match.Status.AWAITING_CONFIRMATION: "Awaiting confirmation",
    Match.Status.DISPUTED: "Disputed",
    Match.Status.COMPLETED: "Completed",
}


def round_label(match: Match, *, last_round: int | None) -> str:
    """The round's name, as the live page names it: "Final", "Winners semifinals", "Losers
    round 2", "Grand final reset", "Round 3 of 5"."""
    tournament = match.tournament
    if match.bracket == Match.Bracket.GRAND_FINAL:
        return "Grand final" if match.round == 1 else "Grand final reset"
    if match.bracket == Match.Bracket.LOSERS:
        return "Losers final" if match.round == last_round else f"Losers round {match.round}"
    if match.bracket == Match.Bracket.GROUP:
        rounds = tournament.swiss_rounds if tournament.format == "swiss" else last_round
        return f"Round {match.round} of {rounds}" if rounds else f"Round {match.round}"
    double = tournament.format == Tournament.Format.DOUBLE_ELIMINATION
    names = (
        ["Winners final", "Winners semifinals", "Winners quarterfinals"]
        if double
        else ["Final", "Semifinals", "Quarterfinals"]
    )
    from_end = (last_round or match.round) - match.round
    if from_end < len(names):
        return names[from_end]
    return f"Winners round {match.round}" if double else f"Round {match.round}"


def result_text(
    match: Match, names: dict[int, str], winner_id: int | None, scores: list[int] | None
) -> str:
    """A result in words: "Alice won 2–1", "Draw 1–1", "Alice won"."""
    score = f" {scores[0]}–{scores[1]}" if scores else ""
    if winner_id is None:
        return f"Draw{score}"
    if match.is_bye:
        return f"{names.get(winner_id, 'A side')} went through (a bye)"
    return f"{names.get(winner_id, 'A side')} won{score}"


def report_text(match: Match, names: dict[int, str], report: MatchReport) -> str:
    """What a side reported, in words, with the games it listed: "Alice won 2–1, games
    3–1, 0–2, 5–4". The side that confirms a series result agrees to its games too (the
    match keeps them), so it is shown them."""
    text = result_text(match, names, report.winner_id, report.scores)
    if report.games:
        text += f", games {games_text(report.games)}"
    return text


def games_text(games: list[list[int]]) -> str:
    """A series' games in words: "3–1, 0–2, 5–4"."""
    return ", ".join(f"{a}–{b}" for a, b in games)
