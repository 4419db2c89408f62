from django.conf import settings
from django.db import models

from tournaments.models import Participant, Tournament


class Match(models.Model):
    class Bracket(models.TextChoices):
        WINNERS = "winners"
        LOSERS = "losers"
        GRAND_FINAL = "grand_final"
        GROUP = "group"  # round robin and swiss

    class Status(models.TextChoices):
        PENDING = "pending"  # a side is still unknown
        READY = "ready"
        AWAITING_CONFIRMATION = "awaiting_confirmation"  # one side reported
        COMPLETED = "completed"
        DISPUTED = "disputed"  # the sides reported different results

    class Side(models.TextChoices):
        A = "a"
        B = "b"

    tournament = models.ForeignKey(Tournament, on_delete=models.CASCADE, related_name="matches")
    bracket = models.CharField(max_length=12, choices=Bracket.choices)
    round = models.PositiveSmallIntegerField()
    position = models.PositiveSmallIntegerField()
    participant_a = models.ForeignKey(
        Participant, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    participant_b = models.ForeignKey(
        Participant, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=22, choices=Status.choices, default=Status.PENDING)
    # Null with status completed is a draw (round robin and swiss only) or a bye's absent side.
    winner = models.ForeignKey(
        Participant, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    scores = models.JSONField(null=True, blank=True)
    # Games in this match (a best-of series), fixed when the match is created; ``games``
    # lists each game's score ``[a, b]`` when the result gave them.
    best_of = models.PositiveSmallIntegerField(default=1)
    games = models.JSONField(null=True, blank=True)
    # The side that forfeited (the other side won without a result being played), or null.
    forfeit = models.ForeignKey(
        Participant, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # One side will never be filled: the match completes as soon as the other side is known.
    is_bye = models.BooleanField(default=False)
    next_match = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    next_slot = models.CharField(max_length=1, choices=Side.choices, blank=True)
    loser_next_match = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    loser_next_slot = models.CharField(max_length=1, choices=Side.choices, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tournament", "bracket", "round", "position"], name="match_place_once"
            )
        ]
        indexes = [
            models.Index(fields=["tournament", "status"], name="match_by_status"),
            # The deadline sweep looks for one-sided reports across every tournament.
            models.Index(
                fields=["id"],
                condition=models.Q(status="awaiting_confirmation"),
                name="match_awaiting_confirmation",
            ),
        ]
        verbose_name_plural = "matches"

    def __str__(self) -> str:
        return f"{self.tournament_id} {self.bracket} r{self.round} #{self.position}"

    def side_of(self, participant_id: int | None) -> str | None:
        if participant_id is not None and participant_id == self.participant_a_id:
            return self.Side.A
        if participant_id is not None and participant_id == self.participant_b_id:
            return self.Side.B
        return None

    def loser_id(self) -> int | None:
        if self.winner_id is None:
            return None
        return (
            self.participant_b_id
            if self.winner_id == self.participant_a_id
            else self.participant_a_id
        )


class MatchReport(models.Model):
    """What one side said the result was."""

    match = models.ForeignKey(Match, on_delete=models.CASCADE, related_name="reports")
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="+")
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    winner = models.ForeignKey(
        Participant, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    scores = models.JSONField(null=True, blank=True)
    games = models.JSONField(null=True, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["match", "participant"], name="one_report_per_side")
        ]

    def __str__(self) -> str:
        return f"report by {self.participant_id} on {self.match_id}"


class PrizeAward(models.Model):
    """A placed participant's prize, decided once when the tournament completed (from the
    escrow's balance and the final placements) and paid later by the payout chunks.

    Only tournaments with more placed participants than ``PAYOUTS_INLINE_MAX`` have these
    rows; smaller ones are paid in the completing transaction. ``paid`` turns true in the
    transaction that records the participant's prize posting.
    """

    participant = models.OneToOneField(
        Participant, primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    tournament = models.ForeignKey(Tournament, on_delete=models.CASCADE, related_name="+")
    amount = models.BigIntegerField()
    paid = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="prize_award_positive")
        ]
        indexes = [
            models.Index(
                fields=["tournament", "participant"],
                condition=models.Q(paid=False),
                name="prize_award_unpaid",
            )
        ]

    def __str__(self) -> str:
        return f"{self.amount} to {self.participant_id}"
