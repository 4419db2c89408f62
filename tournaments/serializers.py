"""The REST side of tournaments, teams and participants: the input serializers, and the
output shapes as the OpenAPI schema documents them.

Tournaments and participants are answered with ``tournaments.payloads`` (the domain's
payloads, also in events and snapshots); their serializers here define the same shapes for
the schema, and ``tests/tournaments/test_payloads.py`` proves the two agree. Output
serializers read only what their selector loaded (``loaded_roster`` lists set by
``Prefetch(..., to_attr=...)`` or by the service that created the rows), so rendering
never issues a query of its own.
"""

from rest_framework import serializers

from project.fields import StrictIntegerField
from tournaments.models import (
    BEST_OF_CHOICES,
    CHECK_IN_MINUTES_MAX,
    GAME_MAX_LENGTH,
    MAX_PARTICIPANTS,
    MAX_TEAM_SIZE,
    MIN_PARTICIPANTS,
    NAME_MAX_LENGTH,
    Participant,
    Team,
    Tournament,
    TournamentEvent,
    match_play_errors,
    prize_split_errors,
)
from tournaments.payloads import participant_data, tournament_render

# The series lengths as the fields offer them, (value, label) pairs: the schema names their
# enum once (settings.SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]).
BEST_OF_SCHEMA_CHOICES = [(n, n) for n in BEST_OF_CHOICES]


class UserRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()


# Built once (see ``participant_data``); rendering only reads its fields.
_USER_REF = UserRefSerializer()


class TeamSerializer(serializers.ModelSerializer):
    members = serializers.SerializerMethodField()

    class Meta:
        model = Team
        fields = ["id", "name", "captain", "members"]

    def get_members(self, team) -> list[dict]:
        return [_USER_REF.to_representation(m.user) for m in team.loaded_memberships]


class ParticipantSerializer(serializers.ModelSerializer):
    members = serializers.SerializerMethodField()

    class Meta:
        model = Participant
        fields = [
            "id", "name", "seed", "team", "captain", "members", "status", "checked_in",
            "waitlist_position",
        ]  # fmt: skip

    def get_members(self, participant) -> list[dict]:
        return [_USER_REF.to_representation(m.user) for m in participant.loaded_roster]


class TournamentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tournament
        fields = [
            "id", "name", "game", "format", "team_size", "max_participants", "entry_fee",
            "prize_split", "swiss_rounds", "best_of", "best_of_final", "starts_at",
            "auto_start", "check_in_opens_minutes", "status", "organizer",
            "participant_count", "waitlist_count", "prize_pool", "refunds_pending",
            "payouts_pending", "version", "created_at", "started_at", "completed_at",
        ]  # fmt: skip


class TournamentDetailSerializer(TournamentSerializer):
    participants = serializers.SerializerMethodField()

    class Meta(TournamentSerializer.Meta):
        fields = [*TournamentSerializer.Meta.fields, "participants"]

    def get_participants(self, tournament) -> list[dict]:
        return [participant_data(p) for p in tournament.loaded_participants]


class TournamentEventSerializer(serializers.ModelSerializer):
    event = serializers.CharField(source="name")

    class Meta:
        model = TournamentEvent
        fields = ["version", "event", "data", "created_at"]


# --- Output on the hot paths ----------------------------------------------------------------

# Tournaments and participants, the objects of every event and snapshot, are rendered by
# the domain (tournaments.payloads) in the shapes the serializers above define (and the
# OpenAPI schema documents). Teams and event lists still use their serializer, one instance
# built once per process: a serializer builds its fields when first used (for a
# ModelSerializer most of the cost of rendering one object), and rendering only reads them.
_TEAM = TeamSerializer()
_EVENT = TournamentEventSerializer()


def tournament_detail_data(tournament: Tournament) -> dict:
    """``TournamentDetailSerializer(tournament).data``, from the domain's payloads."""
    return tournament_render(tournament) | {
        "participants": [participant_data(p) for p in tournament.loaded_participants]
    }


def team_data(team: Team) -> dict:
    """``TeamSerializer(team).data``, without building the serializer."""
    return _TEAM.to_representation(team)


def events_data(events) -> list[dict]:
    """``TournamentEventSerializer(events, many=True).data``, without building serializers."""
    return [_EVENT.to_representation(event) for event in events]


# --- Input --------------------------------------------------------------------------------


class TournamentCreateSerializer(serializers.Serializer):
    name = serializers.CharField(min_length=1, max_length=NAME_MAX_LENGTH)
    game = serializers.CharField(max_length=GAME_MAX_LENGTH, allow_blank=True, default="")
    format = serializers.ChoiceField(choices=Tournament.Format.choices)
    team_size = StrictIntegerField(min_value=1, max_value=MAX_TEAM_SIZE, default=1)
    max_participants = StrictIntegerField(min_value=MIN_PARTICIPANTS, max_value=MAX_PARTICIPANTS)
    entry_fee = StrictIntegerField(min_value=0, max_value=10**12, default=0)
    prize_split = serializers.ListField(
        child=StrictIntegerField(min_value=0, max_value=100),
        min_length=1,
        max_length=MAX_PARTICIPANTS,
        default=[100],
    )
    swiss_rounds = StrictIntegerField(min_value=1, max_value=64, required=False)
    best_of = serializers.ChoiceField(choices=BEST_OF_CHOICES, default=1)
    best_of_final = serializers.ChoiceField(choices=BEST_OF_CHOICES, allow_null=True, default=None)
    starts_at = serializers.DateTimeField(allow_null=True, default=None)
    auto_start = serializers.BooleanField(default=False)
    check_in_opens_minutes = StrictIntegerField(
        min_value=0, max_value=CHECK_IN_MINUTES_MAX, default=0
    )

    def validate_prize_split(self, value: list[int]) -> list[int]:
        if errors := prize_split_errors(value):
            raise serializers.ValidationError(errors)
        return value

    def validate(self, attrs):
        if "swiss_rounds" in attrs and attrs["format"] != Tournament.Format.SWISS:
            raise serializers.ValidationError(
                {"swiss_rounds": ["Only swiss tournaments have rounds."]}
            )
        if errors := prize_split_errors(
            attrs["prize_split"], max_participants=attrs["max_participants"]
        ):
            raise serializers.ValidationError({"prize_split": errors})
        if errors := match_play_errors(
            best_of=attrs["best_of"],
            best_of_final=attrs["best_of_final"],
            starts_at=attrs["starts_at"],
            auto_start=attrs["auto_start"],
            check_in_opens_minutes=attrs["check_in_opens_minutes"],
        ):
            raise serializers.ValidationError(errors)
        return attrs


class TournamentUpdateSerializer(serializers.Serializer):
    """``PATCH /api/tournaments/{id}``: any of the fields the organizer may change in
    registration (``tournaments.services.EDITABLE_FIELDS``), typed as at creation. Any
    other field is refused by name rather than ignored: a request to change the fee or the
    format must not look as if it had worked. The rules that join fields (check-in needs a
    start time, rounds only in swiss) are checked by the service against the stored ones."""

    name = serializers.CharField(min_length=1, max_length=NAME_MAX_LENGTH, required=False)
    game = serializers.CharField(max_length=GAME_MAX_LENGTH, allow_blank=True, required=False)
    best_of = serializers.ChoiceField(choices=BEST_OF_CHOICES, required=False)
    best_of_final = serializers.ChoiceField(
        choices=BEST_OF_CHOICES, allow_null=True, required=False
    )
    starts_at = serializers.DateTimeField(allow_null=True, required=False)
    auto_start = serializers.BooleanField(required=False)
    check_in_opens_minutes = StrictIntegerField(
        min_value=0, max_value=CHECK_IN_MINUTES_MAX, required=False
    )
    swiss_rounds = StrictIntegerField(min_value=1, max_value=64, allow_null=True, required=False)

    def validate(self, attrs):
        if fixed := sorted(set(self.initial_data) - set(self.fields)):
            message = "Not editable: fixed at creation, or not a field of a tournament."
            raise serializers.ValidationError({name: [message] for name in fixed})
        return attrs


class TournamentJoinSerializer(serializers.Serializer):
    team = StrictIntegerField(min_value=1, required=False)
    members = serializers.ListField(
        child=StrictIntegerField(min_value=1),
        max_length=MAX_TEAM_SIZE,
        required=False,
    )
    # A full tournament then puts the entry on its waitlist (201 ``waitlisted``, nothing
    # charged) instead of answering 409 ``tournament_full``.
    waitlist = serializers.BooleanField(default=False)


class TeamCreateSerializer(serializers.Serializer):
    name = serializers.CharField(min_length=1, max_length=NAME_MAX_LENGTH)


class TeamInviteSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
