from datetime import datetime
from typing import NamedTuple

from django.conf import settings
from django.db.models import Case, IntegerField, Max, Prefetch, Q, QuerySet, Value, When

from matches.errors import MatchNotFound
from matches.models import Match, MatchReport
from matches.placements import standings_rows
from tournaments.models import Participant, ParticipantMember, Tournament
from tournaments.selectors import consistent_read, tournament_get


def reports_prefetch() -> Prefetch:
    """A match's reports in pk order (``loaded_reports``): what the match payload reads."""
    return Prefetch(
        "reports", queryset=MatchReport.objects.order_by("pk"), to_attr="loaded_reports"
    )


def _with_reports(matches: QuerySet[Match]) -> QuerySet[Match]:
    return matches.prefetch_related(reports_prefetch())


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


# --- Pages for players (web/views/matches.py) -----------------------------------------------


class PlayerMatches(NamedTuple):
    """What ``/me/matches`` shows: the user's open matches and where they are registered.

    ``participations``: the user's registered participants (solo, a roster they are on, or
    a team they captain) in tournaments in registration or in progress, each with its
    ``tournament`` loaded (its ``version`` read before the matches: see
    ``player_matches_list``). ``matches``: the open matches (every status but
    ``completed``) with one of those participants as a side, with ``tournament``,
    ``participant_a``, ``participant_b`` and ``loaded_reports``, in tournament then bracket
    order. ``rounds``: ``{(tournament id, bracket): last round}``, to name rounds ("Final",
    "Semifinals").
    """

    participations: list[Participant]
    matches: list[Match]
    rounds: dict[tuple[int, str], int]


def player_matches_list(*, user) -> PlayerMatches:
    """The user's current and upcoming matches across tournaments: four queries whatever
    their number (one when the user plays nowhere).

    The participations, with their tournaments' versions, are read before the matches, so
    a page that follows the tournaments live from those versions (``?since=``) sees again
    any change that lands between the reads, and misses none: a match event carries the
    whole match, so seeing one twice changes nothing.
    """
    # On the roster, or the captain who reports for a team (who may not play in it).
    rosters = ParticipantMember.objects.filter(user=user, active=True).values("participant_id")
    participations = list(
        Participant.objects.filter(
            Q(pk__in=rosters) | Q(captain=user),
            status=Participant.Status.REGISTERED,
            tournament__status__in=[Tournament.Status.REGISTRATION, Tournament.Status.IN_PROGRESS],
        )
        .select_related("tournament")
        .order_by("tournament_id", "pk")
    )
    in_play = [p.pk for p in participations if p.tournament.status == Tournament.Status.IN_PROGRESS]
    if not in_play:
        return PlayerMatches(participations=participations, matches=[], rounds={})
    matches = list(
        _with_reports(
            Match.objects.filter(Q(participant_a_id__in=in_play) | Q(participant_b_id__in=in_play))
            .exclude(status=Match.Status.COMPLETED)
            .select_related("tournament", "participant_a", "participant_b")
        ).order_by("tournament_id", *bracket_order())
    )
    return PlayerMatches(
        participations=participations,
        matches=matches,
        rounds=rounds_last(tournament_ids={m.tournament_id for m in matches}),
    )


def rounds_last(*, tournament_ids: set[int]) -> dict[tuple[int, str], int]:
    """``{(tournament id, bracket): its last round}`` of the given tournaments (one query)."""
    if not tournament_ids:
        return {}
    return {
        (tournament_id, bracket): last
        for tournament_id, bracket, last in Match.objects.filter(tournament_id__in=tournament_ids)
        .values("tournament_id", "bracket")
        .annotate(last=Max("round"))
        .values_list("tournament_id", "bracket", "last")
        .order_by()
    }


class MatchRoom(NamedTuple):
    """What the match room (``/matches/{id}``) reads: ``match`` with its tournament, sides
    and reports (``loaded_reports``); both sides' rosters with their users, ``{participant
    id: members in pk order}`` (who reports for a side, who watches it); the last round of
    the match's bracket (to name its round: "Final", "Semifinals")."""

    match: Match
    rosters: dict[int, list[ParticipantMember]]
    last_round: int


def match_room_get(*, match_id: int) -> MatchRoom:
    """The match room's reads, four queries. Raises MatchNotFound."""
    match = (
        _with_reports(Match.objects.filter(pk=match_id))
        .select_related("tournament", "participant_a", "participant_b")
        .first()
    )
    if match is None:
        raise MatchNotFound(f"There is no match {match_id}.")
    sides = [pk for pk in (match.participant_a_id, match.participant_b_id) if pk]
    rosters: dict[int, list[ParticipantMember]] = {pk: [] for pk in sides}
    members = (
        ParticipantMember.objects.filter(participant_id__in=sides)
        .select_related("user")
        .order_by("pk")
    )
    for member in members:
        rosters[member.participant_id].append(member)
    last_round = Match.objects.filter(
        tournament_id=match.tournament_id, bracket=match.bracket
    ).aggregate(last=Max("round"))["last"]
    return MatchRoom(match=match, rosters=rosters, last_round=last_round)


def match_confirmation_deadline(match: Match) -> datetime | None:
    """When a one-sided report is confirmed as reported if the other side does not answer
    (``matches.tasks.matches_confirm_overdue``): the report's time plus
    ``MATCH_CONFIRMATION_TIMEOUT``; None when no deadline runs (no report, both reported,
    a dispute, a result). The beat task runs every minute, so the confirmation itself
    comes at the first run after the deadline. Reads ``match.loaded_reports``: no query."""
    if match.status != Match.Status.AWAITING_CONFIRMATION or len(match.loaded_reports) != 1:
        return None
    return match.loaded_reports[0].at + settings.MATCH_CONFIRMATION_TIMEOUT


# --- The organizer's console (web/views/manage.py) ------------------------------------------


class TournamentConsole(NamedTuple):
    """What ``/tournaments/{id}/manage`` shows, all read at one moment of the log.

    ``tournament``: its ``version`` is the version of everything else here, with
    ``loaded_participants`` (all but those who left, by seed then registration, each with
    ``loaded_roster`` and its users). ``matches``: every match in bracket order, each with
    its ``tournament`` set to that same object (no query to reach it) and
    ``loaded_reports``. ``rounds``: ``{bracket: its last round}``, to name rounds.
    """

    tournament: Tournament
    matches: list[Match]
    rounds: dict[str, int]


def tournament_console_get(*, tournament_id: int) -> TournamentConsole:
    """The console's reads: five queries in one consistent read whatever the number of
    participants and matches (the tournament, its participants, their rosters, the
    matches, their reports). Raises TournamentNotFound.

    One consistent read because the page hands its state to a live feed that resumes with
    ``?since=<tournament.version>``: a participant or a match read after a later change
    would show that change before its event arrives, and not in the order it happened.
    """
    with consistent_read():
        tournament = tournament_get(tournament_id=tournament_id)
        matches = list(bracket_list(tournament=tournament))
    rounds: dict[str, int] = {}
    for match in matches:
        match.tournament = tournament
        rounds[match.bracket] = max(rounds.get(match.bracket, 0), match.round)
    return TournamentConsole(tournament=tournament, matches=matches, rounds=rounds)
