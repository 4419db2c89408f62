from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from matches import selectors, services
from matches.serializers import (
    MatchSerializer,
    ResultInput,
    StandingSerializer,
    StartInput,
    match_data,
    matches_data,
)
from tournaments.selectors import tournament_get
from tournaments.serializers import TournamentDetailSerializer, tournament_detail_data


def _valid(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class TournamentStartView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=StartInput, responses={200: TournamentDetailSerializer}, tags=["tournaments"]
    )
    def post(self, request, tournament_id: int):
        data = _valid(StartInput, request)
        services.tournament_start(tournament_id=tournament_id, user=request.user, **data)
        return Response(tournament_detail_data(tournament_get(tournament_id=tournament_id)))


class TournamentBracketView(APIView):
    @extend_schema(
        responses={
            200: inline_serializer(
                "Bracket",
                {"version": serializers.IntegerField(), "matches": MatchSerializer(many=True)},
            )
        },
        tags=["tournaments"],
    )
    def get(self, request, tournament_id: int):
        tournament = tournament_get(tournament_id=tournament_id)
        matches = selectors.bracket_list(tournament=tournament)
        return Response({"version": tournament.version, "matches": matches_data(matches)})


class TournamentStandingsView(APIView):
    @extend_schema(responses={200: StandingSerializer(many=True)}, tags=["tournaments"])
    def get(self, request, tournament_id: int):
        tournament = tournament_get(tournament_id=tournament_id)
        return Response(selectors.standings_get(tournament=tournament))


class MatchDetailView(APIView):
    @extend_schema(responses={200: MatchSerializer}, tags=["matches"])
    def get(self, request, match_id: int):
        return Response(match_data(selectors.match_get(match_id=match_id)))


class MatchReportView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=ResultInput, responses={200: MatchSerializer}, tags=["matches"])
    def post(self, request, match_id: int):
        data = _valid(ResultInput, request)
        match = services.match_report(
            match_id=match_id,
            user=request.user,
            winner_id=data["winner"],
            scores=data.get("scores"),
        )
        return Response(match_data(match))


class MatchResolveView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=ResultInput, responses={200: MatchSerializer}, tags=["matches"])
    def post(self, request, match_id: int):
        data = _valid(ResultInput, request)
        match = services.match_resolve(
            match_id=match_id,
            user=request.user,
            winner_id=data["winner"],
            scores=data.get("scores"),
        )
        return Response(match_data(match))


class MatchResetView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={200: MatchSerializer}, tags=["matches"])
    def post(self, request, match_id: int):
        match = services.match_reset(match_id=match_id, user=request.user)
        return Response(match_data(match))
