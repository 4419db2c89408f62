"""Both sides report at the same instant, on PostgreSQL with real threads."""

import pytest

from matches.models import Match
from tests.concurrency import run_concurrently
from tournaments.models import Tournament, TournamentEvent
from tournaments.services import tournament_create, tournament_join
from wallets.models import Account, Posting

pytestmark = pytest.mark.django_db(transaction=True)

FEE = 100


@pytest.mark.parametrize("attempt", range(5))
def test_simultaneous_agreeing_reports_complete_advance_and_pay_once(
    make_user, client_for, attempt
):
    from matches.services import tournament_start

    organizer = make_user()
    tournament = tournament_create(
        organizer=organizer, name=f"Photo finish {attempt}", format="single_elimination",
        max_participants=2, entry_fee=FEE,
    )  # fmt: skip
    players = [make_user(funds=FEE) for _ in range(2)]
    for player in players:
        tournament_join(tournament_id=tournament.pk, user=player)
    tournament_start(tournament_id=tournament.pk, user=organizer)
    final = Match.objects.select_related("participant_a__captain", "participant_b__captain").get(
        tournament=tournament
    )
    winner = final.participant_a_id
    clients = [client_for(final.participant_a.captain), client_for(final.participant_b.captain)]

    responses = run_concurrently(
        [
            lambda c=c: c.post(f"/api/matches/{final.pk}/report", {"winner": winner}, format="json")
            for c in clients
        ]
    )

    assert sorted(r.status_code for r in responses) == [200, 200]
    assert sorted(r.json()["status"] for r in responses) == ["awaiting_confirmation", "completed"]
    tournament.refresh_from_db()
    assert tournament.status == Tournament.Status.COMPLETED
    names = list(
        TournamentEvent.objects.filter(tournament=tournament).values_list("name", flat=True)
    )
    assert names.count("match.completed") == 1
    assert names.count("tournament.completed") == 1
    assert Posting.objects.filter(kind="prize", tournament_id=tournament.pk).count() == 1
    assert Account.objects.get(user=final.participant_a.captain).balance == 2 * FEE
    assert Account.objects.get(pk=tournament.escrow_id).balance == 0


def test_a_burst_of_reports_across_one_bracket_keeps_events_consecutive(make_user, client_for):
    from matches.services import tournament_start

    organizer = make_user()
    tournament = tournament_create(
        organizer=organizer, name="Burst", format="single_elimination", max_participants=16
    )
    for _ in range(16):
        tournament_join(tournament_id=tournament.pk, user=make_user())
    tournament_start(tournament_id=tournament.pk, user=organizer)
    first_round = Match.objects.filter(tournament=tournament, round=1).select_related(
        "participant_a__captain", "participant_b__captain"
    )
    calls = []
    for match in first_round:
        for side in (match.participant_a, match.participant_b):
            client = client_for(side.captain)
            calls.append(
                lambda c=client, m=match: c.post(
                    f"/api/matches/{m.pk}/report", {"winner": m.participant_a_id}, format="json"
                )
            )

    responses = run_concurrently(calls)

    assert [r.status_code for r in responses] == [200] * 16
    versions = list(
        TournamentEvent.objects.filter(tournament=tournament).order_by("version")
        .values_list("version", flat=True)
    )  # fmt: skip
    assert versions == list(range(1, len(versions) + 1))
    tournament.refresh_from_db()
    assert tournament.version == versions[-1]
    assert Match.objects.filter(tournament=tournament, round=2, status="ready").count() == 4
