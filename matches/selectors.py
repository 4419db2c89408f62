from django.db.models import Prefetch, QuerySet

from matches.errors import MatchNotFound
from matches.models import Match, MatchReport
from matches.placements import standings_rows
from tournaments.models import Participant, Tournament


def _with_reports(matches: QuerySet[Match]) -> QuerySet[Match]:
    return matches.prefetch_related(
        Prefetch("reports", queryset=MatchReport.objects.order_by("pk"), to_attr="loaded_reports")
    )


def match_get(*, match_id: int) -> Match:
    match = _with_reports(Match.objects.filter(pk=match_id)).first()
    if match is None:
        raise MatchNotFound(f"There is no match {match_id}.")
    return match


def bracket_list(*, tournament: Tournament) -> QuerySet[Match]:
    """Every match, in bracket order: winners, losers, grand final, group; round, position."""
    return _with_reports(Match.objects.filter(tournament=tournament)).order_by(
        "bracket", "round", "position"
    )


def standings_get(*, tournament: Tournament) -> list[dict]:
    participants = list(
        Participant.objects.filter(tournament=tournament).exclude(status=Participant.Status.LEFT)
    )
    matches = list(Match.objects.filter(tournament=tournament))
    return standings_rows(tournament=tournament, matches=matches, participants=participants)
