"""Every statement the write path builds by hand, against the ORM version it replaces
(project/statements.py says why; bench/statements.py measures both)."""

import pytest
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from matches.errors import MatchNotFound
from matches.locks import match_lock
from matches.models import Match, MatchReport
from matches.progression import MATCH_STATE_FIELDS, open_match_exists
from matches.selectors import reports_prefetch
from project import statements
from project.statements import insert_with_children, rows_update
from tests.brackets import free_cup_started
from tournaments.errors import TournamentNotFound
from tournaments.locks import tournament_lock
from tournaments.models import Participant, ParticipantMember, TeamMember, Tournament
from tournaments.selectors import team_get
from tournaments.services import team_create, tournament_create
from wallets.models import Account, Entry, Posting
from wallets.services import accounts_lock, escrow_create, wallet_for_user

pytestmark = pytest.mark.django_db

# Columns that differ between two inserts of the same thing: ids and the time of writing.
GENERATED = {"id", "participant_id", "posting_id", "created_at", "joined_at"}


def written(model, **lookup) -> list[dict]:
    """The rows of ``model`` matching ``lookup``, in pk order, without generated columns."""
    rows = model.objects.filter(**lookup).order_by("pk").values()
    return [{k: v for k, v in row.items() if k not in GENERATED} for row in rows]


def fields_of(instance) -> dict:
    """Every column's value of a model instance, as loaded."""
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def orm_insert(parent, children, *, link):
    """What insert_with_children replaces: ``save()``, then ``bulk_create()``."""
    parent.save()
    for child in children:
        setattr(child, link, parent)
    type(children[0]).objects.bulk_create(children)


@pytest.mark.parametrize("insert", [orm_insert, insert_with_children], ids=["orm", "by hand"])
def test_a_participant_and_its_roster(make_user, insert):
    tournament = tournament_create(
        organizer=make_user(), name="Rows", format="round_robin", team_size=3, max_participants=8
    )
    captain, *others = roster = [make_user(username=f"{insert.__name__}-{i}") for i in range(3)]
    participant = Participant(tournament=tournament, captain=captain, name="Trio")
    members = [ParticipantMember(tournament=tournament, user=u) for u in roster]

    kwargs = {"key": "user"} if insert is insert_with_children else {}
    insert(participant, members, link="participant", **kwargs)

    # The instances are saved and carry the ids of their rows.
    assert Participant.objects.get(pk=participant.pk).name == "Trio"
    assert [(m.pk, m.participant_id, m.user_id) for m in members] == list(
        ParticipantMember.objects.filter(participant=participant)
        .order_by("pk")
        .values_list("pk", "participant_id", "user_id")
    )
    assert written(Participant, pk=participant.pk) == [
        {
            "tournament_id": tournament.pk,
            "team_id": None,
            "captain_id": captain.pk,
            "name": "Trio",
            "seed": None,
            "status": "registered",
            "checked_in": False,
            "waitlist_position": None,
        }
    ]
    assert written(ParticipantMember, participant=participant) == [
        {"tournament_id": tournament.pk, "user_id": u.pk, "active": True} for u in roster
    ]


@pytest.mark.parametrize("insert", [orm_insert, insert_with_children], ids=["orm", "by hand"])
def test_a_posting_and_its_entries(make_user, insert):
    accounts = [wallet_for_user(user_id=make_user(funds=10).pk).pk for _ in range(3)]
    posting = Posting(kind=Posting.Kind.ENTRY_FEE, reference="participant:7", tournament_id=7)
    entries = [
        Entry(account_id=pk, amount=-5 * (i + 1), balance_after=10 - 5 * (i + 1))
        for i, pk in enumerate(accounts)
    ]

    kwargs = {"key": "account"} if insert is insert_with_children else {}
    insert(posting, entries, link="posting", **kwargs)

    assert [(e.pk, e.posting_id, e.account_id) for e in entries] == list(
        Entry.objects.filter(posting=posting)
        .order_by("pk")
        .values_list("pk", "posting_id", "account_id")
    )
    assert written(Posting, pk=posting.pk) == [
        {"kind": "entry_fee", "reference": "participant:7", "tournament_id": 7}
    ]
    assert written(Entry, posting=posting) == [
        {"account_id": pk, "amount": -5 * (i + 1), "balance_after": 10 - 5 * (i + 1)}
        for i, pk in enumerate(accounts)
    ]


def test_a_parent_without_children_is_refused(make_user):
    with pytest.raises(ValueError, match="needs a child"):
        insert_with_children(
            Posting(kind=Posting.Kind.ENTRY_FEE), [], link="posting", key="account"
        )
    assert not Posting.objects.exists()


def test_the_tournament_lock_reads_what_the_orm_reads(make_user):
    tournament = tournament_create(
        organizer=make_user(), name="Locked", format="swiss", max_participants=8,
        entry_fee=5, prize_split=[70, 30], starts_at=timezone.now(),
    )  # fmt: skip
    with transaction.atomic():
        by_hand = tournament_lock(tournament.pk)
        orm = Tournament.objects.select_for_update().get(pk=tournament.pk)
    assert fields_of(by_hand) == fields_of(orm)
    assert not by_hand._state.adding and by_hand.pk == tournament.pk
    with pytest.raises(TournamentNotFound):
        tournament_lock(tournament.pk + 1000)


def test_the_accounts_lock_locks_what_the_orm_locks(make_user):
    users = [make_user(funds=10 * i) for i in range(1, 4)]
    escrow = escrow_create(label="pool")
    cases = [
        ([escrow.pk], [u.pk for u in users]),
        ([], [users[1].pk]),
        ([escrow.pk], []),
        ([], []),
        ([escrow.pk], [users[0].pk, 10**9]),  # a user without a wallet locks nothing
    ]
    with transaction.atomic():
        for ids, user_ids in cases:
            orm = Account.objects.select_for_update().filter(
                Q(pk__in=ids) | Q(user_id__in=user_ids)
            )
            by_hand = accounts_lock(ids=ids, user_ids=user_ids)
            assert list(by_hand) == sorted(by_hand)  # pk order, the lock order
            assert {pk: fields_of(a) for pk, a in by_hand.items()} == {
                a.pk: fields_of(a) for a in orm
            }


def test_a_teams_read_reads_what_the_orm_reads(make_user):
    captain = make_user(email="captain@example.com", phone="+4915112345678")
    team = team_create(user=captain, name="Readers")
    TeamMember.objects.bulk_create(TeamMember(team=team, user=make_user()) for _ in range(3))

    by_hand = team_get(team_id=team.pk).loaded_memberships
    orm = list(
        TeamMember.objects.filter(team_id=team.pk).select_related("team", "user").order_by("pk")
    )

    assert [fields_of(m) for m in by_hand] == [fields_of(m) for m in orm]
    assert [fields_of(m.user) for m in by_hand] == [fields_of(m.user) for m in orm]
    assert {id(m.team) for m in by_hand} == {id(by_hand[0].team)}  # one team instance
    assert fields_of(by_hand[0].team) == fields_of(orm[0].team)
    assert not any(m._state.adding or m.user._state.adding for m in by_hand)


def test_the_match_lock_reads_what_the_orm_reads(make_user):
    organizer = make_user()
    tournament = free_cup_started(organizer=organizer, format="single_elimination", players=6)
    first_round = Match.objects.filter(tournament=tournament, round=1, is_bye=False)
    reported = first_round.order_by("pk").first()
    for side in (reported.participant_a, reported.participant_b):
        MatchReport.objects.create(
            match=reported, participant=side, reported_by=side.captain,
            winner=reported.participant_a, scores=[2, 1], games=[[1, 0], [0, 1], [1, 0]],
        )  # fmt: skip
    # A match with one side known, the other not yet: a LEFT JOIN's null.
    waiting = next(
        m
        for m in Match.objects.filter(tournament=tournament, round=2).order_by("pk")
        if (m.participant_a_id is None) != (m.participant_b_id is None)
    )

    for match in (reported, waiting):
        with transaction.atomic():
            by_hand = match_lock(match.pk)
            orm = (
                Match.objects.select_for_update(of=("self",))
                .select_related("tournament", "participant_a", "participant_b")
                .prefetch_related(reports_prefetch())
                .get(pk=match.pk)
            )
        assert fields_of(by_hand) == fields_of(orm)
        assert fields_of(by_hand.tournament) == fields_of(orm.tournament)
        for side in ("participant_a", "participant_b"):
            mine, theirs = getattr(by_hand, side), getattr(orm, side)
            assert (mine and fields_of(mine)) == (theirs and fields_of(theirs))
        assert [fields_of(r) for r in by_hand.loaded_reports] == [
            fields_of(r) for r in orm.loaded_reports
        ]
        assert all(r.match is by_hand for r in by_hand.loaded_reports)
        assert not by_hand._state.adding and not by_hand.tournament._state.adding
    assert None in (by_hand.participant_a, by_hand.participant_b)
    assert [r.scores for r in match_lock(reported.pk).loaded_reports] == [[2, 1], [2, 1]]
    with pytest.raises(MatchNotFound):
        match_lock(Match.objects.order_by("pk").last().pk + 1000)


def _matches_changed(tournament, now) -> list[Match]:
    """The tournament's first-round matches, changed the ways a result changes them: a
    winner with scores and games, a forfeit without scores, a match made ready again."""
    matches = list(Match.objects.filter(tournament=tournament, round=1).order_by("pk"))
    for i, match in enumerate(matches):
        match.status = [Match.Status.COMPLETED, Match.Status.READY][i % 2]
        match.winner_id = match.participant_a_id if i % 2 == 0 else None
        match.scores = [[2, 1], None][i % 2]
        match.games = [[[1, 0], [0, 1], [1, 0]], None][i % 2]
        match.completed_at = now if i % 2 == 0 else None
        match.forfeit_id = match.participant_b_id if i % 4 == 2 else None
        match.participant_a_id, match.participant_b_id = (
            match.participant_b_id, match.participant_a_id,
        )  # fmt: skip
        match.next_slot = "b" if match.next_slot == "a" else "a"
    return matches


def _rows(tournament) -> list[dict]:
    return list(Match.objects.filter(tournament=tournament).order_by("pk").values())


@pytest.mark.parametrize("batch", [1000, 3], ids=["one statement", "batches of 3"])
def test_rows_update_writes_what_bulk_update_writes(make_user, monkeypatch, batch):
    monkeypatch.setattr(statements, "ROWS_UPDATE_BATCH", batch)
    tournament = free_cup_started(organizer=make_user(), format="single_elimination", players=16)

    class Rollback(Exception):
        pass

    written, now = {}, timezone.now()
    for way in ("orm", "by hand"):
        try:
            with transaction.atomic():
                matches = _matches_changed(tournament, now)
                if way == "orm":
                    Match.objects.bulk_update(matches, MATCH_STATE_FIELDS)
                else:
                    rows_update(matches, MATCH_STATE_FIELDS)
                written[way] = _rows(tournament)
                raise Rollback
        except Rollback:
            pass
    assert written["by hand"] == written["orm"]
    assert written["by hand"] != _rows(tournament)  # it did change them


def test_rows_update_writes_none_as_save_does(make_user):
    """A None in a JSON field is SQL NULL, as ``save()`` writes it (so ``isnull`` finds
    it), not the JSON ``null`` that ``bulk_update`` writes."""
    tournament = free_cup_started(organizer=make_user(), format="single_elimination", players=4)
    saved, updated = Match.objects.filter(tournament=tournament, round=1).order_by("pk")
    for match in (saved, updated):
        match.scores, match.games = [1, 0], [[1, 0]]
        match.save()
        match.scores = match.games = None
    saved.save()
    rows_update([updated], ["scores", "games"])
    null = Match.objects.filter(scores__isnull=True, games__isnull=True)
    assert set(null.filter(pk__in=[saved.pk, updated.pk]).values_list("pk", flat=True)) == {
        saved.pk,
        updated.pk,
    }


def test_rows_update_of_nothing_sends_nothing(django_assert_num_queries):
    with django_assert_num_queries(0):
        rows_update([], MATCH_STATE_FIELDS)


def test_the_open_match_check_answers_what_the_orm_answers(make_user):
    organizer = make_user()
    tournament = free_cup_started(organizer=organizer, format="round_robin", players=4)
    free_cup_started(organizer=organizer, format="round_robin", players=4)  # not counted
    matches = list(Match.objects.filter(tournament=tournament).order_by("pk"))
    Match.objects.filter(pk=matches[0].pk).update(status=Match.Status.COMPLETED)
    open_pks = [m.pk for m in matches[1:]]
    cases = [[], [matches[0].pk], open_pks[:2], open_pks, [matches[0].pk, *open_pks]]
    answers = []
    for excluding in cases:
        orm = (
            Match.objects.filter(tournament_id=tournament.pk)
            .exclude(status=Match.Status.COMPLETED)
            .exclude(pk__in=excluding)
            .exists()
        )
        by_hand = open_match_exists(tournament_id=tournament.pk, excluding=excluding)
        assert by_hand == orm, excluding
        answers.append(by_hand)
    assert answers == [True, True, True, False, False]
