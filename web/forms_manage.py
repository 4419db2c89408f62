"""The organizer's forms (web/views/manage.py): a new tournament, and how to seed it at
the start. A result the organizer settles is the match room's ``ResultForm``
(web/forms_matches.py), so a result reads and is checked the same on both pages.

The limits are the API's (API.md "Tournaments"; ``tournaments.serializers.
TournamentCreateSerializer``), taken from the same constants, and every message says what
to type instead. The start time, automatic start and check-in are checked together by the
API's own rule (``tournaments.models.match_play_errors``). ``tournaments.services.
tournament_create`` checks the prize split and those settings again; what it refuses is
put back on its field by the view.
"""

from __future__ import annotations

import re
from decimal import Decimal

from django import forms
from django.conf import settings
from django.utils import timezone

from tournaments.models import (
    BEST_OF_CHOICES,
    CHECK_IN_MINUTES_MAX,
    CHECK_IN_MINUTES_MIN,
    GAME_MAX_LENGTH,
    MAX_PARTICIPANTS,
    MAX_TEAM_SIZE,
    MIN_PARTICIPANTS,
    NAME_MAX_LENGTH,
    Tournament,
    match_play_errors,
    prize_split_errors,
)
from web.presentation import FORMAT_LABELS

# As the API's input takes it (TournamentCreateSerializer: entry_fee up to 10**12 cents).
ENTRY_FEE_MAX_CENTS = 10**12
SWISS_ROUNDS_MAX = 64  # as TournamentCreateSerializer.swiss_rounds
# Percentages are typed "60, 30, 10" (commas, spaces or both between them).
_SPLIT_SEPARATORS = re.compile(r"[\s,;]+")
# What a ``datetime-local`` input sends (the browser's own format; seconds only if typed).
DATETIME_LOCAL_FORMAT = "%Y-%m-%dT%H:%M"


class TournamentCreateForm(forms.Form):
    """Every field ``POST /api/tournaments`` takes. ``service_fields()`` gives the keyword
    arguments of ``tournament_create``: the entry fee in cents, the split as a list."""

    name = forms.CharField(
        label="Name",
        max_length=NAME_MAX_LENGTH,
        error_messages={
            "required": "Give the tournament a name.",
            "max_length": f"A name has at most {NAME_MAX_LENGTH} characters "
            "(this one has %(show_value)d).",
        },
    )
    game = forms.CharField(
        label="Game",
        required=False,
        max_length=GAME_MAX_LENGTH,
        help_text=f"Up to {GAME_MAX_LENGTH} characters.",
        error_messages={
            "max_length": f"A game's name has at most {GAME_MAX_LENGTH} characters "
            "(this one has %(show_value)d).",
        },
    )
    format = forms.ChoiceField(
        label="Format",
        choices=list(FORMAT_LABELS.items()),
        initial=Tournament.Format.SINGLE_ELIMINATION,
        error_messages={
            "required": "Choose a format.",
            "invalid_choice": "Choose one of the four formats.",
        },
    )
    team_size = forms.IntegerField(
        label="Players per side",
        min_value=1,
        max_value=MAX_TEAM_SIZE,
        initial=1,
        help_text=f"1 for a solo tournament; 2 to {MAX_TEAM_SIZE} for teams.",
        error_messages={
            "required": "Say how many players make a side: 1 for a solo tournament.",
            "invalid": "Players per side is a whole number, like 1 or 5.",
            "min_value": "At least 1 player per side (1 is a solo tournament).",
            "max_value": f"Teams have at most {MAX_TEAM_SIZE} players.",
        },
    )
    max_participants = forms.IntegerField(
        label="Places",
        min_value=MIN_PARTICIPANTS,
        max_value=MAX_PARTICIPANTS,
        help_text=f"How many players (or teams) can register: {MIN_PARTICIPANTS} to "
        f"{MAX_PARTICIPANTS:,}.",
        error_messages={
            "required": "Say how many players (or teams) can register.",
            "invalid": "Places is a whole number, like 8 or 64.",
            "min_value": f"A tournament needs at least {MIN_PARTICIPANTS} places.",
            "max_value": f"A tournament has at most {MAX_PARTICIPANTS:,} places.",
        },
    )
    entry_fee = forms.DecimalField(
        label=f"Entry fee ({settings.CURRENCY})",
        min_value=Decimal(0),
        max_value=Decimal(ENTRY_FEE_MAX_CENTS) / 100,
        decimal_places=2,
        initial=Decimal(0),
        help_text="Charged to every player (each member of a team pays it); 0 for a free "
        "tournament. The fees make the prize pool.",
        error_messages={
            "required": "Give the entry fee: 0 for a free tournament.",
            "invalid": "Give the entry fee as an amount, like 5 or 4.50.",
            "min_value": "The entry fee cannot be negative: 0 for a free tournament.",
            "max_value": f"The entry fee is at most {ENTRY_FEE_MAX_CENTS // 100:,}.",
            "max_decimal_places": "At most two decimals: the smallest amount is a cent.",
            "max_digits": f"The entry fee is at most {ENTRY_FEE_MAX_CENTS // 100:,}.",
            "max_whole_digits": f"The entry fee is at most {ENTRY_FEE_MAX_CENTS // 100:,}.",
        },
    )
    prize_split = forms.CharField(
        label="Prize split (%)",
        initial="100",
        help_text="The prize pool's percentages for 1st, 2nd, 3rd… place, separated by "
        "commas, summing to 100: “60, 30, 10”. “100” pays the winner everything.",
        error_messages={"required": "Give the prize split: “100” pays the winner everything."},
    )
    swiss_rounds = forms.IntegerField(
        label="Swiss rounds",
        required=False,
        min_value=1,
        max_value=SWISS_ROUNDS_MAX,
        help_text="Swiss only. Leave it empty for enough rounds to find a winner (log₂ of "
        "the participants, rounded up).",
        error_messages={
            "invalid": "Swiss rounds is a whole number, like 5.",
            "min_value": "At least 1 round.",
            "max_value": f"At most {SWISS_ROUNDS_MAX} rounds.",
        },
    )

    best_of = forms.TypedChoiceField(
        label="Games per match",
        choices=[(n, "1 game" if n == 1 else f"Best of {n}") for n in BEST_OF_CHOICES],
        coerce=int,
        initial=1,
        required=False,  # left out (a form from before series): one game
        empty_value=1,
        help_text="A best-of series is won by the first side to win more than half its games.",
        error_messages={"invalid_choice": "Choose 1 game, or best of 3, 5 or 7."},
    )
    best_of_final = forms.TypedChoiceField(
        label="Games in the final",
        choices=[("", "As every match")]
        + [(n, "1 game" if n == 1 else f"Best of {n}") for n in BEST_OF_CHOICES],
        coerce=int,
        empty_value=None,
        required=False,
        help_text="Elimination formats: the final (both grand finals in double elimination). "
        "Round robin and swiss play every match as above.",
        error_messages={"invalid_choice": "Choose 1 game, or best of 3, 5 or 7."},
    )

    # The start. A datetime-local input has no time zone: the form reads it in the current
    # time zone (settings.TIME_ZONE), which __init__ names in the help text.
    starts_at = forms.DateTimeField(
        label="Starts at",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL_FORMAT),
        error_messages={
            "invalid": "Give the start as a date and a time, like 2026-12-24 18:30.",
        },
    )
    auto_start = forms.BooleanField(
        label="Start automatically at that time",
        required=False,
        help_text="At the start time registration closes and the bracket is drawn, seeded in "
        "order of registration; with fewer than 2 participants it stays open for you to "
        "start. Unticked, you start it from its console.",
    )
    check_in_opens_minutes = forms.IntegerField(
        label="Check-in opens (minutes before the start; 0 = no check-in)",
        required=False,  # left out or empty: no check-in
        initial=0,
        help_text=f"0, or {CHECK_IN_MINUTES_MIN} to {CHECK_IN_MINUTES_MAX} (a day). Entries that "
        "have not checked in when the tournament starts are removed, and their fees refunded.",
        error_messages={
            "invalid": "Check-in is a whole number of minutes, like 30; 0 for no check-in.",
        },
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The currency is the deployment's (settings.CURRENCY): read it now, not at import.
        self.fields["entry_fee"].label = f"Entry fee ({settings.CURRENCY})"
        for name in ("team_size", "max_participants", "swiss_rounds", "check_in_opens_minutes"):
            self.fields[name].widget.attrs["inputmode"] = "numeric"
        self.fields["check_in_opens_minutes"].widget.attrs.update(
            {"min": 0, "max": CHECK_IN_MINUTES_MAX}
        )
        # The zone the start is read in: the one DateTimeField converts from (the current
        # one, settings.TIME_ZONE), named with the time there now, to convert from one's own.
        zone = timezone.get_current_timezone_name()
        now_there = timezone.localtime().strftime("%H:%M")
        self.fields["starts_at"].help_text = (
            f"The date and time in {zone} (the server's time zone, where it is {now_there} "
            "now), not your own. Optional; an automatic start or a check-in needs it."
        )
        self.fields["entry_fee"].widget.attrs.update({"inputmode": "decimal", "step": "0.01"})
        self.fields["prize_split"].widget.attrs.update(
            {"inputmode": "numeric", "autocomplete": "off", "spellcheck": "false"}
        )

    def clean_prize_split(self) -> list[int]:
        text = self.cleaned_data["prize_split"].strip(" ,;%")
        parts = [part.strip().rstrip("%") for part in _SPLIT_SEPARATORS.split(text) if part]
        split = []
        for part in parts:
            if not part.isdigit():
                raise forms.ValidationError(
                    f"“{part[:20]}” is not a whole percentage: type numbers like “60, 30, 10”.",
                    code="not_a_percentage",
                )
            split.append(int(part))
        if len(split) > MAX_PARTICIPANTS:
            raise forms.ValidationError(
                f"At most {MAX_PARTICIPANTS:,} places can be paid.", code="too_many_places"
            )
        if errors := prize_split_errors(split):
            raise forms.ValidationError(errors)
        return split

    def clean(self):
        data = super().clean()
        split, places = data.get("prize_split"), data.get("max_participants")
        if split is not None and places is not None and len(split) > places:
            self.add_error(
                "prize_split",
                f"The split pays {len(split)} places but the tournament has only {places}: "
                "pay fewer places, or add places.",
            )
        tournament_format = data.get("format")
        if (
            data.get("swiss_rounds") is not None
            and tournament_format
            and tournament_format != Tournament.Format.SWISS
        ):
            self.add_error(
                "swiss_rounds",
                "Only swiss tournaments have rounds: leave this empty, or choose Swiss.",
            )
        self._match_play_check(data)
        return data

    def clean_check_in_opens_minutes(self) -> int:
        minutes = self.cleaned_data["check_in_opens_minutes"]
        return 0 if minutes is None else minutes

    def _match_play_check(self, data: dict) -> None:
        """The API's rule for the start, the automatic start and the check-in together
        (``match_play_errors``), each message on its field. A field already refused on its
        own (a start that is not a date) is not blamed again for what follows from that."""
        errors = match_play_errors(
            best_of=data.get("best_of", BEST_OF_CHOICES[0]),
            best_of_final=data.get("best_of_final"),
            starts_at=data.get("starts_at"),
            auto_start=data.get("auto_start", False),
            check_in_opens_minutes=data.get("check_in_opens_minutes") or 0,
        )
        for field, messages in errors.items():
            if field in self.fields and field not in self.errors:
                for message in messages:
                    self.add_error(field, message)

    def service_fields(self) -> dict:
        """The keyword arguments of ``tournaments.services.tournament_create`` (all but the
        organizer): money in cents, as the API takes it."""
        data = self.cleaned_data
        fields = {
            "name": data["name"],
            "game": data["game"],
            "format": data["format"],
            "team_size": data["team_size"],
            "max_participants": data["max_participants"],
            "entry_fee": int(data["entry_fee"] * 100),
            "prize_split": data["prize_split"],
            "best_of": data["best_of"],
            "best_of_final": data.get("best_of_final"),
            "starts_at": data.get("starts_at"),
            "auto_start": data.get("auto_start", False),
            "check_in_opens_minutes": data.get("check_in_opens_minutes") or 0,
        }
        if data.get("swiss_rounds") is not None:
            fields["swiss_rounds"] = data["swiss_rounds"]
        return fields


SEEDING_CHOICES = [
    ("registration", "In order of registration (the first to register is seed 1)"),
    ("random", "A random draw"),
]


class StartForm(forms.Form):
    """How to seed the bracket at the start: API.md's ``seeding`` of ``POST .../start``."""

    seeding = forms.ChoiceField(
        label="Seeding",
        choices=SEEDING_CHOICES,
        initial="registration",
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose how to seed: in order of registration, or a random draw.",
            "invalid_choice": "Choose how to seed: in order of registration, or a random draw.",
        },
    )
