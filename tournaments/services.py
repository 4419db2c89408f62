"""Writes for tournaments and teams.

Every action takes its locks in the one order of ``tournaments.locks``: the tournament row
first, then the ledger accounts (pk order), then the participants (pk order). The change to
the tournament row itself is one guarded ``UPDATE`` that also checks the rule it enforces
(capacity, status) and bumps the event version (``tournaments.events``).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Prefetch, Q
from django.utils import timezone

from notifications.services import team_joined_notify
from project.domain_errors import InvalidInput, NotFound
from project.statements import insert_with_children, placeholders
from tournaments import tasks
from tournaments.chunks import chains_resume, chunk_progress_record
from tournaments.errors import (
    AlreadyMember,
    AlreadyRegistered,
    CheckInClosed,
    InvalidRoster,
    InvalidTransition,
    NotCaptain,
    NotInvited,
    NotOrganizer,
    NotRegistered,
    RegistrationClosed,
    TournamentFull,
)
from tournaments.events import events_append, tournament_row_update
from tournaments.locks import tournament_lock
from tournaments.models import (
    GAME_MAX_LENGTH,
    NAME_MAX_LENGTH,
    Participant,
    ParticipantMember,
    Team,
    TeamInvite,
    TeamMember,
    Tournament,
    match_play_errors,
    prize_split_errors,
)
from tournaments.payloads import participant_data, tournament_data
from tournaments.selectors import roster_prefetch, team_get
from users.models import User
from wallets.errors import InsufficientFunds
from wallets.models import Posting
from wallets.services import (
    PostingDraft,
    accounts_lock,
    escrow_create,
    posting_accounts_lock,
    postings_record,
    postings_reverse,
)

logger = logging.getLogger(__name__)

Status = Tournament.Status


# --- Tournaments ----------------------------------------------------------------------------


def tournament_create(
    *,
    organizer: User,
    name: str,
    format: str,
    max_participants: int,
    game: str = "",
    team_size: int = 1,
    entry_fee: int = 0,
    prize_split: list[int] | None = None,
    swiss_rounds: int | None = None,
    best_of: int = 1,
    best_of_final: int | None = None,
    starts_at: datetime | None = None,
    auto_start: bool = False,
    check_in_opens_minutes: int = 0,
) -> Tournament:
    prize_split = [100] if prize_split is None else prize_split
    # Checked here, not only in the REST input: a split that does not sum to 100 would make
    # the result that completes the tournament fail, so the tournament could never end.
    if errors := prize_split_errors(prize_split):
        raise InvalidInput("The prize split is not valid.", fields={"prize_split": errors})
    if errors := match_play_errors(
        best_of=best_of,
        best_of_final=best_of_final,
        starts_at=starts_at,
        auto_start=auto_start,
        check_in_opens_minutes=check_in_opens_minutes,
    ):
        raise InvalidInput("The match play settings are not valid.", fields=errors)
    with transaction.atomic():
        tournament = Tournament(
            organizer=organizer,
            name=name,
            game=game,
            format=format,
            team_size=team_size,
            max_participants=max_participants,
            entry_fee=entry_fee,
            prize_split=prize_split,
            swiss_rounds=swiss_rounds,
            best_of=best_of,
            best_of_final=best_of_final,
            starts_at=starts_at,
            auto_start=auto_start,
            check_in_opens_minutes=check_in_opens_minutes,
        )
        tournament.escrow = escrow_create(label=f"prize pool of {name}"[:120])
        tournament.save()
    return tournament


def tournament_join(
    *,
    tournament_id: int,
    user: User,
    team_id: int | None = None,
    member_ids: list[int] | None = None,
    waitlist: bool = False,
) -> Participant:
    """Register a player (solo) or a team's roster, charging every member the entry fee.

    With ``waitlist``, a join into a full tournament puts the entry on its waitlist instead
    of answering ``tournament_full`` (``_waitlist_join``: nothing is charged).

    One transaction, a constant number of statements whatever the roster size: lock the
    tournament, then the roster's wallets and the escrow; check funds on the locked rows;
    one query for "is any member already registered"; take a place with a guarded UPDATE;
    insert the participant, its roster and the ledger lines in bulk. Either all of it
    happens or none.

    The "already registered" check is part of the write because it runs under the
    tournament's lock, which every join holds to its end: a concurrent join sharing a
    player has committed (and is seen) or waits. Free joins lock no wallet, so without it
    two of them passed the check together and the second hit the unique membership index.
    """
    with transaction.atomic():
        tournament = tournament_lock(tournament_id)
        team, roster = _roster_resolve(
            tournament=tournament, user=user, team_id=team_id, member_ids=member_ids
        )
        roster_ids = [member.pk for member in roster]
        if (
            waitlist
            and tournament.status == Status.REGISTRATION
            and tournament.participant_count >= tournament.max_participants
        ):
            return _waitlist_join(tournament=tournament, team=team, roster=roster, user=user)
        fee = tournament.entry_fee
        locked = {}
        if fee:
            locked = accounts_lock(ids=[tournament.escrow_id], user_ids=roster_ids)
            wallets = {a.user_id: a for a in locked.values() if a.user_id is not None}
            short = [u for u in roster if u.pk not in wallets or wallets[u.pk].balance < fee]
            if short:
                raise InsufficientFunds(
                    f"{_names(short)} cannot pay the entry fee of {fee}.",
                    account_ids=[wallets[u.pk].pk for u in short if u.pk in wallets],
                )

        _already_registered_check(tournament=tournament, roster=roster)

        admitted = tournament_row_update(
            tournament,
            events=1,
            increments={"participant_count": 1, "prize_pool": fee * len(roster)},
            when_status=Status.REGISTRATION,
            when_room_for=1,
        )
        if not admitted:  # the status and count of the locked row say why
            if tournament.status != Status.REGISTRATION:
                raise RegistrationClosed("Registration for this tournament is closed.")
            raise TournamentFull("This tournament is full.")

        participant = _participant_insert(
            tournament=tournament, team=team, user=user, roster=roster
        )
        if fee:
            lines = {wallets[u.pk].pk: -fee for u in roster}
            lines[tournament.escrow_id] = fee * len(roster)
            postings_record(
                drafts=[
                    PostingDraft(
                        kind=Posting.Kind.ENTRY_FEE,
                        reference=participant.ledger_reference,
                        lines=lines,
                        tournament_id=tournament.pk,
                    )
                ],
                locked=locked,
            )
        _participant_events_append(tournament, "participant.joined", [participant])
        if team is not None:
            team_joined_notify(participant_id=participant.pk)  # after commit; no query
    return participant


def tournament_leave(*, tournament_id: int, user: User) -> Participant:
    """Withdraw the user's participant and refund every member's fee at once.

    The place it frees goes, in the same transaction, to the first waitlisted entry (by
    position) whose every member can pay the fee (``_waitlist_promote``). A waitlisted
    entry leaves the waitlist; it paid nothing, so nothing is refunded.
    """
    with transaction.atomic():
        tournament = tournament_lock(tournament_id)
        participant = _participant_to_withdraw(tournament=tournament, user=user)
        if tournament.status != Status.REGISTRATION:
            raise RegistrationClosed("Registration is closed; participants can no longer leave.")
        if participant.status == Participant.Status.WAITLISTED:
            return _waitlist_leave(tournament=tournament, participant=participant)
        waiting = _waitlist_entries(tournament)
        # Every account this transaction moves money on, locked in one pk-ordered step: the
        # escrow, the leaver's wallets (its refund) and the waiting entries' (a promotion).
        locked = {}
        if tournament.entry_fee:
            leaver_ids = ParticipantMember.objects.filter(participant=participant).values_list(
                "user_id", flat=True
            )
            locked = accounts_lock(
                ids=[tournament.escrow_id],
                user_ids=[*leaver_ids, *(m.user_id for e in waiting for m in e.loaded_roster)],
            )
        refunded = _participants_refund(
            tournament=tournament,
            participant_ids=[participant.pk],
            new_status=Participant.Status.LEFT,
            counter="participant_count",
            required_status=Status.REGISTRATION,
        )
        if refunded is None:
            raise RegistrationClosed("Registration is closed; participants can no longer leave.")
        if not refunded:
            raise NotRegistered("You are not registered in this tournament.")
        participant = refunded[0]
        _participant_events_append(tournament, "participant.left", [participant])
        _waitlist_promote(tournament=tournament, entries=waiting, places=1, locked=locked)
    return participant


def tournament_check_in(*, tournament_id: int, user: User) -> Participant:
    """Check in the user's entry (the solo player, or the team's captain).

    Open from ``check_in_opens_minutes`` before ``starts_at`` until the tournament starts
    (by the organizer or by ``auto_start``); a waitlisted entry may check in too, which
    lets it be promoted into a place freed at the start. A second check-in answers the
    same participant and changes nothing (no event).
    """
    with transaction.atomic():
        tournament = tournament_lock(tournament_id)
        if not check_in_is_open(tournament):
            raise CheckInClosed("Check-in for this tournament is not open.")
        participant = _participant_to_withdraw(tournament=tournament, user=user)
        participant.loaded_roster = list(
            ParticipantMember.objects.filter(participant=participant).select_related("user")
        )
        if participant.checked_in:
            return participant
        Participant.objects.filter(pk=participant.pk).update(checked_in=True)
        participant.checked_in = True
        tournament_row_update(tournament, events=1)
        _participant_events_append(tournament, "participant.checked_in", [participant])
    return participant


def check_in_is_open(tournament: Tournament, *, now: datetime | None = None) -> bool:
    """Whether entries may check in now: the tournament has check-in, is still in
    registration, and ``starts_at - check_in_opens_minutes`` has passed. It closes when the
    tournament starts, not at ``starts_at``: an organizer who starts late keeps it open."""
    if not tournament.has_check_in or tournament.status != Status.REGISTRATION:
        return False
    opens = tournament.starts_at - timedelta(minutes=tournament.check_in_opens_minutes)
    return (now or timezone.now()) >= opens


def registrations_close(tournament: Tournament) -> None:
    """The prelude of a start, in its transaction, with the tournament locked by the caller.

    With check-in on: every registered participant not checked in is removed (``left``)
    and refunded, exactly once and in bulk (a constant number of statements whatever their
    number), event ``participant.removed`` with ``reason: "no_check_in"``; then the
    checked-in waitlisted entries are promoted into the freed places in waitlist order,
    charged then, if every member can pay. With or without check-in, the entries still
    waiting are then removed (``left``, never charged; reason ``waitlist_closed``).
    The caller builds the bracket after this; if it then refuses (fewer than 2), its
    transaction rolls all of this back.
    """
    # The row is locked: nobody joins or leaves meanwhile, so its counter says whether
    # there is a waitlist to read, and what was read stays true to the end.
    waiting = _waitlist_entries(tournament) if tournament.waitlist_count else []
    no_shows = []
    if tournament.has_check_in:
        no_shows = list(
            Participant.objects.filter(
                tournament_id=tournament.pk, status=Participant.Status.REGISTERED, checked_in=False
            )
            .order_by("pk")
            .prefetch_related(roster_prefetch())
        )
    checked_in_waiting = [entry for entry in waiting if entry.checked_in]
    locked = {}
    if tournament.entry_fee and (no_shows or checked_in_waiting):
        locked = accounts_lock(
            ids=[tournament.escrow_id],
            user_ids=[m.user_id for p in no_shows + checked_in_waiting for m in p.loaded_roster],
        )
    if no_shows:
        _no_shows_refund(tournament=tournament, no_shows=no_shows)
    promoted = []
    if checked_in_waiting:
        free = tournament.max_participants - tournament.participant_count
        promoted = _waitlist_promote(
            tournament=tournament, entries=checked_in_waiting, places=free, locked=locked
        )
    _waitlist_close(tournament, remaining=[entry for entry in waiting if entry not in promoted])


def _no_shows_refund(*, tournament: Tournament, no_shows: list[Participant]) -> None:
    ids = [p.pk for p in no_shows]
    # The accounts are locked already; the participants next (lock order, step 4).
    list(Participant.objects.filter(pk__in=ids).select_for_update().order_by("pk").values("pk"))
    deltas = postings_reverse(
        kind=Posting.Kind.ENTRY_FEE,
        references=[p.ledger_reference for p in no_shows],
        reverse_kind=Posting.Kind.REFUND,
        tournament_id=tournament.pk,
    )
    Participant.objects.filter(pk__in=ids).update(status=Participant.Status.LEFT)
    ParticipantMember.objects.filter(participant_id__in=ids, active=True).update(active=False)
    if not tournament_row_update(
        tournament,
        events=len(no_shows),
        increments={
            "participant_count": -len(ids),
            "prize_pool": deltas.get(tournament.escrow_id, 0),
        },
        when_status=Status.REGISTRATION,
    ):
        raise RegistrationClosed("Registration for this tournament is closed.")
    for p in no_shows:
        p.status = Participant.Status.LEFT
    _participant_events_append(tournament, "participant.removed", no_shows, reason="no_check_in")


def tournament_cancel(*, tournament_id: int, user: User) -> Tournament:
    """Cancel at once; every registered participant is refunded in the background.

    The refunds are a chain of chunk tasks (``tournament_refunds_chunk``), the first enqueued
    when this transaction commits; ``refunds_pending`` counts down to 0 as chunks commit.
    """
    with transaction.atomic():
        # Lock first, count after: a join that committed while we waited is then counted.
        tournament = tournament_lock(tournament_id)
        organizer_check(tournament, user)
        if tournament.status not in (Status.REGISTRATION, Status.IN_PROGRESS):
            raise InvalidTransition(f"A {tournament.status} tournament cannot be cancelled.")
        pending = Participant.objects.filter(
            tournament=tournament, status=Participant.Status.REGISTERED
        ).count()
        # Waiting entries paid nothing: they leave the waitlist with the cancellation.
        waiting = Participant.objects.filter(
            tournament=tournament, status=Participant.Status.WAITLISTED
        )
        ParticipantMember.objects.filter(participant__in=waiting.values("pk"), active=True).update(
            active=False
        )
        waiting.update(status=Participant.Status.LEFT, waitlist_position=None)
        tournament_row_update(
            tournament,
            events=1,
            values={"status": Status.CANCELLED, "refunds_pending": pending, "waitlist_count": 0},
        )
        events_append(
            tournament=tournament,
            events=[("tournament.cancelled", {"tournament": tournament_data(tournament)})],
        )
        if pending:
            tasks.tournament_refunds_chunk_run.delay_on_commit(tournament.pk)
    return tournament


def tournament_refunds_chunk(*, tournament_id: int, limit: int | None = None) -> int:
    """Refund the next ``limit`` participants (``settings.REFUNDS_CHUNK_SIZE``) of a
    cancelled tournament in one transaction, and enqueue the next chunk when it commits.

    Returns how many were refunded: 0 when none are left, or when a concurrent run of the
    same chunk refunded them first (that run then carries the chain on). Running a chunk
    twice, or two at once, is safe, and happens (a redelivered message, the sweeper): the
    participants are re-read under lock and only those still registered are refunded, and
    the ledger refuses a second refund posting for one participant whatever happens. A
    worker that dies mid-chunk leaves nothing of it: the chunk is one transaction.
    """
    limit = limit or settings.REFUNDS_CHUNK_SIZE
    with transaction.atomic():
        tournament = (
            Tournament.objects.select_for_update()
            .filter(pk=tournament_id, status=Status.CANCELLED)
            .first()
        )
        if tournament is None:
            return 0
        ids = list(
            Participant.objects.filter(tournament=tournament, status=Participant.Status.REGISTERED)
            .order_by("pk")
            .values_list("pk", flat=True)[:limit]
        )
        if not ids:
            return 0
        refunded = _participants_refund_chunk(tournament=tournament, participant_ids=ids)
        if not refunded:
            return 0
        chunk_progress_record(
            tournament,
            job="refunds",
            done_key="refunded",
            done=refunded,
            enqueue_next=tasks.tournament_refunds_chunk_run.delay_on_commit,
        )
    return len(refunded)


def tournament_refunds_resume(*, stalled_for_seconds: int) -> list[int]:
    """Enqueue again the refunds of cancelled tournaments that stopped making progress
    (``tournaments.chunks.chains_resume``). Returns the ids of the tournaments enqueued
    again."""
    return chains_resume(
        job="refunds",
        status=Status.CANCELLED,
        stalled_for_seconds=stalled_for_seconds,
        enqueue=tasks.tournament_refunds_chunk_run.delay_on_commit,
    )


def _participants_refund(
    *,
    tournament: Tournament,
    participant_ids: list[int],
    new_status: str,
    counter: str,
    required_status: str,
) -> list[Participant] | None:
    """Return the entry fees of the given participants that are still registered (leave).

    Returns them, with ``loaded_roster``, or None if the tournament is no longer in
    ``required_status`` (the caller's transaction must then roll back).
    """
    _fee_accounts_lock(participant_ids)
    participants = list(
        _registered_among(tournament, participant_ids)
        .select_for_update()
        .order_by("pk")
        .prefetch_related(
            Prefetch(
                "roster",
                queryset=ParticipantMember.objects.select_related("user"),
                to_attr="loaded_roster",
            )
        )
    )
    if not participants:
        return []
    refunded = _refunds_write(
        tournament=tournament,
        participant_ids=[p.pk for p in participants],
        new_status=new_status,
        counter=counter,
        required_status=required_status,
    )
    for p in participants:
        p.status = new_status
    return participants if refunded else None


def _participants_refund_chunk(*, tournament: Tournament, participant_ids: list[int]) -> list[int]:
    """Refund those of ``participant_ids`` still registered: the ids refunded (cancel)."""
    _fee_accounts_lock(participant_ids)
    # Re-read under lock: a concurrent run of this chunk may have refunded some already (it
    # held the same account locks, the escrow's at least, so it has committed by now).
    ids = list(
        _registered_among(tournament, participant_ids)
        .select_for_update()
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if ids and not _refunds_write(
        tournament=tournament,
        participant_ids=ids,
        new_status=Participant.Status.REFUNDED,
        counter="refunds_pending",
        required_status=Status.CANCELLED,
    ):
        raise RuntimeError(f"tournament {tournament.pk} is no longer cancelled")
    return ids


def _fee_accounts_lock(participant_ids: list[int]) -> None:
    # First in the lock order: the accounts the entry fees moved money between.
    posting_accounts_lock(
        kind=Posting.Kind.ENTRY_FEE, references=[f"participant:{pk}" for pk in participant_ids]
    )


def _registered_among(tournament: Tournament, participant_ids: list[int]):
    """The registered participants among ``participant_ids``, which are either one id or
    the first registered participants of the tournament in pk order (a chunk).

    Either way they are exactly the registered participants of the tournament in the pk
    range from the first id to the last (no one enters that range later: new participants
    get larger ids, no one goes back to registered, and a waitlisted entry is promoted only
    in registration, never once the tournament is cancelled), and statements name the
    range, not a list of a thousand ids.
    """
    return Participant.objects.filter(
        tournament_id=tournament.pk,
        pk__range=(min(participant_ids), max(participant_ids)),
        status=Participant.Status.REGISTERED,
    )


def _refunds_write(
    *,
    tournament: Tournament,
    participant_ids: list[int],
    new_status: str,
    counter: str,
    required_status: str,
) -> bool:
    """Refund the locked, registered participants ``participant_ids`` (in pk order).

    Each refund is the exact reverse of the participant's entry-fee posting; all of them
    are a constant number of set-based statements, whatever their number: the ledger's
    reversal (postings, entries and balances), the participants, their memberships and the
    guarded tournament row, whose ``counter`` (``participant_count`` for a leave,
    ``refunds_pending`` for a cancellation's chunk) goes down by their number. False if the
    tournament is no longer in ``required_status`` (the caller's transaction must then roll
    back).
    """
    deltas = postings_reverse(
        kind=Posting.Kind.ENTRY_FEE,
        references=[f"participant:{pk}" for pk in participant_ids],
        reverse_kind=Posting.Kind.REFUND,
        tournament_id=tournament.pk,
    )
    refunded_total = -deltas.get(tournament.escrow_id, 0)
    # Every registered participant in the range is locked by this transaction.
    _registered_among(tournament, participant_ids).update(status=new_status)
    ParticipantMember.objects.filter(
        tournament_id=tournament.pk,
        participant__pk__range=(participant_ids[0], participant_ids[-1]),
        active=True,
    ).update(active=False)
    return tournament_row_update(
        tournament,
        events=1,
        increments={counter: -len(participant_ids), "prize_pool": -refunded_total},
        when_status=required_status,
    )


# --- Teams ----------------------------------------------------------------------------------


def team_create(*, user: User, name: str) -> Team:
    with transaction.atomic():
        team = Team.objects.create(name=name, captain=user)
        team.loaded_memberships = [TeamMember.objects.create(team=team, user=user)]
    return team


def team_invite(*, team_id: int, by_user: User, username: str) -> TeamInvite:
    team = team_get(team_id=team_id)
    if team.captain_id != by_user.pk:
        raise NotCaptain("Only the team's captain can invite players.")
    invitee = User.objects.filter(username=username).first()
    if invitee is None:
        raise InvalidInput(
            f"There is no user named {username!r}.", fields={"username": ["No such user."]}
        )
    if TeamMember.objects.filter(team=team, user=invitee).exists():
        raise AlreadyMember(f"{username} is already a member of {team.name}.")
    invite, _ = TeamInvite.objects.get_or_create(team=team, user=invitee)
    return invite


def team_accept(*, team_id: int, user: User) -> Team:
    team = team_get(team_id=team_id)
    with transaction.atomic():
        deleted, _ = TeamInvite.objects.filter(team=team, user=user).delete()
        if not deleted:
            raise NotInvited("You have no invitation to this team.")
        TeamMember.objects.get_or_create(team=team, user=user)
    return team


def team_member_remove(*, team_id: int, by_user: User, user_id: int) -> None:
    team = team_get(team_id=team_id)
    if by_user.pk not in (team.captain_id, user_id):
        raise NotCaptain("Only the captain or the member themself can remove a member.")
    if user_id == team.captain_id:
        raise InvalidTransition("The captain cannot leave the team.", code="captain_cannot_leave")
    deleted, _ = TeamMember.objects.filter(team=team, user_id=user_id).delete()
    if not deleted:
        raise NotFound("That user is not a member of this team.")


# --- Helpers --------------------------------------------------------------------------------


def _participant_insert(
    *, tournament: Tournament, team: Team | None, user: User, roster: list[User], **state
) -> Participant:
    """Save a new entry of ``team`` (captained and named as the team), or of ``user`` alone,
    with its roster (``loaded_roster``): one statement on PostgreSQL
    (``project.statements.insert_with_children``). ``state``: fields other than the
    defaults (a waitlisted entry's status and position)."""
    participant = Participant(
        tournament=tournament,
        team=team,
        captain_id=team.captain_id if team else user.pk,
        name=team.name if team else user.username,
        **state,
    )
    members = [ParticipantMember(tournament_id=tournament.pk, user=u) for u in roster]
    insert_with_children(participant, members, link="participant", key="user")
    participant.loaded_roster = members
    return participant


def organizer_check(tournament: Tournament, user: User) -> None:
    """Raise NotOrganizer unless ``user`` runs ``tournament`` (its organizer, or staff):
    the one rule for every organizer action, here and in ``matches.services``."""
    if not tournament.is_run_by(user):
        raise NotOrganizer("Only the tournament's organizer can do this.")


def _roster_resolve(
    *, tournament: Tournament, user: User, team_id: int | None, member_ids: list[int] | None
) -> tuple[Team | None, list[User]]:
    if not tournament.is_team_event:
        if team_id is not None or member_ids:
            raise InvalidRoster("This is a solo tournament: join without a team.")
        return None, [user]

    if team_id is None:
        raise InvalidRoster(
            f"This is a team tournament ({tournament.team_size} players): name your team.",
            fields={"team": ["This field is required."]},
        )
    team = team_get(team_id=team_id)
    if team.captain_id != user.pk:
        raise NotCaptain("Only the team's captain can register the team.")

    members_by_id = {m.user_id: m.user for m in team.loaded_memberships}
    if member_ids is None:
        roster = list(members_by_id.values())
    else:
        if len(set(member_ids)) != len(member_ids):
            raise InvalidRoster("The roster names a player twice.")
        strangers = [pk for pk in member_ids if pk not in members_by_id]
        if strangers:
            raise InvalidRoster(f"Users {strangers} are not members of {team.name}.")
        roster = [members_by_id[pk] for pk in member_ids]
    if len(roster) != tournament.team_size:
        raise InvalidRoster(
            f"The roster has {len(roster)} players; this tournament needs exactly "
            f"{tournament.team_size}."
        )
    return team, roster


def _participant_to_withdraw(*, tournament: Tournament, user: User) -> Participant:
    """The registered (or waitlisted) participant that ``user`` may withdraw from, or check
    in to, ``tournament``.

    That is one the user captains, whether or not the captain is on its roster (a captain
    may register a roster without themself). One query: the registered participants the
    user captains or plays for. A user plays for at most one participant per tournament
    but may captain several (teams with disjoint rosters); the one they also play for
    comes first, then the oldest, so repeated calls withdraw them one by one.
    """
    plays = ParticipantMember.objects.filter(participant=OuterRef("pk"), user=user, active=True)
    candidates = list(
        Participant.objects.filter(
            tournament_id=tournament.pk,
            status__in=[Participant.Status.REGISTERED, Participant.Status.WAITLISTED],
        )
        .annotate(plays=Exists(plays))
        .filter(Q(captain=user) | Q(plays=True))
        .order_by("pk")
    )
    if not candidates:
        raise NotRegistered("You are not registered in this tournament.")
    captained = [p for p in candidates if p.captain_id == user.pk]
    if not captained:
        raise NotCaptain("Only the team's captain can withdraw the team.")
    return next((p for p in captained if p.plays), captained[0])


def _already_registered_check(*, tournament: Tournament, roster: list[User]) -> None:
    """Refuse a roster with a member already in the tournament (registered or waiting).

    Written here rather than by the ORM (``ParticipantMember.objects.filter(tournament_id=...,
    user_id__in=..., active=True).values_list("user_id")``), which took 3-4x the CPU of this
    statement, on every join (``bench/statements.py``).
    """
    table = connection.ops.quote_name(ParticipantMember._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT user_id FROM {table} WHERE tournament_id = %s AND active = %s "
            f"AND user_id IN ({placeholders(len(roster))})",
            [tournament.pk, True, *(u.pk for u in roster)],
        )
        registered = {user_id for (user_id,) in cursor.fetchall()}
    if registered:
        already = [u for u in roster if u.pk in registered]
        raise AlreadyRegistered(f"{_names(already)} already plays in this tournament.")


# --- Waitlist -------------------------------------------------------------------------------
#
# Positions are kept contiguous: 1 is the first in line, and when an entry leaves the
# waitlist (promoted, withdrawn) every entry behind it moves up one, so "#1" is always
# "next to be offered a place" (an entry that cannot pay when a place frees keeps its
# number, and the next entry that can pay takes the place). ``waitlist_count`` is the
# number of entries waiting, kept by the same guarded UPDATE of the tournament row.


def _waitlist_join(
    *, tournament: Tournament, team: Team | None, roster: list[User], user: User
) -> Participant:
    """Put the roster at the end of a full tournament's waitlist; nothing is charged."""
    _already_registered_check(tournament=tournament, roster=roster)
    tournament_row_update(
        tournament,
        events=1,
        increments={"waitlist_count": 1},
        when_status=Status.REGISTRATION,
    )
    participant = _participant_insert(
        tournament=tournament,
        team=team,
        user=user,
        roster=roster,
        status=Participant.Status.WAITLISTED,
        waitlist_position=tournament.waitlist_count,
    )
    _participant_events_append(tournament, "participant.waitlisted", [participant])
    return participant


def _waitlist_leave(*, tournament: Tournament, participant: Participant) -> Participant:
    """Take a waiting entry off the waitlist (it paid nothing: nothing to refund)."""
    list(Participant.objects.filter(pk=participant.pk).select_for_update().values("pk"))
    Participant.objects.filter(pk=participant.pk).update(
        status=Participant.Status.LEFT, waitlist_position=None
    )
    ParticipantMember.objects.filter(participant=participant, active=True).update(active=False)
    _waitlist_renumber(tournament)
    tournament_row_update(tournament, events=1, increments={"waitlist_count": -1})
    participant.status, participant.waitlist_position = Participant.Status.LEFT, None
    participant.loaded_roster = list(
        ParticipantMember.objects.filter(participant=participant).select_related("user")
    )
    _participant_events_append(tournament, "participant.left", [participant])
    return participant


def _waitlist_entries(tournament: Tournament) -> list[Participant]:
    """The tournament's waiting entries in waitlist order, rosters loaded (two queries)."""
    return list(
        Participant.objects.filter(
            tournament_id=tournament.pk, status=Participant.Status.WAITLISTED
        )
        .order_by("waitlist_position", "pk")
        .prefetch_related(roster_prefetch())
    )


def _waitlist_promote(
    *, tournament: Tournament, entries: list[Participant], places: int, locked: dict
) -> list[Participant]:
    """Promote into ``places`` free places the first ``entries`` (waitlist order) whose
    every member can pay the fee, charging them: one posting each, recorded together.

    The caller holds the tournament's lock and, for a paid tournament, ``locked``: the
    escrow and the wallets of every member of ``entries`` (``accounts_lock``). An entry
    that cannot pay is passed over and keeps its place in line. A constant number of
    statements whatever the number promoted.
    """
    fee = tournament.entry_fee
    wallets = {a.user_id: a for a in locked.values() if a.user_id is not None}
    promoted: list[Participant] = []
    for entry in entries:
        if len(promoted) >= places:
            break
        members = [m.user_id for m in entry.loaded_roster]
        if fee and any(u not in wallets or wallets[u].balance < fee for u in members):
            continue
        promoted.append(entry)
    if not promoted:
        return []
    ids = [p.pk for p in promoted]
    list(Participant.objects.filter(pk__in=ids).select_for_update().order_by("pk").values("pk"))
    charged = 0
    if fee:
        drafts = []
        for entry in promoted:
            lines = {wallets[m.user_id].pk: -fee for m in entry.loaded_roster}
            lines[tournament.escrow_id] = fee * len(entry.loaded_roster)
            charged += fee * len(entry.loaded_roster)
            drafts.append(
                PostingDraft(
                    kind=Posting.Kind.ENTRY_FEE,
                    reference=entry.ledger_reference,
                    lines=lines,
                    tournament_id=tournament.pk,
                )
            )
        # The escrow was locked before this transaction's refunds moved it: read its balance
        # again (still locked), so that the entries' ``balance_after`` are right.
        locked[tournament.escrow_id].refresh_from_db(fields=["balance"])
        postings_record(drafts=drafts, locked=locked)
    Participant.objects.filter(pk__in=ids).update(
        status=Participant.Status.REGISTERED, waitlist_position=None
    )
    _waitlist_renumber(tournament)
    if not tournament_row_update(
        tournament,
        events=len(promoted),
        increments={
            "participant_count": len(ids),
            "waitlist_count": -len(ids),
            "prize_pool": charged,
        },
        when_status=Status.REGISTRATION,
        when_room_for=len(ids),
    ):
        raise TournamentFull("This tournament is full.")
    for entry in promoted:
        entry.status, entry.waitlist_position = Participant.Status.REGISTERED, None
    _participant_events_append(tournament, "participant.promoted", promoted)
    return promoted


def _waitlist_close(tournament: Tournament, *, remaining: list[Participant]) -> None:
    """Remove the entries ``remaining`` on the waitlist (``left``, never charged;
    ``waitlist_closed``): the caller read them under the tournament's lock."""
    if not remaining:
        return
    ids = [p.pk for p in remaining]
    list(Participant.objects.filter(pk__in=ids).select_for_update().order_by("pk").values("pk"))
    Participant.objects.filter(pk__in=ids).update(
        status=Participant.Status.LEFT, waitlist_position=None
    )
    ParticipantMember.objects.filter(participant_id__in=ids, active=True).update(active=False)
    tournament_row_update(
        tournament,
        events=len(ids),
        increments={"waitlist_count": -len(ids)},
    )
    for p in remaining:
        p.status, p.waitlist_position = Participant.Status.LEFT, None
    _participant_events_append(
        tournament, "participant.removed", remaining, reason="waitlist_closed"
    )


def _waitlist_renumber(tournament: Tournament) -> None:
    """Number the waiting entries 1, 2, 3... in their current order (one statement)."""
    table = Participant._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET waitlist_position = ranked.position FROM ("
            "SELECT id, ROW_NUMBER() OVER (ORDER BY waitlist_position, id) AS position "
            f"FROM {table} WHERE tournament_id = %s AND status = %s) AS ranked "
            f"WHERE {table}.id = ranked.id AND {table}.waitlist_position <> ranked.position",
            [tournament.pk, Participant.Status.WAITLISTED],
        )


def _participant_events_append(
    tournament: Tournament, name: str, participants: list[Participant], **extra
) -> None:
    """Append one ``name`` event per participant, in order, each with the participant and
    the tournament as this action leaves it (``{participant, tournament, **extra}``); the
    versions were taken by the action's ``tournament_row_update``."""
    tournament_payload = tournament_data(tournament)
    events_append(
        tournament=tournament,
        events=[
            (
                name,
                {"participant": participant_data(p), "tournament": tournament_payload, **extra},
            )
            for p in participants
        ],
    )


def _names(users: list[User]) -> str:
    names = [u.username for u in users]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


# --- Editing in registration (PATCH /api/tournaments/{id}) ----------------------------------

# What the organizer may change until the start. The format, team size, capacity, entry fee
# and prize split stay as created: players joined, and paid, for those (and a smaller
# capacity or a larger team would not fit who is registered already).
EDITABLE_FIELDS = (
    "name",
    "game",
    "best_of",
    "best_of_final",
    "starts_at",
    "auto_start",
    "check_in_opens_minutes",
    "swiss_rounds",
)


def tournament_update(*, tournament_id: int, user: User, **changes) -> Tournament:
    """The organizer edits the tournament while it is in ``registration``: the fields of
    ``EDITABLE_FIELDS`` given in ``changes``, checked together with the ones kept by the
    creation rules (``match_play_errors``), written in one guarded UPDATE with a
    ``tournament.updated`` event. Changing nothing (every value as it is) writes nothing
    and sends no event."""
    if fixed := sorted(set(changes) - set(EDITABLE_FIELDS)):
        raise InvalidInput(
            "Only " + ", ".join(EDITABLE_FIELDS) + " can be changed.",
            fields={name: ["Fixed when the tournament was created."] for name in fixed},
        )
    with transaction.atomic():
        tournament = tournament_lock(tournament_id)
        organizer_check(tournament, user)
        if tournament.status != Status.REGISTRATION:
            raise InvalidTransition(
                f"The tournament is {tournament.status}; it can be edited only in registration."
            )
        merged = {name: changes.get(name, getattr(tournament, name)) for name in EDITABLE_FIELDS}
        if errors := _tournament_edit_errors(tournament, merged):
            raise InvalidInput("The changes are not valid.", fields=errors)
        changed = {
            name: value for name, value in changes.items() if value != getattr(tournament, name)
        }
        if changed:
            _tournament_edit(tournament, changed)
    return tournament


def tournament_auto_start_off(*, tournament_id: int) -> None:
    """The service turns a tournament's automatic start off (its start at ``starts_at``
    could not happen: ``matches.auto_start``), with the event an organizer's edit sends, so
    the console and the live pages show it. Nothing happens if the organizer started,
    cancelled or edited it meanwhile."""
    with transaction.atomic():
        tournament = tournament_lock(tournament_id)
        if tournament.status == Status.REGISTRATION and tournament.auto_start:
            _tournament_edit(tournament, {"auto_start": False})


def _tournament_edit(tournament: Tournament, changed: dict) -> None:
    """Write ``changed`` (field -> new value) to the locked tournament's row in one
    statement, with its ``tournament.updated`` event."""
    tournament_row_update(tournament, events=1, values=changed)
    for name, value in changed.items():
        setattr(tournament, name, value)
    events_append(
        tournament=tournament,
        events=[("tournament.updated", {"tournament": tournament_data(tournament)})],
    )


def _tournament_edit_errors(tournament: Tournament, values: dict) -> dict[str, list[str]]:
    """What is wrong with the tournament as it would be after an edit, by field (the
    creation rules; the REST input checks the types first)."""
    errors = match_play_errors(
        best_of=values["best_of"],
        best_of_final=values["best_of_final"],
        starts_at=values["starts_at"],
        auto_start=values["auto_start"],
        check_in_opens_minutes=values["check_in_opens_minutes"],
    )
    name, game, swiss_rounds = values["name"], values["game"], values["swiss_rounds"]
    if not isinstance(name, str) or not 1 <= len(name) <= NAME_MAX_LENGTH:
        errors["name"] = [f"1 to {NAME_MAX_LENGTH} characters."]
    if not isinstance(game, str) or len(game) > GAME_MAX_LENGTH:
        errors["game"] = [f"Up to {GAME_MAX_LENGTH} characters."]
    if swiss_rounds is not None and tournament.format != Tournament.Format.SWISS:
        errors["swiss_rounds"] = ["Only swiss tournaments have rounds."]
    return errors
