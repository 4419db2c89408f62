from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from idempotency.http import run_idempotent
from project.domain_errors import InvalidInput
from project.fields import validated_input
from project.pagination import NewestFirstPagination
from tournaments import selectors, services
from tournaments.errors import EventsPruned
from tournaments.events import VERSION_PATTERN
from tournaments.models import Tournament
from tournaments.payloads import participant_data, tournament_data
from tournaments.serializers import (
    ParticipantSerializer,
    TeamCreateSerializer,
    TeamInviteSerializer,
    TeamSerializer,
    TournamentCreateSerializer,
    TournamentEventSerializer,
    TournamentJoinSerializer,
    TournamentSerializer,
    events_data,
    team_data,
)

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description="Replays the first answer for a repeat of this key (up to 255 characters).",
)


class TournamentListView(ListAPIView):
    serializer_class = TournamentSerializer
    pagination_class = NewestFirstPagination

    def get_queryset(self):
        status_filter = self.request.query_params.get("status")
        if status_filter and status_filter not in Tournament.Status.values:
            raise InvalidInput(
                "Unknown status.", fields={"status": [f"One of {Tournament.Status.values}."]}
            )
        return selectors.tournament_list(status=status_filter)

    @extend_schema(
        parameters=[OpenApiParameter("status", str, enum=Tournament.Status.values)],
        tags=["tournaments"],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=TournamentCreateSerializer,
        responses={201: TournamentSerializer},
        tags=["tournaments"],
    )
    def post(self, request):
        tournament = services.tournament_create(
            organizer=request.user, **validated_input(TournamentCreateSerializer, request)
        )
        return Response(tournament_data(tournament), status=status.HTTP_201_CREATED)


class TournamentJoinView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=TournamentJoinSerializer,
        responses={201: ParticipantSerializer},
        parameters=[IDEMPOTENCY_KEY],
        tags=["tournaments"],
    )
    def post(self, request, tournament_id: int):
        data = validated_input(TournamentJoinSerializer, request)

        def join():
            participant = services.tournament_join(
                tournament_id=tournament_id,
                user=request.user,
                team_id=data.get("team"),
                member_ids=data.get("members"),
                waitlist=data["waitlist"],
            )
            return status.HTTP_201_CREATED, participant_data(participant)

        return run_idempotent(request, join)


class TournamentLeaveView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=None,
        responses={200: ParticipantSerializer},
        parameters=[IDEMPOTENCY_KEY],
        tags=["tournaments"],
    )
    def post(self, request, tournament_id: int):
        def leave():
            participant = services.tournament_leave(tournament_id=tournament_id, user=request.user)
            return status.HTTP_200_OK, participant_data(participant)

        return run_idempotent(request, leave)


class TournamentCheckInView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=None,
        responses={200: ParticipantSerializer},
        description=(
            "Check in the caller's entry (the solo player, or the team's captain); a "
            "waitlisted entry may check in too. Open from `check_in_opens_minutes` before "
            "`starts_at` until the tournament starts. A second check-in answers 200 with the "
            "same participant and changes nothing. Errors: 409 `check_in_closed` outside the "
            "window (or without check-in), 409 `not_registered`, 403 `not_captain`."
        ),
        tags=["tournaments"],
    )
    def post(self, request, tournament_id: int):
        participant = services.tournament_check_in(tournament_id=tournament_id, user=request.user)
        return Response(participant_data(participant))


class TournamentCancelView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={202: TournamentSerializer}, tags=["tournaments"])
    def post(self, request, tournament_id: int):
        tournament = services.tournament_cancel(tournament_id=tournament_id, user=request.user)
        return Response(tournament_data(tournament), status=status.HTTP_202_ACCEPTED)


class TournamentEventsView(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("since", int, description="Events after this version.")],
        responses={
            200: inline_serializer(
                "EventLog",
                {
                    "version": serializers.IntegerField(),
                    "events": TournamentEventSerializer(many=True),
                },
            )
        },
        tags=["live"],
    )
    def get(self, request, tournament_id: int):
        since = request.query_params.get("since", "0")
        if not VERSION_PATTERN.fullmatch(since):
            raise InvalidInput(
                "since must be a version number.", fields={"since": ["Not a number."]}
            )
        tournament = selectors.tournament_get(tournament_id=tournament_id)
        events = list(selectors.events_since(tournament_id=tournament.pk, since=int(since)))
        # The log keeps LIVE_EVENT_RETENTION_DAYS (tournaments.events): a client further
        # behind must read the tournament and its bracket again.
        if int(since) < tournament.version and (not events or events[0].version > int(since) + 1):
            raise EventsPruned(
                f"Events after {since} are no longer kept; read the tournament and its "
                "bracket again, then resume from their version."
            )
        return Response(
            {
                "version": tournament.version,
                "events": events_data(events),
            }
        )


class TeamCreateView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=TeamCreateSerializer, responses={201: TeamSerializer}, tags=["teams"])
    def post(self, request):
        team = services.team_create(
            user=request.user, **validated_input(TeamCreateSerializer, request)
        )
        return Response(team_data(team), status=status.HTTP_201_CREATED)


class TeamDetailView(APIView):
    @extend_schema(responses={200: TeamSerializer}, tags=["teams"])
    def get(self, request, team_id: int):
        return Response(team_data(selectors.team_get(team_id=team_id)))


class TeamInviteView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=TeamInviteSerializer,
        responses={
            201: inline_serializer(
                "TeamInviteResult",
                {"team": serializers.IntegerField(), "username": serializers.CharField()},
            )
        },
        tags=["teams"],
    )
    def post(self, request, team_id: int):
        data = validated_input(TeamInviteSerializer, request)
        services.team_invite(team_id=team_id, by_user=request.user, username=data["username"])
        return Response(
            {"team": team_id, "username": data["username"]}, status=status.HTTP_201_CREATED
        )


class TeamAcceptView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={200: TeamSerializer}, tags=["teams"])
    def post(self, request, team_id: int):
        services.team_accept(team_id=team_id, user=request.user)
        return Response(team_data(selectors.team_get(team_id=team_id)))


class TeamMemberView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={204: None}, tags=["teams"])
    def delete(self, request, team_id: int, user_id: int):
        services.team_member_remove(team_id=team_id, by_user=request.user, user_id=user_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
