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


class ResultInput(serializers.Serializer):
    """``{winner, scores?}``: winner is a participant id, or null for a draw."""

    winner = StrictIntegerField(min_value=1, allow_null=True)
    scores = serializers.ListField(
        child=StrictIntegerField(min_value=0, max_value=1_000_000),
        min_length=2,
        max_length=2,
        required=False,
        allow_null=True,
    )


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
