"""A player's matches: ``/me/matches`` (current and upcoming, across tournaments) and the
match room ``/matches/{id}`` (both sides and the organizer, live).

Both pages are rendered on the server with the current state and work without
JavaScript: the room's actions are plain forms that POST here (CSRF-protected) and call
``matches.services``, then redirect back to the room. With JavaScript the pages follow the
live sockets (``consumers/static/live/feed.js``): the room its match socket, where it also
sends ``report`` and ``resolve`` (``web/static/web/match_room.js``); the list its
tournaments' sockets (``web/static/web/my_matches.js``, which says why those sockets).
"""

from __future__ import annotations

from typing import NamedTuple

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from matches.errors import MatchNotFound
from matches.models import Match
from matches.payloads import match_data
from matches.selectors import (
    MatchRoom,
    match_confirmation_deadline,
    match_room_get,
    player_matches_list,
)
from matches.services import match_forfeit, match_report, match_reset, match_resolve
from project.encoding import datetime_text
from project.errors import DomainError
from tournaments.models import Participant, Tournament
from web.forms_matches import ResultForm
from web.presentation import (
    MATCH_STATUS_LABELS,
    games_text,
    report_text,
    result_text,
    round_label,
)
from web.views.accounts import login_required_redirect

Status = Match.Status

# The API's error codes (API.md, "Matches"; matches/errors.py, tournaments/errors.py) as a
# person reads them. The room's script words the socket's replies with the same sentences.
ERROR_WORDS = {
    "match_not_ready": "This match is still waiting for one of its sides, so there is no "
    "result to give yet.",
    "match_closed": "This match is closed: it has a result already, or the reports "
    "disagree, or its tournament is over. Only the organizer can change it now.",
    "already_reported": "Your side has already reported this match. Wait for the other "
    "side to confirm it, or ask the organizer.",
    "not_a_player": "Only a player of either side can report this match (for a team, its captain).",
    "not_organizer": "Only the tournament's organizer can do this.",
    "invalid_result": "That result is not possible.",
    "invalid": "That result is not possible.",
    "downstream_played": "This result cannot be changed: a match it led to already has a "
    "result. Reset that match first.",
    "not_found": "This match no longer exists: a reset can take away the matches that were "
    "made from its result.",
    "rate_limited": "Too many actions at once: wait a moment and try again.",
    "server_error": "Something went wrong on our side; it has been logged. Try again.",
}


def error_words(error: DomainError) -> str:
    """What went wrong, in words; an invalid result adds the service's own sentence (which
    says what is wrong with the scores)."""
    words = ERROR_WORDS.get(error.code, error.detail)
    if error.code == "invalid_result":
        return f"{words} {error.detail}"
    return words


# --- My matches -----------------------------------------------------------------------------


class MatchRow(NamedTuple):
    """One line of ``/me/matches``: a match seen from the user's side of it."""

    match: Match
    round: str
    mine: Participant
    side: str  # "a" or "b"
    opponent: Participant | None
    status: str
    next_step: str
    captain: bool  # the user reports for their side


def next_step(*, status: str, captain: bool, mine_reported: bool, opponent: str | None) -> str:
    """What the match waits for, said to one of its players (``my_matches.js`` says it the
    same way when a match changes live)."""
    other = opponent or "your opponent"
    if status == Status.PENDING:
        return "Your opponent is not decided yet."
    if status == Status.READY:
        return "Play it, then report the result." if captain else "Play it; your captain reports."
    if status == Status.AWAITING_CONFIRMATION:
        if mine_reported:
            return f"Reported: waiting for {other} to confirm."
        if captain:
            return f"{other} reported: confirm or dispute it."
        return f"{other} reported: your captain confirms or disputes it."
    if status == Status.DISPUTED:
        return "The reports disagree: the organizer decides."
    return "Finished."


@require_safe
def my_matches_page(request: HttpRequest) -> HttpResponse:
    """``/me/matches``: the signed-in user's open matches in every tournament they play in,
    solo or on a team's roster, and the tournaments they wait to start; live."""
    if not request.user.is_authenticated:
        return login_required_redirect(request)
    listing = player_matches_list(user=request.user)
    mine_by_id = {p.pk: p for p in listing.participations}
    rows = []
    for match in listing.matches:
        side = "a" if match.participant_a_id in mine_by_id else "b"
        mine = mine_by_id[match.participant_a_id if side == "a" else match.participant_b_id]
        opponent = match.participant_b if side == "a" else match.participant_a
        captain = mine.captain_id == request.user.pk
        mine_reported = any(r.participant_id == mine.pk for r in match.loaded_reports)
        rows.append(
            MatchRow(
                match=match,
                round=round_label(
                    match, last_round=listing.rounds.get((match.tournament_id, match.bracket))
                ),
                mine=mine,
                side=side,
                opponent=opponent,
                status=MATCH_STATUS_LABELS[match.status],
                next_step=next_step(
                    status=match.status,
                    captain=captain,
                    mine_reported=mine_reported,
                    opponent=opponent.name if opponent else None,
                ),
                captain=captain,
            )
        )
    playing = {row.match.tournament_id for row in rows}
    waiting = [
        p for p in listing.participations if p.tournament.status == Tournament.Status.REGISTRATION
    ]
    idle = [
        p
        for p in listing.participations
        if p.tournament.status == Tournament.Status.IN_PROGRESS and p.tournament_id not in playing
    ]
    # Every tournament the page follows live, at the version it shows.
    followed = [
        {"id": p.tournament_id, "version": p.tournament.version} for p in listing.participations
    ]
    return render(
        request,
        "web/my_matches.html",
        {
            "section": "my_matches",
            "rows": rows,
            "waiting": waiting,
            "idle": idle,
            "page_data": {
                "tournaments": followed,
                "participants": [p.pk for p in listing.participations],
                "status_labels": MATCH_STATUS_LABELS,
            },
        },
    )


# --- The match room -------------------------------------------------------------------------


class Viewer(NamedTuple):
    """Who looks at the room: the side they act for or play on, whether they report for it
    (its captain, who may not play), whether they are on its roster, and whether they run
    the tournament (its organizer, or staff)."""

    side: str | None
    captain: bool
    member: bool
    organizer: bool

    @property
    def live(self) -> bool:
        """The match socket lets in exactly the sides' roster members and the organizer
        (``consumers.selectors.match_access``); it would close on anyone else (4403), so
        their page does not open it (a captain who does not play uses the forms)."""
        return self.member or self.organizer


def viewer_of(room: MatchRoom, user) -> Viewer:
    if not user.is_authenticated:
        return Viewer(side=None, captain=False, member=False, organizer=False)
    match = room.match
    side, captain, member = None, False, False
    for letter, participant in (("a", match.participant_a), ("b", match.participant_b)):
        if participant is None:
            continue
        plays = any(m.user_id == user.pk for m in room.rosters[participant.pk])
        leads = participant.captain_id == user.pk
        if plays or leads:
            side, captain, member = letter, leads, plays
            break
    organizer = match.tournament.is_run_by(user)
    return Viewer(side=side, captain=captain, member=member, organizer=organizer)


def side_panel(match: Match, viewer: Viewer) -> str | None:
    """Which of a captain's panels the room shows: ``report`` (ready), ``confirm`` (the
    other side reported), ``waiting`` (this side reported), ``disputed``, ``completed``,
    ``pending``, ``closed`` (the tournament is over); None for anyone but a captain.
    ``match_room.js`` picks the same way when the match changes."""
    if not viewer.captain:
        return None
    if match.tournament.status != Tournament.Status.IN_PROGRESS:
        return "closed"
    if match.status == Status.AWAITING_CONFIRMATION:
        mine = _side_participant(match, viewer.side)
        reported = any(r.participant_id == mine for r in match.loaded_reports)
        return "waiting" if reported else "confirm"
    return {
        Status.PENDING: "pending",
        Status.READY: "report",
        Status.DISPUTED: "disputed",
        Status.COMPLETED: "completed",
    }[match.status]


def organizer_actions(match: Match, viewer: Viewer) -> dict[str, bool]:
    """The organizer's part of the room: ``organizer`` (shown at all: the tournament is in
    progress and the match is no bye), ``resolve`` (both sides are known: settle a dispute,
    or override), ``reset`` (there is a report or a result to drop)."""
    organizer = (
        viewer.organizer
        and match.tournament.status == Tournament.Status.IN_PROGRESS
        and not match.is_bye
    )
    resolve = organizer and match.status != Status.PENDING
    return {
        "organizer": organizer,
        "resolve": resolve,
        "reset": resolve and match.status != Status.READY,
    }


def _side_participant(match: Match, side: str | None) -> int | None:
    return {"a": match.participant_a_id, "b": match.participant_b_id}.get(side or "")


def _captain_of(match: Match, participant_id: int | None) -> int | None:
    for participant in (match.participant_a, match.participant_b):
        if participant is not None and participant.pk == participant_id:
            return participant.captain_id
    return None


def _other_report(match: Match, viewer: Viewer):
    mine = _side_participant(match, viewer.side)
    return next((r for r in match.loaded_reports if r.participant_id != mine), None)


def _room_or_404(match_id: int) -> MatchRoom:
    try:
        return match_room_get(match_id=match_id)
    except MatchNotFound as error:
        raise Http404(error.detail) from error


def _names(match: Match) -> dict[int, str]:
    return {p.pk: p.name for p in (match.participant_a, match.participant_b) if p is not None}


def _result_form(room: MatchRoom, viewer: Viewer, form: str, data=None) -> ResultForm:
    """One of the room's result forms, by its name (its prefix): ``report``, ``confirm``
    (the other side's result, in hidden fields), ``dispute`` (that result to change; it
    must differ), ``resolve``."""
    match = room.match
    initial = None
    disputes = None
    if form in ("confirm", "dispute"):
        other = _other_report(match, viewer)
        if other is not None:
            scores = other.scores or [None, None]
            initial = {
                "winner": str(other.winner_id) if other.winner_id else "draw",
                "score_a": scores[0],
                "score_b": scores[1],
            }
            if form == "dispute":
                disputes = (other.winner_id, other.scores)
    return ResultForm(
        data, prefix=form, initial=initial, match=match, names=_names(match), disputes=disputes
    )


def _room_render(
    request: HttpRequest,
    room: MatchRoom,
    *,
    bound: ResultForm | None = None,
    error: str | None = None,
    status: int = 200,
) -> HttpResponse:
    match = room.match
    tournament = match.tournament
    viewer = viewer_of(room, request.user)
    panel = side_panel(match, viewer)
    actions = organizer_actions(match, viewer)
    forms = {}
    if viewer.captain:
        forms.update(
            {name: _result_form(room, viewer, name) for name in ("report", "confirm", "dispute")}
        )
    if actions["organizer"]:
        forms["resolve"] = _result_form(room, viewer, "resolve")
    if bound is not None:
        forms[bound.prefix] = bound
    other = _other_report(match, viewer) if viewer.captain else None
    deadline = match_confirmation_deadline(match)
    participants = {
        p.pk: {
            "name": p.name,
            "members": [m.user.username for m in room.rosters.get(p.pk, [])],
        }
        for p in (match.participant_a, match.participant_b)
        if p is not None
    }
    sides = [
        {
            "letter": letter,
            "participant": participant,
            "members": participants[participant.pk]["members"] if participant else [],
            "team": tournament.is_team_event,
            "you": viewer.side == letter,
            "winner": match.status == Status.COMPLETED
            and participant is not None
            and match.winner_id == participant.pk,
            "score": (match.scores or [None, None])[index],
        }
        for index, (letter, participant) in enumerate(
            (("a", match.participant_a), ("b", match.participant_b))
        )
    ]
    names = _names(match)
    mine = _side_participant(match, viewer.side)
    opponent = next((name for pk, name in names.items() if pk != mine), None)
    captain_name = next(
        (
            m.user.username
            for m in room.rosters.get(mine, [])
            if m.user_id == _captain_of(match, mine)
        ),
        None,
    )
    reports = [
        {
            "report": report,
            "by": names.get(report.participant_id, "A side"),
            "result": report_text(match, names, report),
        }
        for report in match.loaded_reports
    ]
    return render(
        request,
        "web/match_room.html",
        {
            "section": "my_matches" if viewer.side else None,
            "match": match,
            "tournament": tournament,
            "round_label": round_label(match, last_round=room.last_round),
            "status_label": MATCH_STATUS_LABELS[match.status],
            "sides": sides,
            "reports": reports,
            "result": result_text(match, names, match.winner_id, match.scores)
            if match.status == Status.COMPLETED
            else None,
            "viewer": viewer,
            "panel": panel,
            "actions": actions,
            "forms": forms,
            "other_report": other,
            "other_result": report_text(match, names, other) if other else None,
            "games": games_text(match.games) if match.games else None,
            "other_name": names.get(other.participant_id) if other else None,
            "deadline": deadline,
            "deadline_words": deadline_words(match, names, mine) if deadline else None,
            "opponent_name": opponent or "your opponent",
            "my_side_name": names.get(mine),
            "my_captain": captain_name,
            "error": error,
            "room_data": {
                "match": match_data(match),
                "participants": {str(pk): data for pk, data in participants.items()},
                "viewer": viewer._asdict() | {"live": viewer.live},
                "tournament": {"id": tournament.pk, "status": tournament.status},
                "confirmation_seconds": int(settings.MATCH_CONFIRMATION_TIMEOUT.total_seconds()),
                "server_now": datetime_text(timezone.now()),
                "status_labels": MATCH_STATUS_LABELS,
                "error_words": ERROR_WORDS,
            },
        },
        status=status,
    )


def deadline_words(match: Match, names: dict[int, str], mine: int | None) -> tuple[str, str]:
    """Whose report the deadline confirms and who can stop it, said to the viewer:
    ("Your report", "ana confirms or disputes it"), ("ana’s report", "you confirm or
    dispute it"), or names for an onlooker (``match_room.js`` says it the same way)."""
    reporter = match.loaded_reports[0].participant_id
    other = next((pk for pk in names if pk != reporter), None)
    whose = "Your report" if reporter == mine else f"{names.get(reporter, 'A side')}’s report"
    if other is not None and other == mine:
        return whose, "you confirm or dispute it"
    return whose, f"{names.get(other, 'the other side')} confirms or disputes it"


@require_safe
def match_room_page(request: HttpRequest, match_id: int) -> HttpResponse:
    """``/matches/{id}``: the match for everyone (read-only); its sides report, confirm and
    dispute, its organizer resolves and resets."""
    return _room_render(request, _room_or_404(match_id))


def _room_path(match_id: int) -> str:
    return reverse("web:match_room", args=[match_id])


def _acted(request: HttpRequest, match_id: int, text: str) -> HttpResponse:
    """Done: back to the room (303, so a reload does not post again), saying what it did."""
    messages.success(request, text)
    response = redirect(_room_path(match_id))
    response.status_code = 303
    return response


def _report_outcome(match: Match, names: dict[int, str], reporter_side: int | None) -> str:
    """What a side's report did, in words (``match_room.js`` words its replies the same)."""
    other = next((name for pk, name in names.items() if pk != reporter_side), "the other side")
    if match.status == Status.COMPLETED:
        return f"Confirmed: {result_text(match, names, match.winner_id, match.scores)}."
    if match.status == Status.DISPUTED:
        return "Your result differs from the other side's: the organizer decides."
    return f"Reported. Waiting for {other} to confirm."


@require_POST
def match_report_submit(request: HttpRequest, match_id: int) -> HttpResponse:
    """A side's result from one of the room's forms (``form``: report, confirm or dispute)."""
    if not request.user.is_authenticated:
        return login_required_redirect(request, _room_path(match_id))
    room = _room_or_404(match_id)
    viewer = viewer_of(room, request.user)
    name = request.POST.get("form")
    if name not in ("report", "confirm", "dispute"):
        name = "report"
    form = _result_form(room, viewer, name, data=request.POST)
    if not form.is_valid():
        return _room_render(request, room, bound=form, status=400)
    winner_id, scores = form.result()
    try:
        match = match_report(
            match_id=match_id,
            user=request.user,
            winner_id=winner_id,
            scores=scores,
            games=form.games_listed(),
        )
    except DomainError as error:
        return _refused(request, match_id, form, error)
    reporter = _side_participant(room.match, viewer.side)
    return _acted(request, match_id, _report_outcome(match, _names(room.match), reporter))


@require_POST
def match_resolve_submit(request: HttpRequest, match_id: int) -> HttpResponse:
    """The organizer's result for the match (settles a dispute, or overrides)."""
    if not request.user.is_authenticated:
        return login_required_redirect(request, _room_path(match_id))
    room = _room_or_404(match_id)
    form = _result_form(room, viewer_of(room, request.user), "resolve", data=request.POST)
    if not form.is_valid():
        return _room_render(request, room, bound=form, status=400)
    winner_id, scores = form.result()
    try:
        match = match_resolve(
            match_id=match_id,
            user=request.user,
            winner_id=winner_id,
            scores=scores,
            games=form.games_listed(),
        )
    except DomainError as error:
        return _refused(request, match_id, form, error)
    names = _names(room.match)
    return _acted(
        request,
        match_id,
        f"Resolved: {result_text(match, names, match.winner_id, match.scores)}.",
    )


@require_POST
def match_reset_submit(request: HttpRequest, match_id: int) -> HttpResponse:
    """The organizer takes the match back to ``ready``: reports and result dropped."""
    if not request.user.is_authenticated:
        return login_required_redirect(request, _room_path(match_id))
    _room_or_404(match_id)
    try:
        match_reset(match_id=match_id, user=request.user)
    except DomainError as error:
        return _refused(request, match_id, None, error)
    return _acted(request, match_id, "Reset: the match is ready to be played and reported again.")


@require_POST
def match_forfeit_submit(request: HttpRequest, match_id: int) -> HttpResponse:
    """A side gives its match up (``matches.services.match_forfeit``), once its captain has
    ticked the confirmation box (the form's ``confirm``; without it nothing is sent)."""
    if not request.user.is_authenticated:
        return login_required_redirect(request, _room_path(match_id))
    room = _room_or_404(match_id)
    if request.POST.get("confirm") != "yes":
        return _room_render(
            request, room, error="Tick “I give this match up” to forfeit it.", status=400
        )
    try:
        match = match_forfeit(match_id=match_id, user=request.user)
    except DomainError as error:
        return _refused(request, match_id, None, error)
    winner = _names(room.match).get(match.winner_id, "the other side")
    return _acted(request, match_id, f"Forfeited: {winner} wins the match.")


def _refused(
    request: HttpRequest, match_id: int, form: ResultForm | None, error: DomainError
) -> HttpResponse:
    """The room as it is now, with the refusal in words and the form as it was sent.

    Read again: the refusal often means the match changed meanwhile (the other side's
    report, the organizer's decision), and the page must show what it is now. A match that
    is gone (a swiss round paired again after a reset) has no room left to show.
    """
    try:
        room = match_room_get(match_id=match_id)
    except MatchNotFound as gone:
        raise Http404(gone.detail) from gone
    return _room_render(request, room, bound=form, error=error_words(error), status=error.status)
