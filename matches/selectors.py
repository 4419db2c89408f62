from datetime import datetime

from django.db.models import Case, IntegerField, Prefetch, QuerySet, Value, When

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


def bracket_order() -> tuple:
    """Bracket order: winners, losers, grand final, group; then round, position."""
    bracket_rank = Case(
        *(When(bracket=b, then=Value(i)) for i, b in enumerate(Match.Bracket.values)),
        output_field=IntegerField(),
    )
    return bracket_rank, "round", "position"


def bracket_list(*, tournament: Tournament) -> QuerySet[Match]:
    """Every match, in bracket order (``bracket_order``), with its reports."""
    return _with_reports(Match.objects.filter(tournament=tournament)).order_by(*bracket_order())


def matches_overdue_ids(*, reported_before: datetime) -> list[int]:
    """Matches one side reported before ``reported_before`` that the other has not answered."""
    return list(
        Match.objects.filter(
            status=Match.Status.AWAITING_CONFIRMATION,
            tournament__status=Tournament.Status.IN_PROGRESS,
            reports__at__lte=reported_before,
        )
        .order_by("pk")
        .values_list("pk", flat=True)
        .distinct()
    )


def standings_get(*, tournament: Tournament) -> list[dict]:
    participants = list(
        Participant.objects.filter(tournament=tournament).exclude(status=Participant.Status.LEFT)
    )
    matches = list(Match.objects.filter(tournament=tournament))
    return standings_rows(tournament=tournament, matches=matches, participants=participants)
