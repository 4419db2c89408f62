"""Notifications: tell players by email and SMS about what happened to them.

Two halves:

* ``*_notify(id)``: what the rest of the service calls, inside its transaction. It only
  enqueues the event's task for when the transaction commits (``delay_on_commit``): no
  query, nothing sent for a rolled-back change, and the caller's query count unchanged.
* ``*_send(id)``: what that task runs: read the current state, write the messages, and send
  them all at once: every email over one connection (``get_connection()`` and
  ``send_messages``), every SMS over one SMS connection. Users without an email address
  get no email; without a phone number, no SMS.

Events: a team joined a tournament (its roster is told); a match is ready, its result was
confirmed, or it is disputed (the players of both sides are told; of a dispute, the
organizer too).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core import mail

from notifications import tasks
from notifications.selectors import (
    match_get,
    matches_list,
    model_get,
    participant_get,
    players_of,
    rosters_of,
)
from notifications.sms import SmsMessage, get_sms_connection
from users.models import User

# --- Enqueue (called by the services that make the change) -----------------------------------


def team_joined_notify(*, participant_id: int) -> None:
    """Tell every roster member that their team joined a tournament, once this commits."""
    tasks.team_joined_send.delay_on_commit(participant_id)


def match_ready_notify(*, match_ids: list[int]) -> None:
    """Tell the players of both sides that their match can be played, once this commits:
    one task for every match one change made ready (a start makes a whole round ready)."""
    if match_ids:
        tasks.match_ready_send.delay_on_commit(list(match_ids))


def match_result_confirmed_notify(*, match_id: int) -> None:
    """Tell the players of both sides the confirmed result, once this commits."""
    tasks.match_result_confirmed_send.delay_on_commit(match_id)


def match_result_disputed_notify(*, match_id: int) -> None:
    """Tell both sides and the organizer that the reports disagree, once this commits."""
    tasks.match_result_disputed_send.delay_on_commit(match_id)


# --- Send (run by the tasks) -----------------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    subject: str
    body: str  # the email's text
    sms: str  # the same news, short


@dataclass(frozen=True)
class Sent:
    emails: int
    sms: int


def notice_send(*, notice: Notice, users: Iterable[User]) -> Sent:
    """Send one notice to each user: every email over one connection, every SMS over one.

    Each user gets their own email (no one sees the other recipients' addresses).
    """
    return notices_send(notices=[(notice, list(users))])


def notices_send(*, notices: list[tuple[Notice, list[User]]]) -> Sent:
    """Send each notice to its users, all of them over one email and one SMS connection."""
    emails = [
        mail.EmailMessage(notice.subject, notice.body, to=[user.email])
        for notice, users in notices
        for user in users
        if user.email
    ]
    texts = [
        SmsMessage(to=user.phone, body=notice.sms)
        for notice, users in notices
        for user in users
        if user.phone
    ]
    sent_emails = sent_sms = 0
    if emails:
        # One connection: send_messages opens it once, sends every message, and closes it.
        sent_emails = mail.get_connection().send_messages(emails) or 0
    if texts:
        with get_sms_connection() as connection:
            sent_sms = connection.send_messages(texts)
    return Sent(emails=sent_emails, sms=sent_sms)


def team_joined_send(*, participant_id: int) -> Sent:
    participant = participant_get(participant_id=participant_id)
    if participant is None or participant.status != type(participant).Status.REGISTERED:
        return Sent(0, 0)  # it has left (or is gone) since: nothing true to tell
    tournament = participant.tournament
    fee = f" The entry fee of {_money(tournament.entry_fee)} was charged to your wallet."
    notice = Notice(
        subject=f"{participant.name} is registered for {tournament.name}",
        body=(
            f"Your team {participant.name} joined the tournament {tournament.name}, and you "
            f"are on its roster.{fee if tournament.entry_fee else ''}\n"
        ),
        sms=f"Atom: {participant.name} joined {tournament.name}; you are on the roster.",
    )
    return notice_send(notice=notice, users=players_of(participant_ids=[participant.pk]))


def match_ready_send(*, match_ids: list[int]) -> Sent:
    """One notice per match still ready (a match reset or played since is skipped), to the
    players of both sides; every message over one connection, the players in one query."""
    ready = model_get("matches.Match").Status.READY
    matches = [m for m in matches_list(match_ids=match_ids) if m.status == ready]
    rosters = rosters_of(
        participant_ids=[pk for m in matches for pk in (m.participant_a_id, m.participant_b_id)]
    )
    notices = []
    for match in matches:
        title = _match_title(match)
        notice = Notice(
            subject=f"{title}: your match is ready",
            body=(
                f"Your match {title} (round {match.round}) is ready to be played. "
                "Report the result when it is over; the other side confirms it.\n"
            ),
            sms=f"Atom: your match {title} (round {match.round}) is ready.",
        )
        players = rosters.get(match.participant_a_id, []) + rosters.get(match.participant_b_id, [])
        notices.append((notice, players))
    return notices_send(notices=notices)


def match_result_confirmed_send(*, match_id: int) -> Sent:
    match = match_get(match_id=match_id)
    if match is None or match.participant_a is None or match.participant_b is None:
        return Sent(0, 0)
    title = _match_title(match)
    result = f"{match.winner.name} won" if match.winner else "a draw"
    if match.scores:
        result += f" ({match.scores[0]}-{match.scores[1]})"
    notice = Notice(
        subject=f"{title}: result confirmed",
        body=f"The result of {title} (round {match.round}) is confirmed: {result}.\n",
        sms=f"Atom: {title} confirmed: {result}.",
    )
    return notice_send(notice=notice, users=_players(match))


def match_result_disputed_send(*, match_id: int) -> Sent:
    match = match_get(match_id=match_id)
    if match is None or match.participant_a is None or match.participant_b is None:
        return Sent(0, 0)
    title = _match_title(match)
    notice = Notice(
        subject=f"{title}: result disputed",
        body=(
            f"The two sides of {title} (round {match.round}) reported different results. "
            "The organizer will settle it.\n"
        ),
        sms=f"Atom: the result of {title} is disputed; the organizer will settle it.",
    )
    users = {user.pk: user for user in _players(match)}
    users.setdefault(match.tournament.organizer_id, match.tournament.organizer)
    return notice_send(notice=notice, users=users.values())


def _players(match) -> list[User]:
    return players_of(participant_ids=[match.participant_a_id, match.participant_b_id])


def _match_title(match) -> str:
    return f"{match.tournament.name}: {match.participant_a.name} vs {match.participant_b.name}"


def _money(amount: int) -> str:
    # Minor units of the deployment's one currency, shown with two decimals (cents).
    return f"{amount // 100}.{amount % 100:02d} {settings.CURRENCY}"
