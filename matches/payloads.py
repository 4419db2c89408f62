"""The JSON shape of a match: the payload of its events and live frames, the matches of a
snapshot, and the REST answers, built here from attributes by hand (see
``tournaments.payloads``).

The domain builds these itself (the services put them in the event log; the snapshot and
the live sockets send them), so no REST field can change a stored event by accident:
``matches.serializers`` documents the same shape for the OpenAPI schema and the REST views
answer with these functions. ``tests/matches/test_payloads.py`` proves both give the same
JSON; a field added to one must be added to the other.
"""

from __future__ import annotations

from collections import defaultdict
from typing import NamedTuple

from matches.models import Match, MatchReport
from matches.selectors import bracket_order
from project.encoding import JsonText, UtcText, datetime_text, json_fragment


def report_render(report) -> dict:
    return {
        "participant": report.participant_id,
        "winner": report.winner_id,
        "scores": report.scores,
        "games": report.games,
        "at": datetime_text(report.at),
    }


def match_render(match, reports) -> dict:
    """``reports``: the match's reports (instances or rows), in pk order."""
    return {
        "id": match.id,
        "tournament": match.tournament_id,
        "bracket": match.bracket,
        "round": match.round,
        "position": match.position,
        "participant_a": match.participant_a_id,
        "participant_b": match.participant_b_id,
        "status": match.status,
        "winner": match.winner_id,
        "scores": match.scores,
        "best_of": match.best_of,
        "games": match.games,
        "forfeit": match.forfeit_id,
        "reports": [report_render(report) for report in reports],
        "next_match": match.next_match_id,
        "loser_next_match": match.loser_next_match_id,
    }


def match_data(match: Match) -> dict:
    """The payload of a match whose reports were loaded (``match.loaded_reports``: set by the
    selectors' ``Prefetch(..., to_attr=...)`` or by the service that changed the match);
    issues no query."""
    return match_render(match, match.loaded_reports)


def matches_data(matches) -> list[dict]:
    """``match_data`` of each match, in the order given."""
    return [match_render(match, match.loaded_reports) for match in matches]


class _MatchRow(NamedTuple):
    id: int
    tournament_id: int
    bracket: str
    round: int
    position: int
    participant_a_id: int | None
    participant_b_id: int | None
    status: str
    winner_id: int | None
    scores: object  # JSON text to embed (json_fragment)
    best_of: int
    games: object  # JSON text to embed (json_fragment)
    forfeit_id: int | None
    next_match_id: int | None
    loser_next_match_id: int | None


class _ReportRow(NamedTuple):
    match_id: int
    participant_id: int
    winner_id: int | None
    scores: object
    games: object
    at: str  # already datetime_text


def bracket_rendered(*, tournament_id: int) -> list[dict]:
    """Every match of the tournament in bracket order (``matches.selectors.bracket_order``)
    with its reports: two queries of plain rows, JSON and datetimes read as their text."""
    reports = defaultdict(list)
    for match_id, participant_id, winner_id, scores, games, at in (
        MatchReport.objects.filter(match__tournament_id=tournament_id)
        .order_by("pk")
        .annotate(
            scores_text=JsonText("scores"), games_text=JsonText("games"), at_text=UtcText("at")
        )
        .values_list(
            "match_id", "participant_id", "winner_id", "scores_text", "games_text", "at_text"
        )
    ):
        reports[match_id].append(
            _ReportRow(
                match_id,
                participant_id,
                winner_id,
                json_fragment(scores),
                json_fragment(games),
                at,
            )
        )
    json_columns = {"scores": "scores_text", "games": "games_text"}
    matches = (
        Match.objects.filter(tournament_id=tournament_id)
        .order_by(*bracket_order())
        .annotate(scores_text=JsonText("scores"), games_text=JsonText("games"))
        .values_list(*(json_columns.get(column, column) for column in _MatchRow._fields))
    )
    json_at = [_MatchRow._fields.index(column) for column in json_columns]
    rendered = []
    for row in matches:
        values = list(row)
        for index in json_at:
            values[index] = json_fragment(values[index])
        match = _MatchRow(*values)
        rendered.append(match_render(match, reports[match.id]))
    return rendered
