"""Teams: ``/teams`` (the signed-in player's teams and invitations, and a form to create
one), ``/teams/new`` and ``/teams/{id}`` (the team, its members and invitations), with the
actions the services allow: create, invite by username (the captain), accept (the invited
player), leave (a member), remove a member (the captain).

Each action is a POST form (CSRF-protected) that calls one service of
``tournaments.services``, then goes back to the team's page (303) saying what it did; a
refusal is shown on the page in words and changes nothing.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from project.errors import DomainError
from tournaments.errors import TeamNotFound
from tournaments.models import Team
from tournaments.selectors import (
    team_get,
    team_invites_list,
    team_invites_of_user,
    teams_of_user_list,
)
from tournaments.services import team_accept, team_create, team_invite, team_member_remove
from web.forms import TeamCreateForm, TeamInviteForm, add_domain_error
from web.views.accounts import login_required_redirect, see_other

# The API's refusals of team actions (API.md "Teams"; tournaments/errors.py) in words. The
# codes not listed show the service's own sentence ("There is no user named 'bob'.").
TEAM_ERROR_WORDS = {
    "not_captain": "Only the team's captain can do this.",
    "not_invited": "You have no invitation to this team (it may have been accepted already).",
    "captain_cannot_leave": "The captain cannot leave the team.",
    "not_found": "That player is not a member of this team (any more).",
}


def _team_path(team_id: int) -> str:
    return reverse("web:team_detail", args=[team_id])


def _team_or_404(team_id: int) -> Team:
    try:
        return team_get(team_id=team_id)
    except TeamNotFound as error:
        raise Http404(error.detail) from error


# --- My teams, a new team -------------------------------------------------------------------


@require_safe
def teams_page(request: HttpRequest) -> HttpResponse:
    """``/teams``: the teams the signed-in player belongs to (with their members), the
    invitations waiting for them, and the form that creates a team. Three queries
    whatever the number of teams, members or invitations (after the session's two)."""
    if not request.user.is_authenticated:
        return login_required_redirect(request)
    return _teams_render(request, TeamCreateForm())


@require_http_methods(["GET", "HEAD", "POST"])
def team_new_page(request: HttpRequest) -> HttpResponse:
    """``/teams/new``: create a team; its creator is its captain and first member."""
    if not request.user.is_authenticated:
        return login_required_redirect(request)
    if request.method != "POST":
        return _teams_render(request, TeamCreateForm(), template="web/team_new.html")
    form = TeamCreateForm(request.POST)
    if form.is_valid():
        try:
            team = team_create(user=request.user, name=form.cleaned_data["name"])
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(
                request, f"You created {team.name}. Invite its players by their usernames."
            )
            return see_other(_team_path(team.pk))
    return _teams_render(request, form, template="web/team_new.html", status=400)


def _teams_render(
    request: HttpRequest,
    form: TeamCreateForm,
    *,
    template: str = "web/team_list.html",
    status: int = 200,
) -> HttpResponse:
    context = {"section": "teams", "form": form}
    if template == "web/team_list.html":
        context["teams"] = teams_of_user_list(user_id=request.user.pk)
        context["invites"] = list(team_invites_of_user(user_id=request.user.pk))
    return render(request, template, context, status=status)


# --- A team ---------------------------------------------------------------------------------


@require_safe
def team_detail_page(request: HttpRequest, team_id: int) -> HttpResponse:
    """``/teams/{id}``: the team and its members for everyone; its invitations for its
    members and for the invited player (who gets an "Accept" button); the captain's
    "Invite" form and "Remove" buttons; a member's "Leave team" button."""
    return _team_render(request, _team_or_404(team_id))


def _team_render(
    request: HttpRequest,
    team: Team,
    *,
    invite_form: TeamInviteForm | None = None,
    error: str | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    member_ids = {membership.user_id for membership in team.loaded_memberships}
    is_member = user.is_authenticated and user.pk in member_ids
    captain = user.is_authenticated and team.captain_id == user.pk
    invites = list(team_invites_list(team_id=team.pk)) if user.is_authenticated else []
    invited = any(invite.user_id == user.pk for invite in invites)
    return render(
        request,
        "web/team_detail.html",
        {
            "section": "teams",
            "team": team,
            "memberships": team.loaded_memberships,
            # Who was invited is the team's business and the invitee's, not the public's.
            "invites": invites if is_member else [],
            "is_member": is_member,
            "captain": captain,
            "invited": invited,
            "invite_form": invite_form or TeamInviteForm(),
            "error": error,
        },
        status=status,
    )


@require_POST
def team_invite_submit(request: HttpRequest, team_id: int) -> HttpResponse:
    """The captain invites a player by username (``team_invite``); inviting again is a
    no-op, inviting a member is refused (``already_member``)."""
    if not request.user.is_authenticated:
        return login_required_redirect(request, _team_path(team_id))
    form = TeamInviteForm(request.POST)
    if not form.is_valid():
        return _team_render(request, _team_or_404(team_id), invite_form=form, status=400)
    username = form.cleaned_data["username"]
    try:
        team_invite(team_id=team_id, by_user=request.user, username=username)
    except TeamNotFound as error:
        raise Http404(error.detail) from error
    except DomainError as error:
        if error.fields:  # about the username typed (no such user): next to it
            add_domain_error(form, error)
            return _team_render(
                request, _team_or_404(team_id), invite_form=form, status=error.status
            )
        return _refused(request, team_id, error, invite_form=form)
    messages.success(request, f"{username} is invited. They accept on this page.")
    return see_other(_team_path(team_id))


@require_POST
def team_accept_submit(request: HttpRequest, team_id: int) -> HttpResponse:
    """The invited player accepts (``team_accept``) and becomes a member."""
    if not request.user.is_authenticated:
        return login_required_redirect(request, _team_path(team_id))
    try:
        team = team_accept(team_id=team_id, user=request.user)
    except TeamNotFound as error:
        raise Http404(error.detail) from error
    except DomainError as error:
        return _refused(request, team_id, error)
    messages.success(request, f"You are now a member of {team.name}.")
    return see_other(_team_path(team_id))


@require_POST
def team_leave_submit(request: HttpRequest, team_id: int) -> HttpResponse:
    """A member leaves the team (``team_member_remove`` on themself); not its captain."""
    if not request.user.is_authenticated:
        return login_required_redirect(request, _team_path(team_id))
    return _member_remove(request, team_id, user_id=request.user.pk)


@require_POST
def team_member_remove_submit(request: HttpRequest, team_id: int, user_id: int) -> HttpResponse:
    """The captain removes a member (``team_member_remove``)."""
    if not request.user.is_authenticated:
        return login_required_redirect(request, _team_path(team_id))
    return _member_remove(request, team_id, user_id=user_id)


def _member_remove(request: HttpRequest, team_id: int, *, user_id: int) -> HttpResponse:
    team = _team_or_404(team_id)
    names = {m.user_id: m.user.username for m in team.loaded_memberships}
    try:
        team_member_remove(team_id=team_id, by_user=request.user, user_id=user_id)
    except TeamNotFound as error:
        raise Http404(error.detail) from error
    except DomainError as error:
        return _refused(request, team_id, error)
    if user_id == request.user.pk:
        messages.success(request, f"You left {team.name}.")
    else:
        removed = names.get(user_id, "The player")
        messages.success(request, f"{removed} is no longer in {team.name}.")
    return see_other(_team_path(team_id))


def _refused(
    request: HttpRequest,
    team_id: int,
    error: DomainError,
    *,
    invite_form: TeamInviteForm | None = None,
) -> HttpResponse:
    """The team's page as it is now, saying in words why the action was refused."""
    return _team_render(
        request,
        _team_or_404(team_id),
        invite_form=invite_form,
        error=TEAM_ERROR_WORDS.get(error.code, error.detail),
        status=error.status,
    )
