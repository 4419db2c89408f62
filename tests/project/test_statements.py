"""Every statement the write path builds by hand, against the ORM version it replaces
(project/statements.py says why; bench/statements.py measures both)."""

import pytest
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from project.statements import insert_with_children
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
