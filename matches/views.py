from django.http import HttpResponse, HttpResponseNotModified
from django.utils.http import parse_etags
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from matches import selectors, services
from matches.payloads import match_data
from matches.serializers import (
    ForfeitInput,
    MatchSerializer,
    ResultInput,
    StandingSerializer,
    StartInput,
)
from matches.snapshots import snapshots
from project.fields import validated_input
from tournaments import services as tournament_services
from tournaments.payloads import participant_data
from tournaments.selectors import tournament_get, tournament_version
from tournaments.serializers import (
    ParticipantSerializer,
    TournamentDetailSerializer,
    TournamentUpdateSerializer,
    tournament_detail_data,
)

NOT_MODIFIED = OpenApiResponse(description="Not modified: the ETag sent is the current one.")
IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    str,
    OpenApiParameter.HEADER,
    description="The ETag of a copy you hold: 304 with no body while it is current.",
)


def snapshot_response(request, tournament_id: int, body) -> HttpResponse:
    """A read of the tournament's state, answered from the process's snapshot cache
    (matches.snapshots) with an ``ETag`` of the version it shows: ``304`` when
    ``If-None-Match`` names the current version (one indexed read, no rendering).
    ``body`` picks the document (``"bracket"``, ``"detail"``)."""
    version = tournament_version(tournament_id=tournament_id)
    current = f'"{version}"'
    held = parse_etags(request.headers.get("If-None-Match", ""))
    if current in held or "*" in held:
        return HttpResponseNotModified(headers={"ETag": current, "Cache-Control": "no-cache"})
    snapshot = snapshots.get(tournament_id, at_least=version)
    return HttpResponse(
        getattr(snapshot, body),
        content_type="application/json",
        headers={"ETag": f'"{snapshot.version}"', "Cache-Control": "no-cache"},
    )


# The tournament's detail is served here, beside its bracket, and not by tournaments.views:
# both are documents of the one snapshot (matches.snapshots), and tournaments must not
# import matches (matches depends on tournaments).
class TournamentDetailView(APIView):
    @extend_schema(
        responses={200: TournamentDetailSerializer, 304: NOT_MODIFIED},
        parameters=[IF_NONE_MATCH],
        tags=["tournaments"],
    )
    def get(self, request, tournament_id: int):
        return snapshot_response(request, tournament_id, "detail")

    @extend_schema(
        request=TournamentUpdateSerializer,
        responses={
            200: TournamentDetailSerializer,
            400: OpenApiResponse(
                description="`invalid`: `fields` names each field refused (a value, a "
                "field that cannot be edited, check-in or auto start without `starts_at`)."
            ),
            403: OpenApiResponse(description="`not_organizer`."),
            404: OpenApiResponse(description="`not_found`: no such tournament."),
            409: OpenApiResponse(description="`invalid_status`: no longer in registration."),
        },
        tags=["tournaments"],
    )
    def patch(self, request, tournament_id: int):
        """Edit the tournament while in registration (organizer): name, game, best_of,
        best_of_final, starts_at, auto_start, check_in_opens_minutes, swiss_rounds."""
        data = validated_input(TournamentUpdateSerializer, request)
        tournament_services.tournament_update(
            tournament_id=tournament_id, user=request.user, **data
        )
        return Response(tournament_detail_data(tournament_get(tournament_id=tournament_id)))


class TournamentStartView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=StartInput, responses={200: TournamentDetailSerializer}, tags=["tournaments"]
    )
    def post(self, request, tournament_id: int):
        data = validated_input(StartInput, request)
        services.tournament_start(tournament_id=tournament_id, user=request.user, **data)
        return Response(tournament_detail_data(tournament_get(tournament_id=tournament_id)))


class TournamentBracketView(APIView):
    @extend_schema(
        responses={
            200: inline_serializer(
                "Bracket",
                {"version": serializers.IntegerField(), "matches": MatchSerializer(many=True)},
            ),
            304: NOT_MODIFIED,
        },
        parameters=[IF_NONE_MATCH],
        tags=["tournaments"],
    )
    def get(self, request, tournament_id: int):
        return snapshot_response(request, tournament_id, "bracket")


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
        data = validated_input(ResultInput, request)
        match = services.match_report(
            match_id=match_id,
            user=request.user,
            winner_id=data["winner"],
            scores=data.get("scores"),
            games=data.get("games"),
        )
        return Response(match_data(match))


class MatchResolveView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=ResultInput, responses={200: MatchSerializer}, tags=["matches"])
    def post(self, request, match_id: int):
        data = validated_input(ResultInput, request)
        match = services.match_resolve(
            match_id=match_id,
            user=request.user,
            winner_id=data["winner"],
            scores=data.get("scores"),
            games=data.get("games"),
        )
        return Response(match_data(match))


class MatchResetView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={200: MatchSerializer}, tags=["matches"])
    def post(self, request, match_id: int):
        match = services.match_reset(match_id=match_id, user=request.user)
        return Response(match_data(match))


class MatchForfeitView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=ForfeitInput,
        responses={
            200: MatchSerializer,
            400: OpenApiResponse(
                description="`invalid`: `fields.participant` when the side named does not "
                "play in the match."
            ),
            403: OpenApiResponse(
                description="`not_a_player` (no `participant`: not a side's player or "
                "captain, or the side is disqualified); `not_organizer` (with `participant`)."
            ),
            404: OpenApiResponse(description="`not_found`: no such match."),
            409: OpenApiResponse(
                description="`match_closed`: the match is completed, or the tournament is "
                "not in progress; `match_not_ready`: a side is still unknown."
            ),
        },
        tags=["matches"],
    )
    def post(self, request, match_id: int):
        """Forfeit a side: a player their own (`{}`), the organizer any (`{participant}`).
        The other side wins, `scores` null, `forfeit` the side that gave up; events
        `match.forfeited` then `match.completed`. Also from `awaiting_confirmation` and
        `disputed` (the reports stay)."""
        data = validated_input(ForfeitInput, request)
        match = services.match_forfeit(
            match_id=match_id, user=request.user, participant_id=data.get("participant")
        )
        return Response(match_data(match))


class ParticipantDisqualifyView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=None,
        responses={
            200: ParticipantSerializer,
            403: OpenApiResponse(description="`not_organizer`."),
            404: OpenApiResponse(description="`not_found`: no such tournament or participant."),
            409: OpenApiResponse(
                description="`invalid_status`: the tournament is not in progress; "
                "`already_disqualified`; `not_registered`: the participant does not play "
                "(left, waitlisted)."
            ),
        },
        tags=["tournaments"],
    )
    def post(self, request, tournament_id: int, participant_id: int):
        """Disqualify a participant (organizer): its current match is forfeited at once,
        each later one as it becomes ready; no prize, no refund; final placements skip it.
        Event `participant.disqualified`."""
        participant = services.participant_disqualify(
            tournament_id=tournament_id, participant_id=participant_id, user=request.user
        )
        return Response(participant_data(participant))
