"""The forms of the account, tournament and team pages (web/views/accounts.py,
tournaments.py, teams.py).

A form checks the shape of what a person typed, with the API's limits (users/views.py,
tournaments/serializers.py), so that a mistake is named next to its field before any
service runs. The rules themselves (a strong enough password, a free username, a roster
of the right size, enough money) are the services'; what they refuse comes back as a
``DomainError``, which ``add_domain_error`` puts on the form in words.
"""

from __future__ import annotations

from django import forms

from project.errors import DomainError
from tournaments.models import NAME_MAX_LENGTH, Team
from users.models import User

USERNAME_MAX_LENGTH = User._meta.get_field("username").max_length
EMAIL_MAX_LENGTH = User._meta.get_field("email").max_length
PASSWORD_MAX_LENGTH = 128  # as the API's input (users/views.py)


def add_domain_error(form: forms.Form, error: DomainError, *, words: str | None = None) -> None:
    """Put a service's refusal on ``form``: each of its ``fields`` messages on the field of
    that name (when the form has one), and ``words`` (else the error's own sentence) on the
    form as a whole when no field took a message."""
    placed = False
    for field, messages in (error.fields or {}).items():
        if field in form.fields:
            for message in messages:
                form.add_error(field, message)
            placed = True
    if not placed:
        form.add_error(None, words or error.detail)


class PageForm(forms.Form):
    """A form of the pages: labels without Django's trailing colon."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class SignUpForm(PageForm):
    username = forms.RegexField(
        regex=r"^[\w.@+-]+\Z",
        max_length=USERNAME_MAX_LENGTH,
        help_text="Letters, digits and @ . + - _ only.",
        error_messages={
            "invalid": "Use only letters, digits and @ . + - _ in a username.",
            "required": "Choose a username.",
        },
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )
    password = forms.CharField(
        max_length=PASSWORD_MAX_LENGTH,
        strip=False,
        error_messages={"required": "Choose a password."},
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password_again = forms.CharField(
        label="Password again",
        max_length=PASSWORD_MAX_LENGTH,
        strip=False,
        error_messages={"required": "Type the password a second time."},
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    email = forms.EmailField(
        label="Email (optional)",
        required=False,
        max_length=EMAIL_MAX_LENGTH,
        help_text="For notices about your matches.",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    phone = forms.RegexField(
        label="Phone (optional)",
        regex=r"^\+?[0-9 ()-]{3,32}\Z",
        required=False,
        help_text="For text messages about your matches.",
        error_messages={"invalid": "Use digits, spaces, ( ) and - only, with an optional +."},
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )

    def clean(self):
        data = super().clean()
        password, again = data.get("password"), data.get("password_again")
        if password is not None and again is not None and password != again:
            self.add_error("password_again", "The two passwords differ.")
        return data


class LoginForm(PageForm):
    # The fields issue 12 names; no format check on the username, so that a typo is
    # counted as a failed login like any other (django-axes) instead of slipping past it.
    username = forms.CharField(
        max_length=USERNAME_MAX_LENGTH,
        error_messages={"required": "Type your username."},
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )
    password = forms.CharField(
        max_length=PASSWORD_MAX_LENGTH,
        strip=False,
        error_messages={"required": "Type your password."},
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class TeamJoinForm(PageForm):
    """A captain's team entry: which of their teams, and which members play (the roster).

    The choices are the teams the signed-in user captains and their members; whether the
    roster has the tournament's size, and whether everyone can pay, is the service's to
    say (``tournament_join``)."""

    team = forms.TypedChoiceField(
        coerce=int,
        error_messages={
            "required": "Choose the team to enter.",
            "invalid_choice": "Choose one of the teams you captain.",
        },
    )
    members = forms.TypedMultipleChoiceField(
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "required": "Choose the players of your roster.",
            "invalid_choice": "Choose players of the team you enter.",
        },
    )

    def __init__(self, *args, teams: list[Team], **kwargs):
        super().__init__(*args, **kwargs)
        self.teams = {team.pk: team for team in teams}
        self.fields["team"].choices = [(team.pk, team.name) for team in teams]
        self.fields["members"].choices = [
            (membership.user_id, membership.user.username)
            for team in teams
            for membership in team.loaded_memberships
        ]

    def clean(self):
        data = super().clean()
        team = self.teams.get(data.get("team"))
        members = data.get("members")
        if team is not None and members:
            on_team = {membership.user_id for membership in team.loaded_memberships}
            if strangers := [pk for pk in members if pk not in on_team]:
                names = dict(self.fields["members"].choices)
                who = ", ".join(names[pk] for pk in strangers)
                verb = "is not a member" if len(strangers) == 1 else "are not members"
                self.add_error("members", f"{who} {verb} of {team.name}.")
        return data


class TeamCreateForm(PageForm):
    name = forms.CharField(
        label="Team name",
        max_length=NAME_MAX_LENGTH,
        error_messages={"required": "Name the team."},
    )


class TeamInviteForm(PageForm):
    username = forms.CharField(
        label="Username to invite",
        max_length=USERNAME_MAX_LENGTH,
        error_messages={"required": "Type the username of the player to invite."},
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "none"}),
    )
