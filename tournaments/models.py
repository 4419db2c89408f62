from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from wallets.models import Account

NAME_MAX_LENGTH = 100
GAME_MAX_LENGTH = 50
MAX_TEAM_SIZE = 16
MIN_PARTICIPANTS, MAX_PARTICIPANTS = 2, 1024
# Games in a match: a best-of series (issue 13). One game is the default.
BEST_OF_CHOICES = (1, 3, 5, 7)
# Check-in opens this many minutes before ``starts_at`` (0: no check-in).
CHECK_IN_MINUTES_MIN, CHECK_IN_MINUTES_MAX = 5, 1440


def prize_split_errors(split: object, *, max_participants: int | None = None) -> list[str]:
    """What is wrong with a prize split, in words (empty when it is valid): whole,
    non-negative percentages for 1st, 2nd, 3rd... summing to 100, and no more paid places
    than the tournament has room for. The one rule, used by the service, the REST input
    and the admin's form; the database refuses a row that breaks it (migration 0004)."""
    if not isinstance(split, list) or not split:
        return ["A list of percentages for 1st, 2nd, 3rd..., at least one."]
    if any(type(p) is not int or p < 0 for p in split):
        return ["Every percentage is a whole number, 0 or more."]
    errors = []
    if sum(split) != 100:
        errors.append("The percentages must sum to 100.")
    if max_participants is not None and len(split) > max_participants:
        errors.append("More places are paid than there are participants.")
    return errors


def _prize_split_validate(split: object) -> None:
    # The form field's validator (the admin); the count of places is checked in clean().
    if errors := prize_split_errors(split):
        raise ValidationError(errors)


def match_play_errors(
    *,
    best_of: int,
    best_of_final: int | None,
    starts_at,
    auto_start: bool,
    check_in_opens_minutes: int,
) -> dict[str, list[str]]:
    """What is wrong with a tournament's match-play settings, by field (empty if nothing):
    the one statement of these rules, for creation and for edits in registration."""
    errors: dict[str, list[str]] = {}
    allowed = ", ".join(str(n) for n in BEST_OF_CHOICES)
    if best_of not in BEST_OF_CHOICES:
        errors["best_of"] = [f"A match is best of {allowed}."]
    if best_of_final is not None and best_of_final not in BEST_OF_CHOICES:
        errors["best_of_final"] = [f"A final is best of {allowed}, or null for best_of."]
    if check_in_opens_minutes and not (
        CHECK_IN_MINUTES_MIN <= check_in_opens_minutes <= CHECK_IN_MINUTES_MAX
    ):
        errors["check_in_opens_minutes"] = [
            f"Check-in opens 0 (no check-in) or {CHECK_IN_MINUTES_MIN} to "
            f"{CHECK_IN_MINUTES_MAX} minutes before the start."
        ]
    elif check_in_opens_minutes and starts_at is None:
        errors["starts_at"] = ["Check-in needs a start time."]
    if auto_start and starts_at is None:
        errors["starts_at"] = ["An automatic start needs a start time."]
    return errors


class Team(models.Model):
    name = models.CharField(max_length=NAME_MAX_LENGTH)
    captain = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="captained_teams"
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="TeamMember", related_name="teams"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class TeamMember(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="team_member_once")]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.team_id}"


class TeamInvite(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="invites")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="team_invite_once")]

    def __str__(self) -> str:
        return f"{self.user_id} invited to {self.team_id}"


class Tournament(models.Model):
    class Format(models.TextChoices):
        SINGLE_ELIMINATION = "single_elimination"
        DOUBLE_ELIMINATION = "double_elimination"
        ROUND_ROBIN = "round_robin"
        SWISS = "swiss"

    class Status(models.TextChoices):
        REGISTRATION = "registration"
        IN_PROGRESS = "in_progress"
        COMPLETED = "completed"
        CANCELLED = "cancelled"

    name = models.CharField(max_length=NAME_MAX_LENGTH)
    game = models.CharField(max_length=GAME_MAX_LENGTH, blank=True)
    format = models.CharField(max_length=20, choices=Format.choices)
    team_size = models.PositiveSmallIntegerField(default=1)
    max_participants = models.PositiveIntegerField()
    entry_fee = models.BigIntegerField(default=0)
    prize_split = models.JSONField(default=list, validators=[_prize_split_validate])
    swiss_rounds = models.PositiveSmallIntegerField(null=True, blank=True)
    # Games in every match, and in the deciding matches of elimination formats (the final;
    # both grand-final matches): null means ``best_of``. Copied to each match when the
    # bracket is built (``Match.best_of``), so a match keeps the length it was played at.
    best_of = models.PositiveSmallIntegerField(default=1)
    best_of_final = models.PositiveSmallIntegerField(null=True, blank=True)
    starts_at = models.DateTimeField(null=True, blank=True)
    # At ``starts_at`` the beat starts the tournament itself.
    auto_start = models.BooleanField(default=False)
    # 0: no check-in; else check-in opens this many minutes before ``starts_at``.
    check_in_opens_minutes = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.REGISTRATION)
    organizer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="organized_tournaments"
    )
    # Kept by the same guarded statements that admit and remove participants, so capacity
    # is checked and taken in one step (see services.tournament_join).
    participant_count = models.PositiveIntegerField(default=0)
    # Entries waiting for a place (Participant.Status.WAITLISTED); kept by the statements
    # that add, promote and remove them.
    waitlist_count = models.PositiveIntegerField(default=0)
    # Entry fees collected and not refunded: what the prizes are paid from. Payouts empty
    # the escrow account but leave this figure as the pool that was played for.
    prize_pool = models.BigIntegerField(default=0)
    refunds_pending = models.PositiveIntegerField(default=0)
    # Placed participants whose prize is decided (matches.models.PrizeAward) and not yet
    # paid; counts down as the payout chunks commit (matches.payouts).
    payouts_pending = models.PositiveIntegerField(default=0)
    # Number of the tournament's last live event; bumped in the transaction of each change.
    version = models.BigIntegerField(default=0)
    escrow = models.OneToOneField(Account, on_delete=models.PROTECT, related_name="tournament")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(participant_count__lte=F("max_participants")),
                name="tournament_not_over_capacity",
            ),
            models.CheckConstraint(
                condition=Q(entry_fee__gte=0), name="tournament_entry_fee_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(team_size__gte=1, team_size__lte=MAX_TEAM_SIZE),
                name="tournament_team_size_range",
            ),
            models.CheckConstraint(
                condition=Q(best_of__in=BEST_OF_CHOICES)
                & (Q(best_of_final__isnull=True) | Q(best_of_final__in=BEST_OF_CHOICES)),
                name="tournament_best_of_valid",
            ),
            models.CheckConstraint(
                condition=Q(check_in_opens_minutes=0)
                | Q(
                    check_in_opens_minutes__gte=CHECK_IN_MINUTES_MIN,
                    check_in_opens_minutes__lte=CHECK_IN_MINUTES_MAX,
                    starts_at__isnull=False,
                ),
                name="tournament_check_in_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-id"], name="tournament_status_newest"),
            # The payouts sweep (every minute) looks only at tournaments still paying out.
            models.Index(
                fields=["id"], condition=Q(payouts_pending__gt=0), name="tournament_paying_out"
            ),
            # The auto-start beat looks only at tournaments waiting to start themselves.
            models.Index(
                fields=["starts_at"],
                condition=Q(auto_start=True, status="registration"),
                name="tournament_auto_start_due",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        # What the admin's form checks beyond each field: the match-play settings together
        # (the database's check constraints would otherwise answer a 500), and the split
        # against the places (the split on its own is the field's validator).
        errors = match_play_errors(
            best_of=self.best_of,
            best_of_final=self.best_of_final,
            starts_at=self.starts_at,
            auto_start=self.auto_start,
            check_in_opens_minutes=self.check_in_opens_minutes,
        )
        if self.max_participants:
            alone = prize_split_errors(self.prize_split)
            with_places = prize_split_errors(
                self.prize_split, max_participants=self.max_participants
            )
            if needs_places := [error for error in with_places if error not in alone]:
                errors["prize_split"] = needs_places
        if errors:
            raise ValidationError(errors)

    def is_run_by(self, user) -> bool:
        """Whether ``user`` may run this tournament (start, resolve, disqualify, cancel):
        its organizer, or staff. The one statement of the rule, for services and pages."""
        return user.is_authenticated and (self.organizer_id == user.pk or user.is_staff)

    @property
    def is_team_event(self) -> bool:
        return self.team_size > 1

    @property
    def has_check_in(self) -> bool:
        return self.check_in_opens_minutes > 0


class Participant(models.Model):
    """A player (solo) or a team's roster (team events) registered in one tournament."""

    class Status(models.TextChoices):
        REGISTERED = "registered"
        # Waiting for a place in a full tournament; charged only when promoted.
        WAITLISTED = "waitlisted"
        LEFT = "left"
        REFUNDED = "refunded"  # the tournament was cancelled and the fees returned
        # Removed by the organizer during play: forfeits what is left, no prize, no refund.
        DISQUALIFIED = "disqualified"

    tournament = models.ForeignKey(
        Tournament, on_delete=models.CASCADE, related_name="participants"
    )
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL)
    # Who acts for the participant: the player, or the team's captain at join time.
    captain = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    name = models.CharField(max_length=150)
    seed = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.REGISTERED)
    checked_in = models.BooleanField(default=False)
    # Place in the tournament's waitlist while WAITLISTED (1 is next), else null.
    waitlist_position = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["tournament", "status"], name="participant_by_status")]

    def __str__(self) -> str:
        return self.name

    @property
    def ledger_reference(self) -> str:
        """The key of this participant's postings in the ledger (fee, refund, prize)."""
        return f"participant:{self.pk}"


class ParticipantMember(models.Model):
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="roster")
    # Copied from the participant so the database can hold "one active participant per
    # user per tournament" in a unique index.
    tournament = models.ForeignKey(Tournament, on_delete=models.CASCADE)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tournament", "user"],
                condition=Q(active=True),
                name="member_in_one_participant_per_tournament",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} plays for {self.participant_id}"


class TournamentEvent(models.Model):
    """The durable, versioned log of a tournament's changes (what live clients replay)."""

    tournament = models.ForeignKey(Tournament, on_delete=models.CASCADE, related_name="events")
    version = models.BigIntegerField()
    name = models.CharField(max_length=40)
    data = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tournament", "version"], name="event_version_once")
        ]
        ordering = ["tournament", "version"]

    def __str__(self) -> str:
        return f"{self.tournament_id}@{self.version} {self.name}"
