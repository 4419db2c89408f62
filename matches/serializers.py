"""The REST side of matches: the input serializers, and the output shapes as the OpenAPI
schema documents them.

The views answer with ``matches.payloads`` (the domain's payloads, also in events and live
frames); ``MatchSerializer`` defines the same shape for the schema, and
``tests/matches/test_payloads.py`` proves the two agree. It reads ``match.loaded_reports``
(set by the selectors' ``Prefetch(..., to_attr=...)`` or by the service that changed the
match), never a query.
"""

from rest_framework import serializers

from matches.models import Match, MatchReport
from project.fields import StrictIntegerField


class MatchReportSerializer(serializers.ModelSerializer):
    class Meta:
        model = MatchReport
        fields = ["participant", "winner", "scores", "games", "at"]


class MatchSerializer(serializers.ModelSerializer):
    reports = serializers.SerializerMethodField()

    class Meta:
        model = Match
        fields = [
            "id",
            "tournament",
            "bracket",
            "round",
            "position",
            "participant_a",
            "participant_b",
            "status",
            "winner",
            "scores",
            "best_of",
            "games",
            "forfeit",
            "reports",
            "next_match",
            "loser_next_match",
        ]

    def get_reports(self, match) -> list[dict]:
        return [_MATCH_REPORT.to_representation(report) for report in match.loaded_reports]


# Built once: a serializer builds its fields when first used, and rendering only reads them.
_MATCH_REPORT = MatchReportSerializer()


SCORE_MAX = 1_000_000
# The longest series (tournaments.models.BEST_OF_CHOICES) has 7 games.
GAMES_MAX = 7


class GamesField(serializers.ListField):
    """``[[a, b], ...]``: one score pair per game. A malformed entry is one message under
    ``games`` (the error shape's list of messages), not DRF's errors keyed by index."""

    def __init__(self, **kwargs):
        pair = serializers.ListField(
            child=StrictIntegerField(min_value=0, max_value=SCORE_MAX), min_length=2, max_length=2
        )
        super().__init__(child=pair, max_length=GAMES_MAX, **kwargs)

    def to_internal_value(self, data):
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as error:
            if isinstance(error.detail, list):
                raise  # the list itself (not a list, too long): already flat messages
            raise serializers.ValidationError(
                [f"Each game is [side a, side b], whole numbers from 0 to {SCORE_MAX}."]
            ) from error


class ResultInput(serializers.Serializer):
    """``{winner, scores?, games?}``: winner is a participant id, or null for a draw. In a
    best-of series (the match's ``best_of`` > 1) ``scores`` is the series score and is
    required, and ``games`` may list each game's score (``matches.services``)."""

    winner = StrictIntegerField(min_value=1, allow_null=True)
    scores = serializers.ListField(
        child=StrictIntegerField(min_value=0, max_value=SCORE_MAX),
        min_length=2,
        max_length=2,
        required=False,
        allow_null=True,
    )
    games = GamesField(required=False, allow_null=True)


class StartInput(serializers.Serializer):
    seeding = serializers.ChoiceField(choices=["registration", "random"], default="registration")


class StandingSerializer(serializers.Serializer):
    participant = serializers.IntegerField()
    rank = serializers.IntegerField()
    wins = serializers.IntegerField()
    losses = serializers.IntegerField()
    draws = serializers.IntegerField()
    points = serializers.IntegerField()
    tiebreaks = serializers.DictField()


class ForfeitInput(serializers.Serializer):
    """``{}`` (a player forfeits their own side) or ``{participant}`` (the organizer
    forfeits that side)."""

    participant = StrictIntegerField(min_value=1, required=False, allow_null=True)
