"""The organizer's pages: ``/tournaments/new`` (create a tournament) and the console
``/tournaments/{id}/manage`` (registrations, start, the queue of disputed and overdue
matches, results, cancel and its refunds).

The console is rendered on the server at one version of the tournament
(``matches.selectors.tournament_console_get``) and works without JavaScript: every action
is a plain form that POSTs here (CSRF-protected), calls one service and redirects back
(303) saying what it did, or shows the console again as it is now with the refusal in
words and the form as it was sent. ``web/static/web/manage.js`` follows the tournament's
socket from that version (``LiveFeed``, resuming with ``?since=``) and redraws what
changes: registrations, the queue, the results, the refunds counting down.

Only the tournament's organizer, or staff (whom the services let act as organizers), may
see the console; anyone else signed in gets a 403 page, and anonymous people the sign-in
page, which brings them back.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from matches.models import Match
from matches.payloads import matches_data
from matches.selectors import (
    TournamentConsole,
    match_confirmation_deadline,
    tournament_console_get,
)
from matches.services import (
    match_reset,
    match_resolve,
    participant_disqualify,
    tournament_start,
)
from project.encoding import datetime_text
from project.errors import DomainError
from tournaments.errors import TournamentNotFound
from tournaments.models import Participant, Tournament
from tournaments.payloads import participant_data, tournament_data
from tournaments.services import check_in_is_open, tournament_cancel, tournament_create
from web.forms_manage import StartForm, TournamentCreateForm
from web.forms_matches import ResultForm
from web.presentation import (
    FORMAT_LABELS,
    MATCH_STATUS_LABELS,
    STATUS_LABELS,
    money_text,
    report_text,
    result_text,
    round_label,
)
from web.views.accounts import login_required_redirect

Status = Tournament.Status
MatchStatus = Match.Status

# The API's error codes (API.md; matches/errors.py, tournaments/errors.py) as the
# organizer reads them. manage.js has no actions of its own (its forms post here), so these
# sentences are only said here.
ERROR_WORDS = {
    "not_organizer": "Only the tournament's organizer can do this.",
    "not_enough_participants": "A tournament needs at least 2 participants to start.",
    "match_not_ready": "This match is still waiting for one of its sides: there is no "
    "result to settle or reset yet.",
    "match_closed": "This match can no longer change: its tournament is no longer in progress.",
    "downstream_played": "This result cannot be reset: a match it led to already has a "
    "result. Reset that match first.",
    "not_found": "This match no longer exists: a reset took away the matches made from its result.",
    "invalid_result": "That result is not possible.",
}

SEEDING_WORDS = {"registration": "in order of registration", "random": "by a random draw"}


def console_path(tournament_id: int) -> str:
    return reverse("web:tournament_manage", args=[tournament_id])


# --- New tournament -------------------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
def tournament_new_page(request: HttpRequest) -> HttpResponse:
    """``/tournaments/new``: the form (GET), or the tournament made from it (POST), whose
    organizer is the signed-in user; then on to its console."""
    if not request.user.is_authenticated:
        return login_required_redirect(request)
    if request.method != "POST":
        return _new_render(request, TournamentCreateForm())
    form = TournamentCreateForm(request.POST)
    if not form.is_valid():
        return _new_render(request, form, status=400)
    try:
        tournament = tournament_create(organizer=request.user, **form.service_fields())
    except DomainError as error:
        # The service checks the split again; any refusal goes back on its field.
        for field, field_errors in (error.fields or {}).items():
            for message in field_errors:
                form.add_error(field if field in form.fields else None, message)
        if not error.fields:
            form.add_error(None, error.detail)
        return _new_render(request, form, status=error.status)
    messages.success(
        request,
        f"{tournament.name} is open for registration. Players join it from its page; "
        "they appear below as they do.",
    )
    return _see_other(console_path(tournament.pk))


def _new_render(request: HttpRequest, form: TournamentCreateForm, *, status: int = 200):
    return render(
        request,
        "web/tournament_new.html",
        {"section": "tournament_new", "form": form, "currency": settings.CURRENCY},
        status=status,
    )


# --- The console ----------------------------------------------------------------------------


@require_safe
def tournament_manage_page(request: HttpRequest, tournament_id: int) -> HttpResponse:
    """``/tournaments/{id}/manage``: the console, as the tournament is now."""
    return _console_response(request, tournament_id)


def _console_response(request: HttpRequest, tournament_id: int, **extra) -> HttpResponse:
    if not request.user.is_authenticated:
        return login_required_redirect(request)
    console = _console_or_404(tournament_id)
    if not console.tournament.is_run_by(request.user):
        return _forbidden(request, console.tournament)
    return _console_render(request, console, **extra)


@require_POST
def tournament_start_submit(request: HttpRequest, tournament_id: int) -> HttpResponse:
    """Start: close registration, seed the participants (the form's choice), draw the
    bracket (``matches.services.tournament_start``)."""
    denied, console = _organizer_console(request, tournament_id)
    if denied:
        return denied
    form = StartForm(request.POST)
    if not form.is_valid():
        return _console_render(request, console, start_form=form, status=400)
    seeding = form.cleaned_data["seeding"]
    try:
        tournament_start(tournament_id=tournament_id, user=request.user, seeding=seeding)
    except DomainError as error:
        return _refused(request, tournament_id, error, action="start", start_form=form)
    messages.success(
        request,
        f"Started: the participants are seeded {SEEDING_WORDS[seeding]} and the first "
        "matches are ready to play.",
    )
    return _see_other(console_path(tournament_id))


@require_http_methods(["GET", "HEAD", "POST"])
def tournament_cancel_page(request: HttpRequest, tournament_id: int) -> HttpResponse:
    """``/tournaments/{id}/manage/cancel``. GET: the console asking to confirm (the step
    the "Cancel tournament" button leads to without JavaScript; manage.js asks in place).
    POST with ``confirm=yes`` (that step's button): cancel; the refunds then run in the
    background and the console counts them down (``tournaments.services.tournament_cancel``).
    A POST without it changes nothing and asks again."""
    if request.method != "POST":
        return _console_response(request, tournament_id, confirm_cancel=True)
    denied, console = _organizer_console(request, tournament_id)
    if denied:
        return denied
    if request.POST.get("confirm") != "yes":
        return _console_render(request, console, confirm_cancel=True)
    try:
        tournament = tournament_cancel(tournament_id=tournament_id, user=request.user)
    except DomainError as error:
        return _refused(request, tournament_id, error, action="cancel")
    pending = tournament.refunds_pending
    if not pending:
        refunds = "nobody had registered, so there is nothing to refund"
    elif tournament.entry_fee:
        refunds = f"the entry fees of its {_count(pending, 'participant')} are being refunded"
    else:
        refunds = "it was free, so there are no entry fees to refund"
    messages.success(request, f"{tournament.name} is cancelled: {refunds}.")
    return _see_other(console_path(tournament_id))


@require_POST
def match_resolve_submit(request: HttpRequest, tournament_id: int, match_id: int) -> HttpResponse:
    """The organizer's result for one of the tournament's matches: settles a dispute or an
    overdue report, or overrides (``matches.services.match_resolve``)."""
    denied, console = _organizer_console(request, tournament_id)
    if denied:
        return denied
    match = _match_of(console, match_id)
    if match is None:
        return _match_missing(request, console)
    form = resolve_form(console, match, data=request.POST)
    if not form.is_valid():
        return _console_render(request, console, bound=form, status=400)
    winner_id, scores = form.result()
    try:
        resolved = match_resolve(
            match_id=match_id,
            user=request.user,
            winner_id=winner_id,
            scores=scores,
            games=form.games_listed(),
        )
    except DomainError as error:
        return _refused(request, tournament_id, error, action="resolve", match=match, bound=form)
    names = participant_names(console.tournament)
    messages.success(
        request,
        f"Resolved {_match_title(console, match)}: "
        f"{result_text(match, names, resolved.winner_id, resolved.scores)}.",
    )
    return _see_other(console_path(tournament_id))


@require_POST
def match_reset_submit(request: HttpRequest, tournament_id: int, match_id: int) -> HttpResponse:
    """Back to ``ready``, reports and result dropped (``matches.services.match_reset``)."""
    denied, console = _organizer_console(request, tournament_id)
    if denied:
        return denied
    match = _match_of(console, match_id)
    if match is None:
        return _match_missing(request, console)
    try:
        match_reset(match_id=match_id, user=request.user)
    except DomainError as error:
        return _refused(request, tournament_id, error, action="reset", match=match)
    messages.success(
        request,
        f"Reset {_match_title(console, match)}: it is ready to be played and reported again.",
    )
    return _see_other(console_path(tournament_id))


@require_POST
def participant_disqualify_submit(
    request: HttpRequest, tournament_id: int, participant_id: int
) -> HttpResponse:
    """Disqualify a participant (``matches.services.participant_disqualify``), once the
    organizer has ticked the confirmation box (``confirm``)."""
    denied, console = _organizer_console(request, tournament_id)
    if denied:
        return denied
    if request.POST.get("confirm") != "yes":
        return _console_render(
            request, console, error="Tick the box to confirm the disqualification.", status=400
        )
    try:
        participant = participant_disqualify(
            tournament_id=tournament_id, participant_id=participant_id, user=request.user
        )
    except DomainError as error:
        return _refused(request, tournament_id, error, action="disqualify")
    messages.success(
        request,
        f"Disqualified {participant.name}: its matches are forfeited as they come, "
        "and it takes no place or prize.",
    )
    return _see_other(console_path(tournament_id))


# --- Reading and refusing -------------------------------------------------------------------


def _console_or_404(tournament_id: int) -> TournamentConsole:
    try:
        return tournament_console_get(tournament_id=tournament_id)
    except TournamentNotFound as error:
        raise Http404(error.detail) from error


def _organizer_console(
    request: HttpRequest, tournament_id: int
) -> tuple[HttpResponse | None, TournamentConsole | None]:
    """(a response that ends the request, or None) and the console: the sign-in page for
    anonymous people (back to the console after), 404 for no such tournament, 403 for
    anyone but its organizer."""
    if not request.user.is_authenticated:
        return login_required_redirect(request, console_path(tournament_id)), None
    console = _console_or_404(tournament_id)
    if not console.tournament.is_run_by(request.user):
        return _forbidden(request, console.tournament), None
    return None, console


def _forbidden(request: HttpRequest, tournament: Tournament) -> HttpResponse:
    return render(
        request,
        "web/manage_forbidden.html",
        {"section": "tournaments", "tournament": tournament},
        status=403,
    )


def _match_of(console: TournamentConsole, match_id: int) -> Match | None:
    return next((m for m in console.matches if m.pk == match_id), None)


def _match_missing(request: HttpRequest, console: TournamentConsole) -> HttpResponse:
    """A match that is not (or no longer) one of this tournament's: the console as it is,
    saying so (a swiss round paired again after a reset takes its matches away)."""
    return _console_render(request, console, error=ERROR_WORDS["not_found"], status=404)


def _refused(
    request: HttpRequest,
    tournament_id: int,
    error: DomainError,
    *,
    action: str,
    match: Match | None = None,
    **forms_sent,
) -> HttpResponse:
    """The console as it is now, the refusal in words, the form as it was sent.

    Read again: a refusal often means the tournament changed meanwhile (a result arrived,
    someone else started or cancelled it), and the page must show what it is now.
    """
    console = _console_or_404(tournament_id)
    words = refusal_words(error, action=action, console=console, match=match)
    return _console_render(request, console, error=words, status=error.status, **forms_sent)


def refusal_words(
    error: DomainError, *, action: str, console: TournamentConsole, match: Match | None
) -> str:
    """What the service refused, said to the organizer: the code in words, with what the
    console knows that the code does not say (the status, which match to reset first)."""
    tournament = console.tournament
    status = STATUS_LABELS.get(tournament.status, tournament.status).lower()
    if error.code == "invalid_status":
        if action == "start":
            return (
                f"The tournament cannot start: it is {status}, and only a tournament in "
                "registration can start."
            )
        if action == "disqualify":
            return f"Only a tournament in progress disqualifies: it is {status}."
        return f"The tournament cannot be cancelled: it is {status}."
    if error.code == "not_enough_participants":
        count = sum(
            1 for p in tournament.loaded_participants if p.status == Participant.Status.REGISTERED
        )
        return (
            f"{ERROR_WORDS['not_enough_participants']} {count} "
            f"{'is' if count == 1 else 'are'} registered so far."
        )
    if error.code == "match_closed" and action in ("resolve", "reset"):
        return (
            f"This match can no longer change: the tournament is {status}."
            if tournament.status != Status.IN_PROGRESS
            else ERROR_WORDS["match_closed"]
        )
    if error.code == "downstream_played" and match is not None:
        played = _downstream_played(console, match)
        if played:
            return (
                "This result cannot be reset: a match it led to already has a result. "
                f"Reset {played} first."
            )
    words = ERROR_WORDS.get(error.code, error.detail)
    if error.code == "invalid_result":
        return f"{words} {error.detail}"
    return words


def _downstream_played(console: TournamentConsole, match: Match) -> str | None:
    """The match this one fed that already has a result, named ("Semifinals: A vs B"), or
    None when it is not one the console can name (a later swiss round)."""
    by_id = {m.pk: m for m in console.matches}
    played = (
        MatchStatus.COMPLETED,
        MatchStatus.AWAITING_CONFIRMATION,
        MatchStatus.DISPUTED,
    )
    for target_id in (match.next_match_id, match.loser_next_match_id):
        target = by_id.get(target_id)
        if target is not None and target.status in played and not target.is_bye:
            return _match_title(console, target)
    return None


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _see_other(path: str) -> HttpResponse:
    """303: a reload of the page it lands on does not post again."""
    response = redirect(path)
    response.status_code = 303
    return response


# --- What the console shows -----------------------------------------------------------------


def participant_names(tournament: Tournament) -> dict[int, str]:
    return {p.pk: p.name for p in tournament.loaded_participants}


def _match_title(console: TournamentConsole, match: Match) -> str:
    """ "Semifinals: Alice vs Bob", as the console names a match in sentences."""
    names = participant_names(console.tournament)
    sides = " vs ".join(
        names.get(pk, "to be decided") for pk in (match.participant_a_id, match.participant_b_id)
    )
    return f"{round_label(match, last_round=console.rounds.get(match.bracket))}: {sides}"


def resolve_form(console: TournamentConsole, match: Match, data=None) -> ResultForm:
    """The match's resolve form; its prefix names the match, so that every card of the
    queue has fields (and ids) of its own."""
    return ResultForm(
        data,
        prefix=f"match-{match.pk}",
        match=match,
        names=participant_names(console.tournament),
    )


def is_overdue(match: Match, now: datetime) -> bool:
    """A one-sided report whose confirmation deadline has passed (the beat task
    ``matches_confirm_overdue`` confirms it at its next run, unless the organizer decides
    first)."""
    deadline = match_confirmation_deadline(match)
    return deadline is not None and deadline <= now


def _console_render(
    request: HttpRequest,
    console: TournamentConsole,
    *,
    status: int = 200,
    error: str | None = None,
    bound: ResultForm | None = None,
    start_form: StartForm | None = None,
    confirm_cancel: bool = False,
) -> HttpResponse:
    tournament = console.tournament
    names = participant_names(tournament)
    now = timezone.now()

    def title(match: Match) -> str:
        return round_label(match, last_round=console.rounds.get(match.bracket))

    def side_names(match: Match) -> tuple[str, str]:
        return (
            names.get(match.participant_a_id, "to be decided"),
            names.get(match.participant_b_id, "to be decided"),
        )

    def reports_of(match: Match) -> list[dict]:
        return [
            {
                "by": names.get(report.participant_id, "A side"),
                "result": report_text(match, names, report),
                "at": report.at,
            }
            for report in match.loaded_reports
        ]

    queue, in_play, results = [], [], []
    for match in console.matches:
        if match.is_bye:
            continue
        name_a, name_b = side_names(match)
        row = {
            "match": match,
            "title": title(match),
            "a": name_a,
            "b": name_b,
            "status_label": MATCH_STATUS_LABELS.get(match.status, match.status),
        }
        if match.status == MatchStatus.DISPUTED or is_overdue(match, now):
            form = bound if bound is not None and bound.match.pk == match.pk else None
            row |= {
                "reason": "disputed" if match.status == MatchStatus.DISPUTED else "overdue",
                "reports": reports_of(match),
                "deadline": match_confirmation_deadline(match),
                "form": form or resolve_form(console, match),
                "waiting_for": _other_side_name(match, names),
            }
            queue.append(row)
        elif match.status in (MatchStatus.READY, MatchStatus.AWAITING_CONFIRMATION):
            row |= {
                "reports": reports_of(match),
                "deadline": match_confirmation_deadline(match),
                "waiting_for": _other_side_name(match, names),
            }
            in_play.append(row)
        elif match.status == MatchStatus.COMPLETED:
            row["result"] = result_text(match, names, match.winner_id, match.scores)
            results.append(row)

    # The waitlist after the entries, in its order (the rest keep the selector's: seed, then
    # registration); page_data keeps this order, so manage.js draws the list the same.
    loaded = sorted(
        tournament.loaded_participants,
        key=lambda p: (p.status == Participant.Status.WAITLISTED, p.waitlist_position or 0),
    )
    participants = [
        {
            "participant": p,
            "members": [member.user.username for member in p.loaded_roster],
        }
        for p in loaded
    ]
    # Those who left are not loaded: these are the registered (and the waitlist), and after
    # a cancellation the registered and the refunded. The waitlist holds no place.
    entered = sum(1 for p in loaded if p.status != Participant.Status.WAITLISTED)
    refunded = sum(
        1 for p in tournament.loaded_participants if p.status == Participant.Status.REFUNDED
    )
    plan = start_plan(tournament, now)
    page_data = {
        "tournament": tournament_data(tournament),
        "participants": [participant_data(p) for p in loaded],  # the list's order
        "matches": matches_data(console.matches),
        "byes": [m.pk for m in console.matches if m.is_bye],
        "confirmation_seconds": int(settings.MATCH_CONFIRMATION_TIMEOUT.total_seconds()),
        "server_now": datetime_text(now),
        # The start plan's times are said in this zone (start_plan); manage.js says them
        # again in it as the plan changes, from the tournament and the participants above.
        "time_zone": plan["time_zone"],
        "currency": settings.CURRENCY,
        "status_labels": STATUS_LABELS,
        "match_status_labels": MATCH_STATUS_LABELS,
        "format_labels": FORMAT_LABELS,
    }
    return render(
        request,
        "web/manage.html",
        {
            "section": "tournaments",
            "tournament": tournament,
            "status_label": STATUS_LABELS.get(tournament.status, tournament.status),
            "meta": _meta_line(tournament, entered),
            "participants": participants,
            "entered": entered,
            "queue": queue,
            "in_play": in_play,
            "results": results,
            "refunds": {
                "pending": tournament.refunds_pending,
                "done": refunded,
                "total": refunded + tournament.refunds_pending,
            },
            "start_form": start_form or StartForm(),
            "plan": plan,
            "confirm_cancel": confirm_cancel,
            "error": error,
            "page_data": page_data,
        },
        status=status,
    )


def start_plan(tournament: Tournament, now: datetime) -> dict:
    """What the console says of the start while in registration: the start time (in the
    zone the page names), whether it starts itself, the check-in window and who has
    checked in, and how many wait on the waitlist. Counts from the loaded participants:
    no query. manage.js (``renderStartPlan``) says the same again from the live state, in
    this zone: a change here is one there."""
    registered = [
        p for p in tournament.loaded_participants if p.status == Participant.Status.REGISTERED
    ]
    waitlisted = [
        p for p in tournament.loaded_participants if p.status == Participant.Status.WAITLISTED
    ]
    starts_at = tournament.starts_at
    check_in_opens = (
        starts_at - timedelta(minutes=tournament.check_in_opens_minutes)
        if tournament.has_check_in and starts_at is not None
        else None
    )
    return {
        "time_zone": timezone.get_current_timezone_name(),
        "start_passed": starts_at is not None and starts_at <= now,
        "check_in_opens": check_in_opens,
        "check_in_open": check_in_is_open(tournament, now=now),
        "registered": len(registered),
        "checked_in": sum(1 for p in registered if p.checked_in),
        "waitlisted": len(waitlisted),
        "waitlisted_checked_in": sum(1 for p in waitlisted if p.checked_in),
    }


def _other_side_name(match: Match, names: dict[int, str]) -> str:
    """The side that has not reported (of a one-sided report), or the second side."""
    reported = {report.participant_id for report in match.loaded_reports}
    for pk in (match.participant_a_id, match.participant_b_id):
        if pk is not None and pk not in reported:
            return names.get(pk, "the other side")
    return "the other side"


def _meta_line(tournament: Tournament, entered: int) -> str:
    """ "Chess · Single elimination · teams of 2 · 5 of 8 registered · entry fee 5.00 USD ·
    prize pool 25.00 USD": manage.js writes it the same way."""
    parts = [
        tournament.game,
        FORMAT_LABELS.get(tournament.format, tournament.format),
        f"teams of {tournament.team_size}" if tournament.is_team_event else None,
        f"{entered} of {tournament.max_participants} registered"
        if tournament.status == Status.REGISTRATION
        else _count(entered, "team" if tournament.is_team_event else "player"),
        f"entry fee {money_text(tournament.entry_fee)}" if tournament.entry_fee else "free entry",
        f"prize pool {money_text(tournament.prize_pool)}" if tournament.prize_pool else None,
    ]
    return " · ".join(part for part in parts if part)
