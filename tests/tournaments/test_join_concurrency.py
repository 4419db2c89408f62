"""Joins under real concurrency, on PostgreSQL, through the HTTP API."""

import pytest
from django.db.models import Sum

from tests.concurrency import run_concurrently
from tournaments.models import Participant, ParticipantMember, TeamMember
from tournaments.services import team_create, tournament_create
from wallets.models import Account, Entry

pytestmark = pytest.mark.django_db(transaction=True)

FEE = 100


def money_in_wallets_and_escrows() -> int:
    return Account.objects.exclude(kind=Account.Kind.EXTERNAL).aggregate(s=Sum("balance"))["s"] or 0


def assert_ledger_consistent():
    assert Account.objects.aggregate(s=Sum("balance"))["s"] == 0
    for account in Account.objects.all():
        entries = Entry.objects.filter(account=account).aggregate(s=Sum("amount"))["s"] or 0
        assert account.balance == entries, account


def test_200_concurrent_solo_joins_for_10_places(make_user, client_for):
    organizer = make_user("organizer")
    tournament = tournament_create(
        organizer=organizer,
        name="Crowded",
        format="single_elimination",
        max_participants=10,
        entry_fee=FEE,
    )
    players = [make_user(funds=FEE) for _ in range(200)]
    clients = [client_for(p) for p in players]
    money_before = money_in_wallets_and_escrows()

    responses = run_concurrently(
        [
            lambda c=c: c.post(f"/api/tournaments/{tournament.pk}/join", {}, format="json")
            for c in clients
        ]
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 10
    assert statuses.count(409) == 190
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"tournament_full"}
    tournament.refresh_from_db()
    assert tournament.participant_count == 10
    assert Participant.objects.filter(tournament=tournament).count() == 10
    assert Account.objects.filter(user__in=players, balance=0).count() == 10
    assert Account.objects.get(pk=tournament.escrow_id).balance == 10 * FEE
    assert money_in_wallets_and_escrows() == money_before
    assert list(tournament.events.values_list("version", flat=True)) == list(range(1, 11))
    assert_ledger_consistent()


def test_50_overlapping_teams_join_at_once(make_user, client_for):
    """Each team shares members with its neighbours: at most one team per player gets in."""
    organizer = make_user("organizer")
    tournament = tournament_create(
        organizer=organizer,
        name="Overlap",
        format="round_robin",
        team_size=4,
        max_participants=50,
        entry_fee=FEE,
    )
    pool = [make_user(funds=FEE * 3) for _ in range(100)]
    requests = []
    for i in range(50):
        captain = make_user(funds=FEE)
        team = team_create(user=captain, name=f"Team {i}")
        # Members i*2 .. i*2+2 from a ring of 100 players: team i shares one with team i+1.
        shared = [pool[(2 * i + k) % 100] for k in range(3)]
        TeamMember.objects.bulk_create(TeamMember(team=team, user=u) for u in shared)
        client = client_for(captain)
        requests.append(
            lambda c=client, t=team: c.post(
                f"/api/tournaments/{tournament.pk}/join", {"team": t.pk}, format="json"
            )
        )
    money_before = money_in_wallets_and_escrows()

    responses = run_concurrently(requests, threads=50)

    assert all(r.status_code in (201, 409) for r in responses), [
        (r.status_code, r.content[:200]) for r in responses if r.status_code not in (201, 409)
    ]
    refused = {r.json()["code"] for r in responses if r.status_code == 409}
    assert refused <= {"already_registered"}
    admitted = sum(r.status_code == 201 for r in responses)
    # Teams form a ring where neighbours share a player; whatever order they commit in, the
    # admitted ones leave no neighbour-free team out, so at least a third get in.
    assert admitted >= 17
    active = ParticipantMember.objects.filter(tournament=tournament, active=True)
    assert active.count() == admitted * 4
    assert active.values("user").distinct().count() == admitted * 4
    tournament.refresh_from_db()
    assert tournament.participant_count == admitted
    assert tournament.prize_pool == admitted * 4 * FEE
    assert money_in_wallets_and_escrows() == money_before
    assert_ledger_consistent()


def test_20_concurrent_requests_with_one_idempotency_key(make_user, client_for):
    organizer = make_user("organizer")
    tournament = tournament_create(
        organizer=organizer,
        name="Retry",
        format="swiss",
        max_participants=8,
        entry_fee=FEE,
    )
    player = make_user(funds=FEE * 5)
    clients = [client_for(player) for _ in range(20)]

    responses = run_concurrently(
        [
            lambda c=c: c.post(
                f"/api/tournaments/{tournament.pk}/join",
                {},
                format="json",
                HTTP_IDEMPOTENCY_KEY="join-once",
            )
            for c in clients
        ]
    )

    assert {r.status_code for r in responses} == {201}
    assert len({r.content for r in responses}) == 1
    assert Account.objects.get(user=player).balance == FEE * 4
    assert Entry.objects.filter(account__user=player, amount=-FEE).count() == 1
    assert Participant.objects.filter(tournament=tournament).count() == 1
