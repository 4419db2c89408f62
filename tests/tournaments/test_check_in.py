"""Check-in (issue 13, API.md "Match play"): entries check in from ``check_in_opens_minutes``
before ``starts_at`` until the start; the start removes and refunds, exactly once, those
who did not, promotes checked-in waiting entries into the freed places, and refuses with
nothing changed when fewer than 2 are left.
"""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from matches.models import Match
from matches.services import tournament_start
from tests.concurrency import run_concurrently
from tests.tournaments.test_refunds import participants_bulk_register
from tournaments.models import Participant, ParticipantMember, Tournament, TournamentEvent
from tournaments.services import team_accept, team_create, team_invite, tournament_create
from wallets.models import Account, Entry, Posting

FEE = 100


def wallet(user) -> int:
    return Account.objects.get(user=user).balance


def join(client, tournament, **body):
    return client.post(f"/api/tournaments/{tournament.pk}/join", body, format="json")


def check_in(client, tournament):
    return client.post(f"/api/tournaments/{tournament.pk}/check-in", {}, format="json")


def cup_with_check_in(organizer, *, opens_in_minutes=-1, max_participants=4, minutes=30, **kw):
    """A paid cup whose check-in opened ``-opens_in_minutes`` minutes ago (negative: open)."""
    starts_at = timezone.now() + timedelta(minutes=minutes + opens_in_minutes)
    return tournament_create(
        organizer=organizer, name="Cup", format="single_elimination",
        max_participants=max_participants, entry_fee=FEE, starts_at=starts_at,
        check_in_opens_minutes=minutes, **kw,
    )  # fmt: skip


def snapshot(tournament) -> tuple:
    """Everything a refused action must leave as it was."""
    tournament.refresh_from_db()
    return (
        tournament.status,
        tournament.participant_count,
        tournament.waitlist_count,
        tournament.prize_pool,
        tournament.version,
        list(Participant.objects.order_by("pk").values_list("status", "checked_in", "seed")),
        list(Account.objects.order_by("pk").values_list("balance", flat=True)),
        Posting.objects.count(),
        TournamentEvent.objects.count(),
        Match.objects.count(),
    )


@pytest.fixture
def organizer(make_user):
    return make_user("org")


@pytest.mark.django_db
class TestCheckIn:
    def test_a_player_checks_in_in_the_window_once(self, organizer, make_user, client_for):
        cup = cup_with_check_in(organizer)
        client = client_for(make_user("p", funds=FEE))
        join(client, cup)
        response = check_in(client, cup)
        assert response.status_code == 200, response.json()
        assert response.json()["checked_in"] is True
        assert response.json()["status"] == "registered"
        event = cup.events.order_by("version").last()
        assert event.name == "participant.checked_in"
        assert event.data["participant"]["checked_in"] is True

        before = snapshot(cup)
        again = check_in(client, cup)  # idempotent: the same answer, nothing new
        assert again.status_code == 200 and again.json() == response.json()
        assert snapshot(cup) == before

    def test_outside_the_window_it_is_409_check_in_closed_and_nothing_changes(
        self, organizer, make_user, client_for
    ):
        not_yet = cup_with_check_in(organizer, opens_in_minutes=5)
        no_check_in = tournament_create(
            organizer=organizer, name="No", format="swiss", max_participants=4
        )
        client = client_for(make_user("p", funds=2 * FEE))
        for cup in (not_yet, no_check_in):
            join(client, cup)
            before = snapshot(cup)
            response = check_in(client, cup)
            assert response.status_code == 409
            assert response.json()["code"] == "check_in_closed"
            assert snapshot(cup) == before

    def test_after_the_start_it_is_closed(self, organizer, make_user, client_for):
        cup = cup_with_check_in(organizer)
        clients = [client_for(make_user(n, funds=FEE)) for n in ("a", "b")]
        for client in clients:
            join(client, cup)
            check_in(client, cup)
        tournament_start(tournament_id=cup.pk, user=organizer)
        response = check_in(clients[0], cup)
        assert response.status_code == 409 and response.json()["code"] == "check_in_closed"

    def test_someone_not_in_the_tournament_gets_409_not_registered(
        self, organizer, make_user, client_for
    ):
        cup = cup_with_check_in(organizer)
        join(client_for(make_user("p", funds=FEE)), cup)
        stranger = client_for(make_user("stranger"))
        before = snapshot(cup)
        response = check_in(stranger, cup)
        assert response.status_code == 409 and response.json()["code"] == "not_registered"
        assert snapshot(cup) == before
        assert check_in(client_for(None), cup).status_code == 401

    def test_a_team_checks_in_by_its_captain_only(self, organizer, make_user, client_for):
        cup = cup_with_check_in(organizer, team_size=2)
        captain, mate = make_user("c", funds=FEE), make_user("m", funds=FEE)
        team = team_create(user=captain, name="T")
        team_invite(team_id=team.pk, by_user=captain, username="m")
        team_accept(team_id=team.pk, user=mate)
        join(client_for(captain), cup, team=team.pk)
        before = snapshot(cup)
        refused = check_in(client_for(mate), cup)
        assert refused.status_code == 403 and refused.json()["code"] == "not_captain"
        assert snapshot(cup) == before
        assert check_in(client_for(captain), cup).json()["checked_in"] is True


@pytest.mark.django_db
class TestStartWithCheckIn:
    def test_no_shows_are_removed_and_refunded_and_checked_in_waiters_promoted(
        self, organizer, make_user, client_for
    ):
        cup = cup_with_check_in(organizer, max_participants=3)
        users = {n: make_user(n, funds=FEE) for n in ("a", "b", "gone", "w1", "w2", "w3")}
        clients = {n: client_for(u) for n, u in users.items()}
        for n in ("a", "b", "gone"):
            join(clients[n], cup)
        for n in ("w1", "w2", "w3"):
            assert join(clients[n], cup, waitlist=True).json()["status"] == "waitlisted"
        for n in ("a", "b", "w2", "w3"):
            assert check_in(clients[n], cup).status_code == 200
        Account.objects.filter(user=users["w2"]).update(balance=0)  # cannot pay any more
        Entry.objects.filter(account__user=users["w2"]).delete()

        tournament_start(tournament_id=cup.pk, user=organizer)

        status = dict(Participant.objects.filter(tournament=cup).values_list("name", "status"))
        assert status == {
            "a": "registered", "b": "registered", "gone": "left",
            "w1": "left",  # waited without checking in
            "w2": "left",  # checked in, could not pay
            "w3": "registered",  # checked in, paid: promoted into the freed place
        }  # fmt: skip
        assert wallet(users["gone"]) == FEE  # refunded
        assert wallet(users["w3"]) == 0 and wallet(users["w1"]) == FEE
        cup.refresh_from_db()
        assert (cup.status, cup.participant_count, cup.waitlist_count) == ("in_progress", 3, 0)
        assert cup.prize_pool == 3 * FEE == Account.objects.get(pk=cup.escrow_id).balance
        removed = dict(
            cup.events.filter(name="participant.removed").values_list(
                "data__participant__name", "data__reason"
            )
        )
        assert removed == {"gone": "no_check_in", "w1": "waitlist_closed", "w2": "waitlist_closed"}
        names = list(cup.events.order_by("version").values_list("name", flat=True))
        assert names[-5:] == [
            "participant.removed", "participant.promoted", "participant.removed",
            "participant.removed", "tournament.started",
        ]  # fmt: skip
        seeded = set(Participant.objects.filter(seed__isnull=False).values_list("name", flat=True))
        assert seeded == {"a", "b", "w3"}
        refund = Posting.objects.get(kind="refund")
        assert refund.reference == Participant.objects.get(name="gone").ledger_reference

    def test_fewer_than_two_left_is_409_and_nothing_changes(self, organizer, make_user, client_for):
        cup = cup_with_check_in(organizer, max_participants=2)
        clients = [client_for(make_user(n, funds=FEE)) for n in ("a", "b", "w")]
        join(clients[0], cup)
        join(clients[1], cup)
        join(clients[2], cup, waitlist=True)
        check_in(clients[0], cup)
        before = snapshot(cup)

        response = clients[0].post(f"/api/tournaments/{cup.pk}/start", {}, format="json")
        # The organizer starts; a player may not.
        assert response.status_code == 403
        response = client_for(organizer).post(f"/api/tournaments/{cup.pk}/start", {}, format="json")
        assert response.status_code == 409
        assert response.json()["code"] == "not_enough_participants"
        assert snapshot(cup) == before

    def test_without_check_in_nobody_is_removed_for_it(self, organizer, make_user, client_for):
        cup = tournament_create(
            organizer=organizer, name="Plain", format="swiss", max_participants=2, entry_fee=FEE
        )
        for n in ("a", "b"):
            join(client_for(make_user(n, funds=FEE)), cup)
        tournament_start(tournament_id=cup.pk, user=organizer)
        assert not Posting.objects.filter(kind="refund").exists()
        assert Participant.objects.filter(status="registered").count() == 2


def cup_of_no_shows(organizer, size: int) -> Tournament:
    """A cup of ``size`` paid, registered solo players, the first half checked in."""
    cup = cup_with_check_in(organizer, max_participants=2)
    participants_bulk_register(cup, size)
    first_half = Participant.objects.filter(tournament=cup).order_by("pk")[: size // 2]
    Participant.objects.filter(pk__in=list(first_half.values_list("pk", flat=True))).update(
        checked_in=True
    )
    return cup


def start_counting_queries(cup) -> int:
    with CaptureQueriesContext(connection) as queries:
        tournament_start(tournament_id=cup.pk, user=cup.organizer)
    return len(queries)


@pytest.mark.django_db
def test_a_start_removes_no_shows_in_a_constant_number_of_queries(organizer):
    """The removals and refunds of a start are set-based: the same statements for 8
    no-shows as for 64 (the bracket's own statements do not depend on its size either)."""
    small, large = cup_of_no_shows(organizer, 16), cup_of_no_shows(organizer, 128)
    assert start_counting_queries(small) == start_counting_queries(large)


@pytest.mark.django_db
def test_a_start_of_1024_refunds_every_no_show_exactly_once(organizer):
    cup = cup_of_no_shows(organizer, 1024)
    tournament_start(tournament_id=cup.pk, user=organizer)
    cup.refresh_from_db()
    assert (cup.status, cup.participant_count) == ("in_progress", 512)
    no_shows = Participant.objects.filter(tournament=cup, checked_in=False)
    assert set(no_shows.values_list("status", flat=True)) == {"left"}
    refunds = Posting.objects.filter(kind="refund", tournament_id=cup.pk)
    assert refunds.count() == 512
    assert set(refunds.values_list("reference", flat=True)) == {
        p.ledger_reference for p in no_shows
    }
    assert Account.objects.get(pk=cup.escrow_id).balance == FEE * 512 == cup.prize_pool
    assert cup.events.filter(name="participant.removed").count() == 512
    assert (
        Account.objects.filter(user__participantmember__participant__in=no_shows).aggregate(
            s=Sum("balance")
        )["s"]
        == 512 * 2_000
    )  # every no-show has its deposit back whole


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(3))
def test_no_show_refunds_happen_once_under_a_concurrent_start_and_leave(
    round_, organizer, make_user, client_for
):
    """A no-show leaves while the organizer starts: it is refunded exactly once, by
    whichever commits first (the leave, or the start's removal; the other then finds it
    gone or registration closed)."""
    cup = cup_with_check_in(organizer, max_participants=4)
    clients = {n: client_for(make_user(n, funds=FEE)) for n in ("a", "b", "c", "gone")}
    for client in clients.values():
        join(client, cup)
    for n in ("a", "b", "c"):
        check_in(clients[n], cup)
    organizer_client = client_for(organizer)
    money_before = Account.objects.exclude(kind="external").aggregate(s=Sum("balance"))["s"]

    started, left = run_concurrently(
        [
            lambda: organizer_client.post(f"/api/tournaments/{cup.pk}/start", {}, format="json"),
            lambda: clients["gone"].post(f"/api/tournaments/{cup.pk}/leave", {}, format="json"),
        ]
    )

    assert started.status_code == 200, started.json()
    assert left.status_code in (200, 409)
    if left.status_code == 409:
        assert left.json()["code"] == "registration_closed"
    gone = Participant.objects.get(tournament=cup, name="gone")
    assert gone.status == "left"
    assert Posting.objects.filter(kind="refund", reference=gone.ledger_reference).count() == 1
    cup.refresh_from_db()
    assert (cup.status, cup.participant_count) == ("in_progress", 3)
    assert cup.prize_pool == 3 * FEE == Account.objects.get(pk=cup.escrow_id).balance
    assert Account.objects.exclude(kind="external").aggregate(s=Sum("balance"))["s"] == money_before
    assert Account.objects.aggregate(s=Sum("balance"))["s"] == 0
    for account in Account.objects.all():
        entries = Entry.objects.filter(account=account).aggregate(s=Sum("amount"))["s"] or 0
        assert account.balance == entries
    assert ParticipantMember.objects.filter(participant=gone, active=True).count() == 0


# --- The tournament's page ------------------------------------------------------------------


@pytest.mark.django_db
def test_the_page_has_a_check_in_button_in_the_window_only(organizer, make_user):
    from tests.web.clients import signed_in

    player = make_user("p", funds=2 * FEE)
    open_cup = cup_with_check_in(organizer)
    later_cup = cup_with_check_in(organizer, opens_in_minutes=60)
    for tournament in (open_cup, later_cup):
        tournament_join_page = signed_in(player).post(f"/tournaments/{tournament.pk}/join")
        assert tournament_join_page.status_code == 303
    browser = signed_in(player)

    later = browser.get(f"/tournaments/{later_cup.pk}").content.decode()
    assert ">Check in</button>" not in later and "Check-in opens at" in later
    refused = browser.post(f"/tournaments/{later_cup.pk}/check-in")
    assert refused.status_code == 409 and "Check-in is not open" in refused.content.decode()

    assert ">Check in</button>" in browser.get(f"/tournaments/{open_cup.pk}").content.decode()
    assert browser.post(f"/tournaments/{open_cup.pk}/check-in").status_code == 303
    assert Participant.objects.get(tournament=open_cup).checked_in is True
    page = browser.get(f"/tournaments/{open_cup.pk}").content.decode()
    assert ">Check in</button>" not in page and "Checked in." in page


@pytest.mark.django_db
def test_the_live_page_shows_who_checked_in_before_the_start(
    organizer, make_user, client_for, anon
):
    tournament = cup_with_check_in(organizer, max_participants=2)
    here, away = client_for(make_user("here", funds=FEE)), client_for(make_user("away", funds=FEE))
    join(here, tournament)
    join(away, tournament)
    join(client_for(make_user("waiting")), tournament, waitlist=True)
    check_in(here, tournament)

    page = anon.get(f"/tournaments/{tournament.pk}/live").content.decode()
    assert 'here <span class="tag" data-check-in="yes">checked in</span>' in page
    assert 'away <span class="tag" data-check-in="no">not checked in</span>' in page
    assert "2 of 2 registered" in page  # the waiting entry is not counted

    check_in(away, tournament)
    tournament_start(tournament_id=tournament.pk, user=organizer)
    assert "data-check-in" not in anon.get(f"/tournaments/{tournament.pk}/live").content.decode()
