"""Writes for brackets and results: start, report, resolve, reset, and the payout at the end.

Every action is one transaction that locks the match rows it changes (the reported match
first, then the matches it feeds, in that order), then the ledger accounts when it pays
prizes, then the tournament row last, by the guarded ``UPDATE`` that takes the versions of
the events it sends. A result is recorded with the relations loaded with the locked match
and a constant number of statements whatever the size of the bracket.

Payouts. The result that completes a tournament decides every prize (from the escrow's
balance and the final placements). Up to ``PAYOUTS_INLINE_MAX`` placed participants are
paid in that transaction; more are recorded as ``PrizeAward`` rows and paid by a chain of
chunk tasks (``tournament_payouts_chunk``), each one transaction of set-based statements,
like the refunds of a cancelled tournament (``tournaments.services``).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterable
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from matches import tasks
from matches.errors import (
    AlreadyReported,
    DownstreamPlayed,
    InvalidResult,
    MatchClosed,
    MatchNotFound,
    MatchNotReady,
    NotAPlayer,
    NotEnoughParticipants,
)
from matches.formats import double_elimination, round_robin, single_elimination, swiss
from matches.formats.payouts import prize_shares, split_among_roster
from matches.formats.plan import GROUP, PlannedMatch
from matches.models import Match, MatchReport, PrizeAward
from matches.placements import placements_for
from matches.serializers import match_data, matches_data
from notifications.services import (
    match_ready_notify,
    match_result_confirmed_notify,
    match_result_disputed_notify,
)
from tournaments.errors import InvalidTransition, NotOrganizer
from tournaments.events import events_append, tournament_row_update
from tournaments.locks import tournament_lock
from tournaments.models import Participant, ParticipantMember, Tournament
from tournaments.selectors import tournaments_stalled_ids
from tournaments.serializers import participant_data, tournament_data
from users.models import User
from wallets.models import Account, Posting
from wallets.services import PostingDraft, accounts_lock, postings_record, wallets_ensure

logger = logging.getLogger(__name__)

Format = Tournament.Format
Status = Match.Status

# Fields a result can change on a match; saved with one bulk UPDATE per action.
MATCH_STATE_FIELDS = [
    "participant_a",
    "participant_b",
    "status",
    "winner",
    "scores",
    "completed_at",
    "next_match",
    "next_slot",
]

# When one action touches a match more than once, the event it sends names the strongest.
EVENT_STRENGTH = {"match.updated": 0, "match.reset": 1, "match.disputed": 2, "match.completed": 3}


# --- Start ----------------------------------------------------------------------------------


def tournament_start(
    *, tournament_id: int, user: User, seeding: str = "registration"
) -> Tournament:
    """Close registration, seed the participants and create every match in one go."""
    with transaction.atomic():
        tournament = tournament_lock(tournament_id)  # first: it touches no match row yet
        _organizer_check(tournament, user)
        if tournament.status != Tournament.Status.REGISTRATION:
            raise InvalidTransition(f"The tournament is {tournament.status}; it cannot start.")
        participants = list(
            Participant.objects.filter(tournament=tournament, status=Participant.Status.REGISTERED)
            .order_by("pk")
            .prefetch_related(_roster_prefetch())
        )
        if len(participants) < 2:
            raise NotEnoughParticipants("A tournament needs at least 2 participants to start.")
        if seeding == "random":
            secrets.SystemRandom().shuffle(participants)
        for seed, participant in enumerate(participants, start=1):
            participant.seed = seed
        Participant.objects.bulk_update(participants, ["seed"])

        by_seed = {p.seed: p.pk for p in participants}
        if tournament.format == Format.SWISS:
            swiss_rounds = tournament.swiss_rounds or swiss.default_rounds(len(participants))
            planned = _swiss_round_plan(
                round_number=1, seeds=list(by_seed), scores={}, played=set(), had_bye=set()
            )
        else:
            swiss_rounds = tournament.swiss_rounds
            planned = _PLANNERS[tournament.format](len(participants))
        matches = _matches_create(tournament, planned, by_seed)

        # Byes complete at once, their winners moving on (in memory: nothing is saved yet).
        progress = _Progress(tournament, loader=lambda ids: {pk: matches[pk] for pk in ids})
        for match in matches.values():
            progress.settle(match)
        Match.objects.bulk_update(
            matches.values(), MATCH_STATE_FIELDS + ["loser_next_match", "loser_next_slot"]
        )
        progress.notify()

        now = timezone.now()
        tournament_row_update(
            tournament,
            events=1,
            set_sql="status = %s, started_at = %s, swiss_rounds = %s",
            set_params=[Tournament.Status.IN_PROGRESS, now, swiss_rounds],
        )
        tournament.started_at, tournament.swiss_rounds = now, swiss_rounds
        for match in matches.values():
            match.loaded_reports = []
        events_append(
            tournament=tournament,
            events=[
                (
                    "tournament.started",
                    {
                        "tournament": tournament_data(tournament),
                        "participants": [participant_data(p) for p in participants],
                        "matches": matches_data(_ordered(matches.values())),
                    },
                )
            ],
        )
    return tournament


_PLANNERS: dict[str, Callable[[int], list[PlannedMatch]]] = {
    Format.SINGLE_ELIMINATION: single_elimination.plan,
    Format.DOUBLE_ELIMINATION: double_elimination.plan,
    Format.ROUND_ROBIN: round_robin.plan,
}


def _matches_create(
    tournament: Tournament, planned: list[PlannedMatch], by_seed: dict[int, int]
) -> dict[int, Match]:
    """Insert the planned matches in one statement, then wire where winners and losers go."""
    by_key = {
        pm.key: Match(
            tournament=tournament,
            bracket=pm.bracket,
            round=pm.round,
            position=pm.position,
            is_bye=pm.bye,
            participant_a_id=by_seed.get(pm.seed_a),
            participant_b_id=by_seed.get(pm.seed_b),
        )
        for pm in planned
    }
    Match.objects.bulk_create(by_key.values())
    for pm in planned:
        match = by_key[pm.key]
        if pm.winner_to:
            match.next_match = by_key[pm.winner_to.key]
            match.next_slot = pm.winner_to.side
        if pm.loser_to:
            match.loser_next_match = by_key[pm.loser_to.key]
            match.loser_next_slot = pm.loser_to.side
    return {match.pk: match for match in by_key.values()}


def _swiss_round_plan(
    *,
    round_number: int,
    seeds: list[int],
    scores: dict[int, int],
    played: set[frozenset[int]],
    had_bye: set[int],
) -> list[PlannedMatch]:
    pairs, bye = swiss.pair_round(players=seeds, scores=scores, played=played, had_bye=had_bye)
    planned = [
        PlannedMatch(bracket=GROUP, round=round_number, position=i, seed_a=a, seed_b=b)
        for i, (a, b) in enumerate(pairs, start=1)
    ]
    if bye is not None:
        planned.append(
            PlannedMatch(
                bracket=GROUP, round=round_number, position=len(pairs) + 1, seed_a=bye, bye=True
            )
        )
    return planned


# --- Results --------------------------------------------------------------------------------


def match_report(
    *, match_id: int, user: User, winner_id: int | None, scores: list[int] | None = None
) -> Match:
    """A side reports the result; the second agreeing report completes the match."""
    with transaction.atomic():
        match = _match_lock(match_id)
        tournament = match.tournament
        participant_id = _reporting_side(match, user)
        if tournament.status != Tournament.Status.IN_PROGRESS:
            raise MatchClosed(f"The tournament is {tournament.status}.")
        if match.status == Status.PENDING:
            raise MatchNotReady("This match is still waiting for a participant.")
        if match.status in (Status.COMPLETED, Status.DISPUTED):
            raise MatchClosed(f"This match is {match.status}; only the organizer can change it.")
        if any(r.participant_id == participant_id for r in match.loaded_reports):
            raise AlreadyReported("Your side has already reported this match.")
        _result_check(match, tournament, winner_id, scores)

        report = MatchReport.objects.create(
            match=match,
            participant_id=participant_id,
            reported_by=user,
            winner_id=winner_id,
            scores=scores,
        )
        other = next((r for r in match.loaded_reports if r.participant_id != participant_id), None)
        match.loaded_reports.append(report)

        progress = _Progress(tournament, loader=_matches_lock)
        if other is None:
            match.status = Status.AWAITING_CONFIRMATION
            progress.touch(match, "match.updated")
        elif other.winner_id == winner_id and (
            not scores or not other.scores or scores == other.scores
        ):
            progress.complete(match, winner_id, scores or other.scores)
        else:
            match.status = Status.DISPUTED
            progress.touch(match, "match.disputed")
        progress.save()
    return match


def match_resolve(
    *, match_id: int, user: User, winner_id: int | None, scores: list[int] | None = None
) -> Match:
    """The organizer settles a dispute, or overrides any result not yet built upon."""
    with transaction.atomic():
        match = _match_lock(match_id)
        tournament = match.tournament
        _organizer_check(tournament, user)
        if tournament.status != Tournament.Status.IN_PROGRESS:
            raise MatchClosed(f"The tournament is {tournament.status}.")
        if match.status == Status.PENDING:
            raise MatchNotReady("This match is still waiting for a participant.")
        if match.is_bye:
            raise MatchClosed("A bye has no result to settle.")
        _result_check(match, tournament, winner_id, scores)
        progress = _Progress(tournament, loader=_matches_lock)
        if match.status == Status.COMPLETED:
            progress.revert(match, keep_reports=True)
        progress.complete(match, winner_id, scores)
        progress.save()
    return match


def match_reset(*, match_id: int, user: User) -> Match:
    """Back to ``ready``, reports dropped, provided nothing downstream has a result yet."""
    with transaction.atomic():
        match = _match_lock(match_id)
        tournament = match.tournament
        _organizer_check(tournament, user)
        if tournament.status != Tournament.Status.IN_PROGRESS:
            raise MatchClosed(f"The tournament is {tournament.status}.")
        if match.is_bye:
            raise MatchClosed("A bye cannot be reset.")
        if match.status == Status.PENDING:
            raise MatchNotReady("This match is still waiting for a participant.")
        progress = _Progress(tournament, loader=_matches_lock)
        progress.revert(match, keep_reports=False)
        progress.save()
    return match


def match_confirm_overdue(*, match_id: int, reported_before: datetime) -> Match | None:
    """Confirm a one-sided report made before ``reported_before`` as reported, so that a
    side that never answers cannot stall the bracket. None if the match moved on meanwhile
    (confirmed, disputed, reset): the deadline then no longer applies."""
    with transaction.atomic():
        match = _match_lock(match_id)
        tournament = match.tournament
        if (
            tournament.status != Tournament.Status.IN_PROGRESS
            or match.status != Status.AWAITING_CONFIRMATION
            or len(match.loaded_reports) != 1
            or match.loaded_reports[0].at > reported_before
        ):
            return None
        report = match.loaded_reports[0]
        progress = _Progress(tournament, loader=_matches_lock)
        progress.complete(match, report.winner_id, report.scores)
        progress.save()
    return match


class _Progress:
    """Results flowing through a bracket.

    Completes matches, moves winners (and losers, in double elimination) into the matches
    they feed, completes byes whose one side has arrived, pairs the next swiss round, and
    finishes the tournament after its last match. It works on Match objects, loading the
    matches it feeds through ``loader`` (in memory at start, locked rows afterwards), and
    remembers what changed so that ``save`` writes it with a fixed number of statements.
    """

    def __init__(self, tournament: Tournament, *, loader: Callable[[list[int]], dict[int, Match]]):
        self.tournament = tournament
        self.load = loader
        self.changed: dict[int, Match] = {}
        self.events: dict[int, str] = {}
        self.created: list[Match] = []
        self.deleted: list[int] = []
        self.round_done: int | None = None
        self.finished = False
        self.became_ready: list[int] = []
        # The second grand final that undoing the first one's result is about to delete.
        self.kept_second_grand_final: Match | None = None

    def touch(self, match: Match, event: str) -> None:
        self.changed[match.pk] = match
        if EVENT_STRENGTH[event] >= EVENT_STRENGTH.get(self.events.get(match.pk, ""), -1):
            self.events[match.pk] = event

    def settle(self, match: Match) -> None:
        """Set the status that the match's sides call for (at start, or a side arrived)."""
        if match.status == Status.COMPLETED:
            return
        a, b = match.participant_a_id, match.participant_b_id
        if match.is_bye and (a or b):
            self.complete(match, a or b, None)
        elif a and b:
            match.status = Status.READY
            self.became_ready.append(match.pk)
            self.touch(match, "match.updated")
        elif a or b:
            self.touch(match, "match.updated")

    def complete(self, match: Match, winner_id: int | None, scores: list[int] | None) -> None:
        match.status = Status.COMPLETED
        match.winner_id = winner_id
        match.scores = scores
        match.completed_at = timezone.now()
        self.touch(match, "match.completed")
        self._advance(match)

    def _advance(self, match: Match) -> None:
        feeds = {
            pk: slot
            for pk, slot in [
                (match.next_match_id, match.next_slot),
                (match.loser_next_match_id, match.loser_next_slot),
            ]
            if pk
        }
        targets = self.load(list(feeds)) if feeds else {}
        if match.next_match_id and match.winner_id:
            self._place(targets[match.next_match_id], match.next_slot, match.winner_id)
        loser = match.loser_id()
        if match.loser_next_match_id and loser:
            self._place(targets[match.loser_next_match_id], match.loser_next_slot, loser)

        if match.bracket == Match.Bracket.GRAND_FINAL:
            if match.round == 1 and double_elimination.needs_reset(match.side_of(match.winner_id)):
                self._grand_final_reset(match)
            else:
                self.finished = True
        elif (
            match.bracket == Match.Bracket.WINNERS
            and not match.next_match_id
            and self.tournament.format == Format.SINGLE_ELIMINATION
        ):
            self.finished = True
        elif match.bracket == Match.Bracket.GROUP:
            self.round_done = match.round

    def _place(self, target: Match, slot: str, participant_id: int) -> None:
        setattr(target, f"participant_{slot}_id", participant_id)
        self.settle(target)

    def _grand_final_reset(self, first: Match) -> None:
        """The losers-bracket finalist won the grand final: both now have one loss.

        An override of the first grand final that ends it this way again keeps the second
        one that the previous result made (it is still ready, with the same two sides:
        ``_unadvance`` refuses otherwise), instead of deleting it and inserting another in
        its place, which the unique place of a match refuses until the delete is written.
        """
        kept = self.kept_second_grand_final
        if kept is not None and kept.pk in self.deleted:
            self.deleted.remove(kept.pk)
            first.next_match, first.next_slot = kept, ""
            self.touch(kept, "match.updated")
            return
        second = Match.objects.create(
            tournament=self.tournament,
            bracket=Match.Bracket.GRAND_FINAL,
            round=2,
            position=1,
            participant_a_id=first.participant_a_id,
            participant_b_id=first.participant_b_id,
            status=Status.READY,
        )
        second.loaded_reports = []
        first.next_match, first.next_slot = second, ""
        self.touch(second, "match.updated")

    def revert(self, match: Match, *, keep_reports: bool) -> None:
        """Undo the match's result (and the byes it completed), if nothing built on it."""
        if match.status == Status.COMPLETED:
            self._unadvance(match)
        if not keep_reports:
            MatchReport.objects.filter(match=match).delete()
            match.loaded_reports = []
        match.status = Status.READY
        match.winner_id = None
        match.scores = None
        match.completed_at = None
        self.touch(match, "match.reset")

    def _unadvance(self, match: Match) -> None:
        if match.bracket == Match.Bracket.GROUP:
            if self.tournament.format != Format.SWISS:
                return  # round robin rounds do not depend on each other
            # The next swiss round was paired on this result: delete it, to be paired again
            # when the result is in, unless it has results. Its matches are locked first
            # (after this one, as the lock order wants: downstream) and checked under the
            # lock, so a report on one of them either committed before, and refuses this,
            # or waits and then finds its match gone (404).
            later = list(
                Match.objects.select_for_update()
                .filter(
                    tournament=self.tournament, bracket=Match.Bracket.GROUP, round__gt=match.round
                )
                .order_by("pk")
                .values_list("pk", "status", "is_bye")
            )
            played = (Status.COMPLETED, Status.AWAITING_CONFIRMATION, Status.DISPUTED)
            if any(status in played and not is_bye for _, status, is_bye in later):
                raise DownstreamPlayed("A later round already has results.")
            self.deleted.extend(pk for pk, _, _ in later)
            return
        feeds = [
            (match.next_match_id, match.winner_id),
            (match.loser_next_match_id, match.loser_id()),
        ]
        targets = self.load([pk for pk, _ in feeds if pk])
        for pk, participant_id in feeds:
            if not pk:
                continue
            target = targets[pk]
            if target.bracket == Match.Bracket.GRAND_FINAL and target.round == 2:
                if target.status != Status.READY:
                    raise DownstreamPlayed("The second grand final already has a result.")
                self.deleted.append(target.pk)
                self.kept_second_grand_final = target
                match.next_match = None
                continue
            if target.is_bye and target.status == Status.COMPLETED:
                self._unadvance(target)
                target.winner_id = None
                target.completed_at = None
            elif target.status not in (Status.PENDING, Status.READY):
                raise DownstreamPlayed(f"Match {target.pk}, which this match feeds, has a result.")
            for side in ("a", "b"):
                if getattr(target, f"participant_{side}_id") == participant_id:
                    setattr(target, f"participant_{side}_id", None)
            target.status = Status.PENDING
            self.touch(target, "match.updated")

    def save(self) -> None:
        """Write what changed, finish the tournament if it is over, and send the events,
        taking their versions in the same tournament UPDATE that records the finish.

        Whether a round or the tournament is over is decided under the tournament's lock
        (``tournaments.locks``), taken after every match row this change locked: a
        concurrent result has then either committed, and is seen, or waits for this one.
        Without it two results that each finished the last open match of a round both saw
        the other open, or both completed the tournament and awarded its prizes twice.
        Other changes take the lock with their guarded UPDATE at the end.
        """
        if self.round_done is not None or self.finished:
            self._tournament_lock()
        if self.deleted:
            # Before the matches of the new state are written: a second grand final or a
            # swiss round made again takes the places of the ones deleted here.
            Match.objects.filter(pk__in=self.deleted).delete()
            for pk in self.deleted:
                self.changed.pop(pk, None)
                self.events.pop(pk, None)
        if self.round_done is not None:
            self._round_completed(self.round_done)
        Match.objects.bulk_update(self.changed.values(), MATCH_STATE_FIELDS)

        # A match made from a result that was undone (the second grand final, a swiss round
        # paired on it) goes away with it; watchers learn that from its own event.
        events = [("match.removed", {"match_id": pk}) for pk in sorted(self.deleted)] + [
            (name, {"match": match_data(self.changed[pk])}) for pk, name in self.events.items()
        ]
        self.notify()
        if not self.finished:
            if not tournament_row_update(
                self.tournament,
                events=len(events),
                where_sql="status = %s",
                where_params=[Tournament.Status.IN_PROGRESS],
            ):
                raise MatchClosed("The tournament is no longer in progress.")
            events_append(tournament=self.tournament, events=events)
            return

        placements, prizes, payouts_pending = self._tournament_finish()
        now = timezone.now()
        finished = tournament_row_update(
            self.tournament,
            events=len(events) + 1,
            set_sql="status = %s, completed_at = %s, payouts_pending = %s",
            set_params=[Tournament.Status.COMPLETED, now, payouts_pending],
            where_sql="status = %s",
            where_params=[Tournament.Status.IN_PROGRESS],
        )
        if not finished:
            raise MatchClosed("The tournament is no longer in progress.")
        self.tournament.completed_at = now
        if payouts_pending:
            tasks.tournament_payouts_chunk_run.delay_on_commit(self.tournament.pk)
        events.append(
            (
                "tournament.completed",
                {
                    "tournament": tournament_data(self.tournament),
                    "placements": placements,
                    "prizes": {str(pk): amount for pk, amount in prizes.items()},
                },
            )
        )
        events_append(tournament=self.tournament, events=events)

    def _tournament_lock(self) -> None:
        """Lock the tournament row; refuse if it is no longer in progress (it completed or
        was cancelled while this change waited for its match rows)."""
        status = tournament_lock(self.tournament.pk).status
        if status != Tournament.Status.IN_PROGRESS:
            raise MatchClosed(f"The tournament is {status}.")

    def notify(self) -> None:
        """Tell the players what this change means for them, once it commits."""
        match_ready_notify(match_ids=[pk for pk in self.became_ready if pk not in self.deleted])
        for pk, event in self.events.items():
            if event == "match.completed" and not self.changed[pk].is_bye:
                match_result_confirmed_notify(match_id=pk)
            elif event == "match.disputed":
                match_result_disputed_notify(match_id=pk)

    def _round_completed(self, round_number: int) -> None:
        """After a group match: finish the round robin, or pair the next swiss round."""
        open_matches = Match.objects.filter(tournament=self.tournament).exclude(
            status=Status.COMPLETED
        )
        open_ids = set(open_matches.values_list("pk", flat=True)) - set(self.changed)
        if open_ids or any(m.status != Status.COMPLETED for m in self.changed.values()):
            return
        if self.tournament.format == Format.SWISS and round_number < self.tournament.swiss_rounds:
            self._swiss_pair(round_number + 1)
        else:
            self.finished = True

    def _swiss_pair(self, round_number: int) -> None:
        results = Match.objects.filter(tournament=self.tournament, bracket=Match.Bracket.GROUP)
        seeds = dict(
            Participant.objects.filter(tournament=self.tournament, seed__isnull=False).values_list(
                "pk", "seed"
            )
        )
        scores = dict.fromkeys(seeds.values(), 0)
        played: set[frozenset[int]] = set()
        had_bye: set[int] = set()
        for m in [*results.exclude(pk__in=self.changed), *self.changed.values()]:
            a, b = seeds.get(m.participant_a_id), seeds.get(m.participant_b_id)
            if m.is_bye:
                had_bye.add(a)
                scores[a] += 2
                continue
            played.add(frozenset((a, b)))
            if m.winner_id is None:
                scores[a] += 1
                scores[b] += 1
            else:
                scores[seeds[m.winner_id]] += 2
        planned = _swiss_round_plan(
            round_number=round_number,
            seeds=sorted(seeds.values()),
            scores=scores,
            played=played,
            had_bye=had_bye,
        )
        by_seed = {seed: pk for pk, seed in seeds.items()}
        created = _matches_create(self.tournament, planned, by_seed)
        for match in created.values():
            match.loaded_reports = []
            self.settle(match)

    def _tournament_finish(self) -> tuple[list[list[int]], dict[int, int], int]:
        """Placements from the final bracket, and the prizes decided for them: paid here if
        there are at most ``PAYOUTS_INLINE_MAX``, else recorded for the payout chunks.
        Returns the placements, the prizes, and how many of them are left to pay."""
        tournament = self.tournament
        stored = Match.objects.filter(tournament=tournament).exclude(pk__in=self.changed)
        participants = list(Participant.objects.filter(tournament=tournament, seed__isnull=False))
        placements = placements_for(
            tournament=tournament,
            matches=[*stored, *self.changed.values()],
            participants=participants,
        )
        prizes = _prizes_decide(tournament, placements)
        if len(prizes) <= settings.PAYOUTS_INLINE_MAX:
            _prizes_pay(tournament, prizes)
            return placements, prizes, 0
        # Decided now, once: the chunks pay exactly these amounts, whatever happens later.
        PrizeAward.objects.bulk_create(
            PrizeAward(participant_id=pk, tournament_id=tournament.pk, amount=amount)
            for pk, amount in prizes.items()
        )
        return placements, prizes, len(prizes)


def _prizes_decide(tournament: Tournament, placements: list[list[int]]) -> dict[int, int]:
    """Each placed participant's share of the whole escrow (none of it paid yet), by
    participant id; only positive shares. Locks the escrow until the transaction ends."""
    pool = accounts_lock(ids=[tournament.escrow_id])[tournament.escrow_id].balance
    if pool <= 0:
        return {}
    return prize_shares(pool=pool, split=tournament.prize_split, placements=placements)


def _prizes_pay(tournament: Tournament, prizes: dict[int, int]) -> None:
    """Pay the (few) prizes out of the escrow to the placed participants' rosters, now."""
    if not prizes:
        return
    rosters = _rosters_of(ParticipantMember.objects.filter(participant_id__in=list(prizes)))
    locked = _prize_accounts_lock(tournament, rosters)
    _prize_postings_record(tournament, prizes, rosters, locked)


# --- Payouts in the background --------------------------------------------------------------


def tournament_payouts_chunk(*, tournament_id: int, limit: int | None = None) -> int:
    """Pay the next ``limit`` prizes of a completed tournament in one transaction (by
    default as many participants as make ``PAYOUTS_CHUNK_LINES`` ledger lines: the roster
    plus the escrow each), and enqueue the next chunk when it commits.

    Returns how many participants were paid: 0 when none are left, or when a concurrent run
    of the same chunk paid them first (that run then carries the chain on). Running a chunk
    twice, or two at once, is safe, and happens (a redelivered message, the sweeper): the
    awards are re-read under lock and only those still unpaid are paid, and the ledger
    refuses a second prize posting for one participant whatever happens. A worker that dies
    mid-chunk leaves nothing of it: the chunk is one transaction.
    """
    with transaction.atomic():
        # The tournament row first (tournaments.locks), then the accounts, then the awards.
        tournament = (
            Tournament.objects.select_for_update()
            .filter(pk=tournament_id, status=Tournament.Status.COMPLETED, payouts_pending__gt=0)
            .first()
        )
        if tournament is None:
            return 0
        limit = limit or max(1, settings.PAYOUTS_CHUNK_LINES // (tournament.team_size + 1))
        ids = list(
            PrizeAward.objects.filter(tournament_id=tournament.pk, paid=False)
            .order_by("pk")
            .values_list("pk", flat=True)[:limit]
        )
        if not ids:
            return 0
        paid = _awards_pay(tournament=tournament, first=ids[0], last=ids[-1])
        if not paid:
            return 0
        events_append(
            tournament=tournament,
            events=[
                (
                    "payouts.progress",
                    {
                        "tournament": tournament_data(tournament),
                        "paid": paid,
                        "payouts_pending": tournament.payouts_pending,
                    },
                )
            ],
        )
        if tournament.payouts_pending > 0:
            tasks.tournament_payouts_chunk_run.delay_on_commit(tournament.pk)
    return len(paid)


def tournament_payouts_resume(*, stalled_for_seconds: int) -> list[int]:
    """Enqueue again the payouts of completed tournaments that stopped making progress.

    A tournament is stalled when payouts are pending and its last event (the completion,
    or the last chunk's ``payouts.progress``) is older than ``stalled_for_seconds``: its
    chain of chunk tasks was lost (a crash between a commit and the publish of the next
    chunk, a purged queue, a dead worker whose message the broker has not yet given back).
    A chain that was only slow gets a duplicate, which is harmless (see
    ``tournament_payouts_chunk``). Returns the ids of the tournaments enqueued again.
    """
    stalled = tournaments_stalled_ids(
        status=Tournament.Status.COMPLETED,
        pending_field="payouts_pending",
        stalled_for_seconds=stalled_for_seconds,
    )
    for tournament_id in stalled:
        logger.warning("payouts of tournament %s stalled: enqueued again", tournament_id)
        tasks.tournament_payouts_chunk_run.delay_on_commit(tournament_id)
    return stalled


def _awards_pay(*, tournament: Tournament, first: int, last: int) -> list[int]:
    """Pay the unpaid awards of the tournament from participant ``first`` to ``last``: the
    ids paid, in order. A constant number of statements whatever their number: the rosters;
    the wallets ensured and locked with the escrow (pk order); the awards re-read under
    lock; the ledger (one ``UPDATE ... FROM (VALUES ...)`` of the balances, one insert of
    postings, one of entries); the awards; the guarded tournament row (returning its counter).

    The unpaid awards in that range are exactly the ones the caller read as the next chunk,
    or fewer (no award is made after the completion and none becomes unpaid again), so
    statements name the range, not a list of a thousand ids.
    """
    unpaid = PrizeAward.objects.filter(
        tournament_id=tournament.pk, pk__gte=first, pk__lte=last, paid=False
    )
    rosters = _rosters_of(ParticipantMember.objects.filter(participant_id__in=unpaid.values("pk")))
    locked = _prize_accounts_lock(tournament, rosters)
    # Re-read under lock: a concurrent run of this chunk may have paid some already (it held
    # the same account locks, the escrow's at least, so it has committed by now).
    prizes = dict(unpaid.select_for_update().order_by("pk").values_list("pk", "amount"))
    if not prizes:
        return []
    _prize_postings_record(tournament, prizes, rosters, locked)
    unpaid.update(paid=True)  # every unpaid award in the range is locked by now
    count = len(prizes)
    if not tournament_row_update(
        tournament,
        events=1,
        set_sql="payouts_pending = payouts_pending - %s",
        set_params=[count],
        where_sql="status = %s AND payouts_pending >= %s",
        where_params=[Tournament.Status.COMPLETED, count],
    ):
        raise RuntimeError(f"tournament {tournament.pk} has fewer than {count} payouts pending")
    return list(prizes)


def _rosters_of(members: QuerySet[ParticipantMember]) -> dict[int, tuple[int, list[int]]]:
    """``{participant id: (captain's user id, roster user ids)}`` of the given members."""
    rosters: dict[int, tuple[int, list[int]]] = {}
    for participant_id, user_id, captain_id in members.order_by("pk").values_list(
        "participant_id", "user_id", "participant__captain_id"
    ):
        rosters.setdefault(participant_id, (captain_id, []))[1].append(user_id)
    return rosters


def _prize_accounts_lock(
    tournament: Tournament, rosters: dict[int, tuple[int, list[int]]]
) -> dict[int, Account]:
    """Give the roster members wallets if they have none, then lock them with the escrow."""
    user_ids = {u for _, members in rosters.values() for u in members}
    wallets_ensure(user_ids=user_ids)
    return accounts_lock(ids=[tournament.escrow_id], user_ids=user_ids)


def _prize_postings_record(
    tournament: Tournament,
    prizes: dict[int, int],
    rosters: dict[int, tuple[int, list[int]]],
    locked: dict[int, Account],
) -> None:
    """One prize posting per participant (reference ``participant:<id>``, unique in the
    ledger: a participant is paid at most once), from the escrow to its roster's wallets."""
    wallet_of = {a.user_id: a.pk for a in locked.values() if a.user_id}
    drafts = []
    for pk, amount in prizes.items():
        captain, members = rosters[pk]
        # A captain may register a roster without themself: the remainder then goes to the
        # first member, so that it still goes to a player and no cent is lost.
        split = split_among_roster(
            amount=amount, members=members, captain=captain if captain in members else members[0]
        )
        lines = {wallet_of[u]: share for u, share in split.items()}
        lines[tournament.escrow_id] = -amount
        drafts.append(
            PostingDraft(
                kind=Posting.Kind.PRIZE,
                reference=f"participant:{pk}",
                lines=lines,
                tournament_id=tournament.pk,
            )
        )
    postings_record(drafts=drafts, locked=locked)


# --- Helpers --------------------------------------------------------------------------------


def _roster_prefetch() -> Prefetch:
    return Prefetch(
        "roster",
        queryset=ParticipantMember.objects.select_related("user").order_by("pk"),
        to_attr="loaded_roster",
    )


def _reports_prefetch() -> Prefetch:
    return Prefetch(
        "reports", queryset=MatchReport.objects.order_by("pk"), to_attr="loaded_reports"
    )


def _match_lock(match_id: int) -> Match:
    """The match, locked, with its tournament, sides and reports (three statements)."""
    match = (
        Match.objects.select_for_update(of=("self",))
        .select_related("tournament", "participant_a", "participant_b")
        .prefetch_related(_reports_prefetch())
        .filter(pk=match_id)
        .first()
    )
    if match is None:
        raise MatchNotFound(f"There is no match {match_id}.")
    return match


def _matches_lock(ids: list[int]) -> dict[int, Match]:
    matches = (
        Match.objects.select_for_update()
        .filter(pk__in=ids)
        .order_by("pk")
        .prefetch_related(_reports_prefetch())
    )
    return {m.pk: m for m in matches}


def _reporting_side(match: Match, user: User) -> int:
    for participant in (match.participant_a, match.participant_b):
        if participant is not None and participant.captain_id == user.pk:
            return participant.pk
    raise NotAPlayer("Only a player of either side (the captain, for teams) can report.")


def _result_check(
    match: Match, tournament: Tournament, winner_id: int | None, scores: list[int] | None
) -> None:
    if winner_id is None:
        if match.bracket != Match.Bracket.GROUP:
            raise InvalidResult(
                "Elimination matches cannot end in a draw: name the winner.",
                fields={"winner": ["Required in elimination matches."]},
            )
    elif match.side_of(winner_id) is None:
        raise InvalidResult(
            f"Participant {winner_id} does not play in this match.",
            fields={"winner": [f"One of {match.participant_a_id} or {match.participant_b_id}."]},
        )
    if scores is None:
        return
    if len(scores) != 2:
        raise InvalidResult("Scores are [side a, side b].", fields={"scores": ["Two numbers."]})
    # The scores must tell the same story as the winner: the side named has more, and a
    # draw is level. Stored otherwise, standings and spectators would show two results.
    score_a, score_b = scores
    if winner_id is None and score_a != score_b:
        raise InvalidResult(
            f"A draw has level scores, not {score_a}-{score_b}.",
            fields={"scores": ["Level scores for a draw, or name the winner."]},
        )
    if winner_id is not None:
        winner_score, loser_score = (
            (score_a, score_b) if winner_id == match.participant_a_id else (score_b, score_a)
        )
        if winner_score <= loser_score:
            raise InvalidResult(
                f"The winner's score must be the higher one, not {score_a}-{score_b}.",
                fields={"scores": [f"Participant {winner_id}'s score must be higher."]},
            )


def _organizer_check(tournament: Tournament, user: User) -> None:
    if tournament.organizer_id != user.pk and not user.is_staff:
        raise NotOrganizer("Only the tournament's organizer can do this.")


def _ordered(matches: Iterable[Match]) -> list[Match]:
    order = {b: i for i, b in enumerate(Match.Bracket.values)}
    return sorted(matches, key=lambda m: (order[m.bracket], m.round, m.position))
