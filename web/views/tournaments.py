"""Tournament pages (server-rendered, no JavaScript needed): the list (``/`` and
``/tournaments``) and a tournament's page (``/tournaments/{id}``) with its "Join" and
"Leave" forms. Each view parses the query or the form, calls one selector or service and
renders a template of ``web/templates/web/``; a service's refusal is shown in words."""

from datetime import timedelta
from typing import NamedTuple
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from matches.formats.payouts import prize_shares
from project.errors import DomainError
from tournaments.errors import TournamentNotFound
from tournaments.models import Participant, Tournament
from tournaments.selectors import teams_captained_list, tournament_list, tournament_page_get
from tournaments.services import (
    check_in_is_open,
    tournament_check_in,
    tournament_join,
    tournament_leave,
)
from wallets.selectors import wallet_balances, wallet_get
from web.forms import TeamJoinForm
from web.presentation import STATUS_LABELS, money_text
from web.views.accounts import login_required_redirect, see_other

TOURNAMENTS_PER_PAGE = 50


@require_safe
def tournament_list_page(request: HttpRequest) -> HttpResponse:
    """``/``: every tournament, newest first, ``?status=`` to filter, ``?page=`` to page.

    A status that does not exist shows every tournament with a notice saying so (a typed
    or stale link is not an error worth a dead end); a page number that is not one, or is
    past the end, shows the first or the last page (Paginator.get_page).
    """
    status = request.GET.get("status", "")
    unknown_status = None
    if status and status not in STATUS_LABELS:
        unknown_status, status = status, ""
    paginator = Paginator(tournament_list(status=status or None), TOURNAMENTS_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))

    def page_url(number: int) -> str:
        query = {"status": status} if status else {}
        if number > 1:
            query["page"] = number
        return "?" + urlencode(query) if query else request.path

    return render(
        request,
        "web/tournament_list.html",
        {
            "section": "tournaments",
            "page": page,
            "status": status,
            "status_choices": STATUS_LABELS.items(),
            "unknown_status": unknown_status,
            "previous_url": page_url(page.previous_page_number()) if page.has_previous() else None,
            "next_url": page_url(page.next_page_number()) if page.has_next() else None,
        },
    )


# --- A tournament: detail, join, leave -------------------------------------------------------

# The API's refusals of a join or a leave (API.md "Tournaments"; tournaments/errors.py,
# wallets/errors.py), as a person reads them. The codes not listed show the service's own
# sentence, which names what is wrong ("The roster has 3 players; ... needs exactly 2.").
JOIN_ERROR_WORDS = {
    "registration_closed": "Registration for this tournament is closed: it has started, "
    "finished or been cancelled.",
    "tournament_full": "This tournament is full: every place is taken.",
    "not_captain": "Only the team's captain can enter the team.",
    "not_found": "That team no longer exists.",
}
LEAVE_ERROR_WORDS = {
    "registration_closed": "The tournament has started or ended, so you can no longer leave "
    "it (and no fee can be refunded).",
    "not_registered": "You are not registered in this tournament, so there is nothing to leave.",
    "not_captain": "Only your team's captain can withdraw the team.",
}


class Viewer(NamedTuple):
    """The signed-in user as the tournament's page sees them: the participant they play for
    (on its active roster), the registered participants they captain, whether they run it."""

    plays_for: Participant | None
    captains: list[Participant]
    organizer: bool


def viewer_of(tournament: Tournament, user) -> Viewer:
    if not user.is_authenticated:
        return Viewer(plays_for=None, captains=[], organizer=False)
    # A waiting entry is the user's entry too: they may leave the waitlist, or check in.
    entered = (Participant.Status.REGISTERED, Participant.Status.WAITLISTED)
    registered = [p for p in tournament.loaded_participants if p.status in entered]
    plays_for = next(
        (p for p in registered if any(m.user_id == user.pk for m in p.loaded_roster)), None
    )
    captains = [p for p in registered if p.captain_id == user.pk]
    organizer = tournament.is_run_by(user)
    return Viewer(plays_for=plays_for, captains=captains, organizer=organizer)


def prize_places(tournament: Tournament) -> list[dict]:
    """Each paid place: its percentage and, once there is a pool, its amount, split as the
    payout will be (``matches.formats.payouts.prize_shares``: rounded down, the remainder to
    1st). Before the end, every paid place counts as occupied."""
    split = tournament.prize_split or []
    shares = {}
    if tournament.prize_pool and sum(split) == 100:
        shares = prize_shares(
            pool=tournament.prize_pool, split=split, placements=[[i] for i in range(len(split))]
        )
    return [
        {"place": ordinal(i + 1), "percent": percent, "amount": shares.get(i)}
        for i, percent in enumerate(split)
        if percent
    ]


def ordinal(n: int) -> str:
    if 11 <= n % 100 <= 13:
        return f"{n}th"
    return f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th') }"


def _page_or_404(tournament_id: int) -> Tournament:
    try:
        return tournament_page_get(tournament_id=tournament_id)
    except TournamentNotFound as error:
        raise Http404(error.detail) from error


def _detail_path(tournament_id: int) -> str:
    return reverse("web:tournament_detail", args=[tournament_id])


@require_safe
def tournament_detail_page(request: HttpRequest, tournament_id: int) -> HttpResponse:
    """``/tournaments/{id}``: the tournament, its participants (and teams' rosters), fee and
    prizes, links to its live page (and, for its organizer, its console); "Join" and
    "Leave" for a signed-in player. A constant number of queries whatever the number of
    participants (``tournament_page_get``: three; then the viewer's wallet and teams)."""
    return _detail_render(request, _page_or_404(tournament_id))


def _detail_render(
    request: HttpRequest,
    tournament: Tournament,
    *,
    join_form: TeamJoinForm | None = None,
    error: str | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    viewer = viewer_of(tournament, user)
    registration = tournament.status == Tournament.Status.REGISTRATION
    full = tournament.participant_count >= tournament.max_participants
    # The join form: for a player not yet playing here, while a place is free.
    can_join = user.is_authenticated and registration and not full and viewer.plays_for is None
    # When full, the same form puts the entry on the waitlist (nothing is charged then).
    can_wait = user.is_authenticated and registration and full and viewer.plays_for is None
    # "Check in": for an entry the user acts for (solo, or captain) while the window is open.
    check_in_entry = None
    if check_in_is_open(tournament):
        check_in_entry = next((p for p in viewer.captains if not p.checked_in), None)
    balance = None
    if user.is_authenticated and registration and tournament.entry_fee:
        wallet = wallet_get(user_id=user.pk)
        balance = wallet.balance if wallet else 0
    team_entries = []
    if (can_join or can_wait) and tournament.is_team_event:
        team_entries = [
            _team_entry(team, tournament=tournament, posted=join_form)
            for team in teams_captained_list(user_id=user.pk)
        ]
    participants = [
        {
            "participant": p,
            "members": [m.user.username for m in p.loaded_roster],
            "mine": viewer.plays_for is not None and viewer.plays_for.pk == p.pk,
        }
        for p in tournament.loaded_participants
    ]
    return render(
        request,
        "web/tournament_detail.html",
        {
            "section": "tournaments",
            "tournament": tournament,
            "viewer": viewer,
            "participants": participants,
            # Seeds are given at the start; before it the order is the registrations'.
            "seeded": any(p.seed is not None for p in tournament.loaded_participants),
            "prizes": prize_places(tournament),
            "registration": registration,
            "full": full,
            "can_join": can_join,
            "can_wait": can_wait,
            "check_in_entry": check_in_entry,
            "check_in_opens": _check_in_opens(tournament),
            "can_leave": registration and bool(viewer.captains),
            "balance": balance,
            "short_of_fee": balance is not None and balance < tournament.entry_fee,
            "team_entries": team_entries,
            "team_fee": tournament.entry_fee * tournament.team_size,
            "error": error,
            "login_url": f"/login?{urlencode({'next': request.path})}",
        },
        status=status,
    )


def _check_in_opens(tournament: Tournament):
    """When check-in opens, for a tournament in registration that has one (else None)."""
    if not tournament.has_check_in or tournament.status != Tournament.Status.REGISTRATION:
        return None
    return tournament.starts_at - timedelta(minutes=tournament.check_in_opens_minutes)


def _team_entry(team, *, tournament: Tournament, posted: TeamJoinForm | None) -> dict:
    """One of the captain's teams as the join form offers it, with the roster ticked: as
    posted when this team's entry was refused, else the whole team when it has exactly the
    tournament's size, else nobody (the captain chooses)."""
    if posted is not None and posted.data.get("team") == str(team.pk):
        ticked = set(posted.data.getlist("members"))
    elif len(team.loaded_memberships) == tournament.team_size:
        ticked = {str(m.user_id) for m in team.loaded_memberships}
    else:
        ticked = set()
    return {
        "team": team,
        "members": [
            {"id": m.user_id, "username": m.user.username, "checked": str(m.user_id) in ticked}
            for m in team.loaded_memberships
        ],
    }


@require_POST
def tournament_join_submit(request: HttpRequest, tournament_id: int) -> HttpResponse:
    """The "Join" button: the signed-in player (solo) or, in a team tournament, one of the
    teams they captain with the roster they chose (``tournaments.services.tournament_join``).
    Every refusal is shown on the page in words, with the roster as chosen, and changes
    nothing."""
    if not request.user.is_authenticated:
        return login_required_redirect(request, _detail_path(tournament_id))
    tournament = _page_or_404(tournament_id)
    form = None
    team_id = member_ids = None
    if tournament.is_team_event:
        form = TeamJoinForm(request.POST, teams=teams_captained_list(user_id=request.user.pk))
        if not form.is_valid():
            return _detail_render(
                request,
                tournament,
                join_form=form,
                error=" ".join(_form_messages(form)),
                status=400,
            )
        team_id, member_ids = form.cleaned_data["team"], form.cleaned_data["members"]
    try:
        participant = tournament_join(
            tournament_id=tournament_id,
            user=request.user,
            team_id=team_id,
            member_ids=member_ids,
            waitlist=request.POST.get("waitlist") == "1",
        )
    except DomainError as error:
        return _detail_render(
            request,
            _page_or_404(tournament_id),  # as it is now: the refusal may be a change of state
            join_form=form,
            error=_join_error_words(error, tournament=tournament, form=form),
            status=error.status,
        )
    fee = tournament.entry_fee
    if participant.status == Participant.Status.WAITLISTED:
        messages.success(
            request,
            f"{participant.name} is #{participant.waitlist_position} on the waitlist of "
            f"{tournament.name}. Nothing was charged: the entry fee is paid only if a place "
            "frees up for you.",
        )
        return see_other(_detail_path(tournament_id))
    if tournament.is_team_event:
        charged = (
            f" Each of its {len(participant.loaded_roster)} players paid the entry fee of "
            f"{money_text(fee)}."
            if fee
            else ""
        )
        messages.success(request, f"{participant.name} joined {tournament.name}.{charged}")
    else:
        charged = f" The entry fee of {money_text(fee)} was paid from your wallet." if fee else ""
        messages.success(request, f"You joined {tournament.name}.{charged}")
    return see_other(_detail_path(tournament_id))


@require_POST
def tournament_leave_submit(request: HttpRequest, tournament_id: int) -> HttpResponse:
    """The "Leave" button: withdraws the player, or the team its captain entered; every
    member's fee is refunded at once (``tournaments.services.tournament_leave``)."""
    if not request.user.is_authenticated:
        return login_required_redirect(request, _detail_path(tournament_id))
    tournament = _page_or_404(tournament_id)
    captains = viewer_of(tournament, request.user).captains
    # A waiting entry leaves the waitlist: it paid nothing, so nothing is refunded.
    waiting = bool(captains) and all(p.status == Participant.Status.WAITLISTED for p in captains)
    try:
        participant = tournament_leave(tournament_id=tournament_id, user=request.user)
    except DomainError as error:
        return _detail_render(
            request,
            _page_or_404(tournament_id),  # as it is now: the refusal may be a change of state
            error=LEAVE_ERROR_WORDS.get(error.code, error.detail),
            status=error.status,
        )
    fee = tournament.entry_fee
    if waiting:
        messages.success(request, f"{participant.name} left the waitlist of {tournament.name}.")
    elif tournament.is_team_event:
        refunded = " Every player's entry fee was refunded." if fee else ""
        messages.success(request, f"{participant.name} left {tournament.name}.{refunded}")
    else:
        refunded = f" Your entry fee of {money_text(fee)} was refunded." if fee else ""
        messages.success(request, f"You left {tournament.name}.{refunded}")
    return see_other(_detail_path(tournament_id))


@require_POST
def tournament_check_in_submit(request: HttpRequest, tournament_id: int) -> HttpResponse:
    """The "Check in" button: the player, or the captain for the team
    (``tournaments.services.tournament_check_in``); a refusal is shown in words."""
    if not request.user.is_authenticated:
        return login_required_redirect(request, _detail_path(tournament_id))
    try:
        participant = tournament_check_in(tournament_id=tournament_id, user=request.user)
    except DomainError as error:
        return _detail_render(
            request,
            _page_or_404(tournament_id),
            error=CHECK_IN_ERROR_WORDS.get(error.code, error.detail),
            status=error.status,
        )
    messages.success(request, f"{participant.name} is checked in.")
    return see_other(_detail_path(tournament_id))


CHECK_IN_ERROR_WORDS = {
    "check_in_closed": "Check-in is not open: it opens before the start and closes when the "
    "tournament starts.",
    "not_registered": "You have no entry in this tournament to check in.",
    "not_captain": "Only the team's captain can check the team in.",
}


def _form_messages(form: TeamJoinForm) -> list[str]:
    return [str(message) for errors in form.errors.values() for message in errors]


def _join_error_words(
    error: DomainError, *, tournament: Tournament, form: TeamJoinForm | None
) -> str:
    """A refused join in words; ``form`` is the team entry (None for a solo join)."""
    if error.code == "insufficient_funds":
        fee = money_text(tournament.entry_fee)
        if form is None:
            return (
                f"Your wallet holds less than the entry fee of {fee}: ask a staff member for "
                "a deposit, then join."
            )
        # Who is short, from a plain read after the refusal: the service decided on locked
        # rows, this only names them.
        roster = form.cleaned_data["members"]
        names = dict(form.fields["members"].choices)
        short = [
            f"{names[pk]} has {money_text(balance)}"
            for pk, balance in wallet_balances(user_ids=roster).items()
            if balance < tournament.entry_fee
        ]
        who = "; ".join(short) if short else error.detail
        return f"Every player of the roster pays the entry fee of {fee}, and not all can: {who}."
    if error.code == "already_registered":
        if form is None:
            return "You have already joined this tournament."
        return f"{error.detail} A player plays for only one participant in a tournament."
    return JOIN_ERROR_WORDS.get(error.code, error.detail)
