"""Shapes of matches, as REST answers and event payloads.

``MatchSerializer`` reads ``match.loaded_reports`` (set by the selectors'
``Prefetch(..., to_attr=...)`` or by the service that changed the match), never a query.
"""

from rest_framework import serializers

from matches.models import Match, MatchReport
from project.fields import StrictIntegerField


class MatchReportSerializer(serializers.ModelSerializer):
    class Meta:
        model = MatchReport
        fields = ["participant", "winner", "scores", "at"]


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
            "reports",
            "next_match",
            "loser_next_match",
        ]

    def get_reports(self, match) -> list[dict]:
        return [_MATCH_REPORT.to_representation(report) for report in match.loaded_reports]


# --- Output on the hot paths (as in tournaments.serializers) ---------------------------------

# Built once per process: building a serializer's fields is most of the cost of rendering
# one match, and a serializer and its fields refer to each other, so every instance built
# is cyclic garbage that only the garbage collector frees. Under bench/fanout.py (20
# reports/s, 1,000 sockets) serializers, their fields and validators were most of what the
# collector found (gc.DEBUG_SAVEALL); a full collection in such a process held the event
# loop, and every spectator's frame, for 170-268 ms (see project/asgi.py).
_MATCH_REPORT = MatchReportSerializer()
_MATCH = MatchSerializer()


def match_data(match: Match) -> dict:
    """``MatchSerializer(match).data``, without building the serializer."""
    return _MATCH.to_representation(match)


def matches_data(matches) -> list[dict]:
    """``MatchSerializer(matches, many=True).data``, without building serializers."""
    return [_MATCH.to_representation(match) for match in matches]


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
