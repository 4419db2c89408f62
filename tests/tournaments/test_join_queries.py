"""A join runs the same number of queries whatever the size of the roster."""

import pytest

from tournaments.models import Participant, TeamMember
from tournaments.services import team_create, tournament_create, tournament_join
from wallets.models import Account, Entry

pytestmark = pytest.mark.django_db

FEE = 50

# tournament, the team's memberships with their team and users (one query), lock wallets
# and escrow, "anyone registered?", guarded capacity UPDATE, participant and roster (one
# statement), balances, posting and entries (one statement), event; plus the savepoint
# pair of the atomic block (nested in the test's transaction).
JOIN_QUERIES = 11
# The token lookup, and the idempotency record: insert, lock, store the answer, with the
# savepoints of its two atomic blocks.
HTTP_OVERHEAD = 8


def team_tournament(make_user, size):
    organizer = make_user()
    tournament = tournament_create(
        organizer=organizer, name=f"{size}s", format="round_robin", team_size=size,
        max_participants=8, entry_fee=FEE,
    )  # fmt: skip
    captain = make_user(funds=FEE)
    team = team_create(user=captain, name=f"Team of {size}")
    TeamMember.objects.bulk_create(
        TeamMember(team=team, user=make_user(funds=FEE)) for _ in range(size - 1)
    )
    return tournament, team, captain


@pytest.mark.parametrize("size", [2, 16])
def test_team_join_query_count_does_not_grow_with_roster(
    make_user, django_assert_num_queries, size
):
    tournament, team, captain = team_tournament(make_user, size)

    with django_assert_num_queries(JOIN_QUERIES):
        participant = tournament_join(tournament_id=tournament.pk, user=captain, team_id=team.pk)

    assert len(participant.loaded_roster) == size
    assert Entry.objects.filter(posting__reference=participant.ledger_reference).count() == size + 1


@pytest.mark.parametrize("size", [2, 16])
def test_join_over_http_query_count_does_not_grow_with_roster(
    make_user, client_for, django_assert_num_queries, size
):
    tournament, team, captain = team_tournament(make_user, size)
    client = client_for(captain)
    with django_assert_num_queries(JOIN_QUERIES + HTTP_OVERHEAD):
        response = client.post(
            f"/api/tournaments/{tournament.pk}/join", {"team": team.pk}, format="json",
            HTTP_IDEMPOTENCY_KEY=f"join-{size}",
        )  # fmt: skip
    assert response.status_code == 201, response.json()


def test_roster_one_unit_short_changes_nothing(make_user):
    tournament, team, captain = team_tournament(make_user, 5)
    short = TeamMember.objects.filter(team=team).exclude(user=captain).first().user
    Account.objects.filter(user=short).update(balance=FEE - 1)  # keep ledger in test scope
    balances = dict(Account.objects.values_list("pk", "balance"))
    entries = Entry.objects.count()

    from wallets.errors import InsufficientFunds

    with pytest.raises(InsufficientFunds) as refused:
        tournament_join(tournament_id=tournament.pk, user=captain, team_id=team.pk)

    assert short.username in refused.value.detail
    assert dict(Account.objects.values_list("pk", "balance")) == balances
    assert Entry.objects.count() == entries
    assert not Participant.objects.filter(tournament=tournament).exists()
    tournament.refresh_from_db()
    assert (tournament.participant_count, tournament.prize_pool, tournament.version) == (0, 0, 0)


def test_the_participant_and_roster_written_in_one_statement_are_what_the_orm_reads(make_user):
    tournament, team, captain = team_tournament(make_user, 3)

    participant = tournament_join(tournament_id=tournament.pk, user=captain, team_id=team.pk)

    stored = Participant.objects.get(pk=participant.pk)
    assert (stored.tournament_id, stored.team_id, stored.captain_id, stored.name) == (
        tournament.pk, team.pk, captain.pk, team.name,
    )  # fmt: skip
    assert (stored.status, stored.seed) == (Participant.Status.REGISTERED, None)
    assert stored.created_at == participant.created_at
    roster = {m.pk: (m.participant_id, m.tournament_id, m.user_id, m.active)
              for m in stored.roster.all()}  # fmt: skip
    assert roster == {
        m.pk: (participant.pk, tournament.pk, m.user.pk, True) for m in participant.loaded_roster
    }
    assert [m.user_id for m in participant.loaded_roster] == list(
        TeamMember.objects.filter(team=team).order_by("pk").values_list("user_id", flat=True)
    )
