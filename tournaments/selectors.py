import functools
from contextlib import contextmanager
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from project.statements import instances_of_row, select_list
from tournaments.errors import TeamNotFound, TournamentNotFound
from tournaments.models import (
    Participant,
    ParticipantMember,
    Team,
    TeamInvite,
    TeamMember,
    Tournament,
    TournamentEvent,
)
from users.models import User


@contextmanager
def consistent_read():
    """One read-only transaction that sees one committed state throughout."""
    nested = connection.in_atomic_block  # then the enclosing transaction decides (tests)
    with transaction.atomic():
        if connection.vendor == "postgresql" and not nested:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        # SQLite (embedded default) transactions are serializable already.
        yield


def roster_prefetch() -> Prefetch:
    """A participant's roster with its users, in pk order (``loaded_roster``): what the
    participant payload reads."""
    return Prefetch(
        "roster",
        queryset=ParticipantMember.objects.select_related("user").order_by("pk"),
        to_attr="loaded_roster",
    )


def tournament_list(*, status: str | None = None) -> QuerySet[Tournament]:
    """Tournaments, newest first (the index ``tournament_status_newest`` serves it)."""
    tournaments = Tournament.objects.order_by("-pk")
    if status:
        tournaments = tournaments.filter(status=status)
    return tournaments


def tournament_get(*, tournament_id: int) -> Tournament:
    """A tournament with its participants (all but those who left) and their rosters."""
    return _tournament_with_participants(Tournament.objects.all(), tournament_id)


def _tournament_with_participants(
    tournaments: QuerySet[Tournament], tournament_id: int
) -> Tournament:
    """The tournament of ``tournaments`` with ``loaded_participants`` (all but those who
    left, by seed then registration, each with ``loaded_roster``). Raises
    TournamentNotFound."""
    tournament = (
        tournaments.filter(pk=tournament_id)
        .prefetch_related(
            Prefetch(
                "participants",
                queryset=Participant.objects.exclude(status=Participant.Status.LEFT)
                .order_by("seed", "pk")
                .prefetch_related(roster_prefetch()),
                to_attr="loaded_participants",
            )
        )
        .first()
    )
    if tournament is None:
        raise TournamentNotFound(f"There is no tournament {tournament_id}.")
    return tournament


def tournament_version(*, tournament_id: int) -> int:
    """The tournament's version (one indexed read). Raises TournamentNotFound."""
    version = Tournament.objects.filter(pk=tournament_id).values_list("version", flat=True).first()
    if version is None:
        raise TournamentNotFound(f"There is no tournament {tournament_id}.")
    return version


def team_get(*, team_id: int) -> Team:
    """A team with its memberships and their users (``loaded_memberships``, in pk order).

    One query, the memberships joined to their team and users (a join reads the team on
    every request; a prefetch would be two). A team always has a member, its captain; only
    a team without memberships costs the second query that tells it from no team at all.
    """
    memberships = _team_memberships(team_id)
    if memberships:
        team = memberships[0].team
        for membership in memberships:
            membership.team = team
    else:
        team = Team.objects.filter(pk=team_id).first()
        if team is None:
            raise TeamNotFound(f"There is no team {team_id}.")
    team.loaded_memberships = memberships
    return team


def _team_memberships(team_id: int) -> list[TeamMember]:
    """The team's memberships in pk order, each with its team and user, in one statement.

    Written by hand on PostgreSQL: every team join reads its team this way, and the ORM's
    version (``TeamMember.objects.filter(team_id=...).select_related("team", "user")``,
    which SQLite still takes) took 2.7x the CPU (``bench/statements.py``).
    """
    if connection.vendor != "postgresql":
        return list(
            TeamMember.objects.filter(team_id=team_id).select_related("team", "user").order_by("pk")
        )
    with connection.cursor() as cursor:
        cursor.execute(_team_memberships_sql(), [team_id])
        rows = cursor.fetchall()
    memberships = []
    for row in rows:
        membership, team, user = instances_of_row(row, [TeamMember, Team, User])
        membership.team, membership.user = team, user
        memberships.append(membership)
    return memberships


@functools.cache
def _team_memberships_sql() -> str:
    """``_team_memberships``'s statement: the same on every call, so built once."""
    qn = connection.ops.quote_name
    return (
        f"SELECT {select_list(TeamMember, 'm')}, {select_list(Team, 't')}, "
        f"{select_list(User, 'u')} FROM {qn(TeamMember._meta.db_table)} m "
        f"JOIN {qn(Team._meta.db_table)} t ON t.id = m.team_id "
        f"JOIN {qn(User._meta.db_table)} u ON u.id = m.user_id "
        "WHERE m.team_id = %s ORDER BY m.id"
    )


def events_since(*, tournament_id: int, since: int) -> QuerySet[TournamentEvent]:
    return TournamentEvent.objects.filter(tournament_id=tournament_id, version__gt=since).order_by(
        "version"
    )


def tournaments_stalled_ids(
    *, status: str, pending_field: str, stalled_for_seconds: int
) -> list[int]:
    """Tournaments in ``status`` with work pending (``pending_field`` > 0: refunds after a
    cancel, payouts after the completion) whose last event is older than
    ``stalled_for_seconds``, or that have no event left (pruned): a chain of chunk tasks
    that stopped, which the beat sweepers enqueue again."""
    cutoff = timezone.now() - timedelta(seconds=stalled_for_seconds)
    last_event_at = (
        TournamentEvent.objects.filter(tournament=OuterRef("pk"))
        .order_by("-version")
        .values("created_at")[:1]
    )
    return list(
        Tournament.objects.filter(status=status, **{f"{pending_field}__gt": 0})
        .annotate(progressed_at=Subquery(last_event_at))
        .filter(Q(progressed_at__lt=cutoff) | Q(progressed_at__isnull=True))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


# --- Reads for the pages (web/) ---------------------------------------------------------------


def tournament_page_get(*, tournament_id: int) -> Tournament:
    """``tournament_get`` with the organizer joined: the tournament's page names them.

    Three queries whatever the number of participants: the tournament and its organizer,
    the participants (all but those who left, by seed then registration), their rosters
    with the users (``loaded_participants``, each with ``loaded_roster``).
    """
    return _tournament_with_participants(
        Tournament.objects.select_related("organizer"), tournament_id
    )


def tournament_names(*, tournament_ids: set[int]) -> dict[int, str]:
    """The names of the given tournaments, by id (one query; unknown ids are left out)."""
    if not tournament_ids:
        return {}
    return dict(Tournament.objects.filter(pk__in=tournament_ids).values_list("pk", "name"))


def _teams_with_memberships(memberships: QuerySet[TeamMember]) -> list[Team]:
    """The teams of ``memberships`` (joined to team and user, ordered by team then pk), each
    with ``loaded_memberships``, in the memberships' order: one query."""
    teams: dict[int, Team] = {}
    for membership in memberships:
        team = teams.setdefault(membership.team_id, membership.team)
        if not hasattr(team, "loaded_memberships"):
            team.loaded_memberships = []
        membership.team = team
        team.loaded_memberships.append(membership)
    return list(teams.values())


def teams_captained_list(*, user_id: int) -> list[Team]:
    """The teams ``user_id`` captains, oldest first, each with ``loaded_memberships`` (its
    members and their users, in the order they joined): one query whatever their number.
    A team always has its captain as a member, so no captained team is left out."""
    return _teams_with_memberships(
        TeamMember.objects.filter(team__captain_id=user_id)
        .select_related("team", "user")
        .order_by("team_id", "pk")
    )


def teams_of_user_list(*, user_id: int) -> list[Team]:
    """The teams ``user_id`` is a member of (captain or not), oldest first, each with every
    member in ``loaded_memberships``: one query whatever the number of teams or members."""
    return _teams_with_memberships(
        TeamMember.objects.filter(
            team_id__in=TeamMember.objects.filter(user_id=user_id).values("team_id")
        )
        .select_related("team", "user")
        .order_by("team_id", "pk")
    )


def team_invites_of_user(*, user_id: int) -> QuerySet[TeamInvite]:
    """The invitations ``user_id`` has not answered, newest first, with their teams and the
    teams' captains joined (one query)."""
    return (
        TeamInvite.objects.filter(user_id=user_id)
        .select_related("team", "team__captain")
        .order_by("-pk")
    )


def team_invites_list(*, team_id: int) -> QuerySet[TeamInvite]:
    """The team's unanswered invitations, oldest first, with the invited users joined."""
    return TeamInvite.objects.filter(team_id=team_id).select_related("user").order_by("pk")
