"""The waitlist (issue 13, API.md "Match play"): a join into a full tournament may wait; a
leave promotes the first waiting entry that can pay, in its transaction; a start removes
whoever still waits. Nothing waiting is ever charged until promoted.
"""

import pytest
from django.db.models import Sum

from matches.services import tournament_start
from tests.concurrency import run_concurrently
from tournaments.models import Participant, ParticipantMember, TournamentEvent
from tournaments.services import (
    team_accept,
    team_create,
    team_invite,
    tournament_cancel,
    tournament_create,
)
from wallets.models import Account, Entry, Posting

FEE = 100


def wallet(user) -> int:
    return Account.objects.get(user=user).balance


def join(client, tournament, **body):
    return client.post(f"/api/tournaments/{tournament.pk}/join", body, format="json")


def leave(client, tournament):
    return client.post(f"/api/tournaments/{tournament.pk}/leave", {}, format="json")


def event_names(tournament) -> list[str]:
    return list(tournament.events.order_by("version").values_list("name", flat=True))


def positions(tournament) -> dict[str, int]:
    return dict(
        Participant.objects.filter(tournament=tournament, status="waitlisted").values_list(
            "name", "waitlist_position"
        )
    )


@pytest.fixture
def full_cup(make_user, client_for):
    """A paid cup of 2 places, both taken; returns (cup, the two players' clients)."""
    organizer = make_user("org")
    cup = tournament_create(
        organizer=organizer, name="Cup", format="single_elimination", max_participants=2,
        entry_fee=FEE,
    )  # fmt: skip
    clients = []
    for name in ("a", "b"):
        client = client_for(make_user(name, funds=FEE))
        assert join(client, cup).status_code == 201
        clients.append(client)
    return cup, clients


@pytest.mark.django_db
class TestJoin:
    def test_a_full_tournament_puts_a_join_that_asks_on_the_waitlist_uncharged(
        self, full_cup, make_user, client_for
    ):
        cup, _ = full_cup
        waiter = make_user("w", funds=FEE)
        response = join(client_for(waiter), cup, waitlist=True)
        assert response.status_code == 201, response.json()
        body = response.json()
        assert body["status"] == "waitlisted"
        assert body["waitlist_position"] == 1
        assert body["checked_in"] is False
        assert wallet(waiter) == FEE  # nothing charged
        assert not Posting.objects.filter(reference=f"participant:{body['id']}").exists()
        cup.refresh_from_db()
        assert (cup.participant_count, cup.waitlist_count, cup.prize_pool) == (2, 1, 2 * FEE)
        event = cup.events.order_by("version").last()
        assert event.name == "participant.waitlisted"
        assert event.data["participant"]["waitlist_position"] == 1
        assert event.data["tournament"]["waitlist_count"] == 1

        second = join(client_for(make_user("x")), cup, waitlist=True).json()
        assert second["waitlist_position"] == 2  # a waiter needs no funds to wait

    def test_without_the_flag_a_full_tournament_is_still_409_and_nothing_changes(
        self, full_cup, make_user, client_for
    ):
        cup, _ = full_cup
        waiter = make_user("w", funds=FEE)
        events_before = cup.events.count()
        response = join(client_for(waiter), cup)
        assert response.status_code == 409
        assert response.json()["code"] == "tournament_full"
        cup.refresh_from_db()
        assert cup.waitlist_count == 0 and cup.events.count() == events_before
        assert wallet(waiter) == FEE

    def test_a_tournament_with_room_registers_a_join_that_would_wait(self, make_user, client_for):
        cup = tournament_create(
            organizer=make_user("org"), name="Open", format="swiss", max_participants=4,
            entry_fee=FEE,
        )  # fmt: skip
        player = make_user("p", funds=FEE)
        body = join(client_for(player), cup, waitlist=True).json()
        assert body["status"] == "registered" and body["waitlist_position"] is None
        assert wallet(player) == 0

    def test_one_waiting_entry_per_player_and_no_waiting_after_registration(
        self, full_cup, make_user, client_for
    ):
        cup, clients = full_cup
        waiter = client_for(make_user("w"))
        assert join(waiter, cup, waitlist=True).status_code == 201
        again = join(waiter, cup, waitlist=True)
        assert again.status_code == 409 and again.json()["code"] == "already_registered"
        registered = join(clients[0], cup, waitlist=True)
        assert registered.status_code == 409
        assert registered.json()["code"] == "already_registered"
        cup.refresh_from_db()
        assert cup.waitlist_count == 1

    def test_a_bad_waitlist_flag_is_a_400(self, full_cup, make_user, client_for):
        cup, _ = full_cup
        response = join(client_for(make_user("w")), cup, waitlist="maybe")
        assert response.status_code == 400
        assert "waitlist" in response.json()["fields"]


@pytest.mark.django_db
class TestLeaveAndPromotion:
    def test_a_leave_promotes_the_first_waiting_entry_charging_it_then(
        self, full_cup, make_user, client_for
    ):
        cup, clients = full_cup
        first, second = make_user("w1", funds=FEE), make_user("w2", funds=FEE)
        join(client_for(first), cup, waitlist=True)
        join(client_for(second), cup, waitlist=True)

        response = leave(clients[0], cup)
        assert response.status_code == 200 and response.json()["status"] == "left"

        promoted = Participant.objects.get(tournament=cup, name="w1")
        assert (promoted.status, promoted.waitlist_position) == ("registered", None)
        assert wallet(first) == 0 and wallet(second) == FEE
        assert positions(cup) == {"w2": 1}  # renumbered: #1 is next
        cup.refresh_from_db()
        assert (cup.participant_count, cup.waitlist_count, cup.prize_pool) == (2, 1, 2 * FEE)
        assert Account.objects.get(pk=cup.escrow_id).balance == 2 * FEE
        # The promotion's escrow entry counts from the balance after the leave's refund.
        last = Entry.objects.filter(account_id=cup.escrow_id).order_by("pk").last()
        assert (last.amount, last.balance_after) == (FEE, 2 * FEE)
        assert event_names(cup)[-2:] == ["participant.left", "participant.promoted"]
        promoted_event = cup.events.order_by("version").last()
        assert promoted_event.data["participant"]["status"] == "registered"
        assert promoted_event.data["tournament"]["waitlist_count"] == 1

    def test_an_entry_that_cannot_pay_keeps_its_place_and_the_next_is_promoted(
        self, full_cup, make_user, client_for
    ):
        cup, clients = full_cup
        poor, rich = make_user("poor", funds=FEE - 1), make_user("rich", funds=FEE)
        join(client_for(poor), cup, waitlist=True)
        join(client_for(rich), cup, waitlist=True)

        leave(clients[0], cup)
        assert Participant.objects.get(tournament=cup, name="rich").status == "registered"
        assert positions(cup) == {"poor": 1}
        assert wallet(poor) == FEE - 1 and wallet(rich) == 0

    def test_nobody_can_pay_the_place_stays_free_and_the_waitlist_unchanged(
        self, full_cup, make_user, client_for
    ):
        cup, clients = full_cup
        join(client_for(make_user("poor")), cup, waitlist=True)
        leave(clients[0], cup)
        cup.refresh_from_db()
        assert (cup.participant_count, cup.waitlist_count) == (1, 1)
        assert positions(cup) == {"poor": 1}
        assert event_names(cup)[-1] == "participant.left"

    def test_a_team_is_promoted_only_when_every_member_can_pay(self, make_user, client_for):
        organizer = make_user("org")
        cup = tournament_create(
            organizer=organizer, name="Teams", format="single_elimination",
            max_participants=2, team_size=2, entry_fee=FEE,
        )  # fmt: skip

        def team_of(name, captain_funds, mate_funds):
            captain = make_user(f"{name}-c", funds=captain_funds)
            mate = make_user(f"{name}-m", funds=mate_funds)
            team = team_create(user=captain, name=name)
            team_invite(team_id=team.pk, by_user=captain, username=mate.username)
            team_accept(team_id=team.pk, user=mate)
            return team, client_for(captain), (captain, mate)

        entries = [team_of(n, FEE, FEE) for n in ("t1", "t2")]
        for team, client, _ in entries:
            assert join(client, cup, team=team.pk).status_code == 201
        short_team, short_client, short_players = team_of("short", FEE, FEE - 1)
        paying_team, paying_client, paying_players = team_of("paying", FEE, FEE)
        assert join(short_client, cup, team=short_team.pk, waitlist=True).status_code == 201
        assert join(paying_client, cup, team=paying_team.pk, waitlist=True).status_code == 201

        assert leave(entries[0][1], cup).status_code == 200
        assert Participant.objects.get(tournament=cup, name="paying").status == "registered"
        assert [wallet(u) for u in paying_players] == [0, 0]
        assert [wallet(u) for u in short_players] == [FEE, FEE - 1]
        assert positions(cup) == {"short": 1}

    def test_a_waiting_entry_can_leave_and_those_behind_move_up(
        self, full_cup, make_user, client_for
    ):
        cup, _ = full_cup
        waiters = [make_user(f"w{i}", funds=FEE) for i in range(1, 4)]
        for user in waiters:
            join(client_for(user), cup, waitlist=True)

        response = leave(client_for(waiters[0]), cup)
        assert response.status_code == 200
        body = response.json()
        assert (body["status"], body["waitlist_position"]) == ("left", None)
        assert positions(cup) == {"w2": 1, "w3": 2}
        assert wallet(waiters[0]) == FEE
        assert not Posting.objects.filter(kind="refund").exists()  # nothing to refund
        cup.refresh_from_db()
        assert (cup.participant_count, cup.waitlist_count) == (2, 2)
        assert event_names(cup)[-1] == "participant.left"
        # It may wait again, at the end of the line.
        again = join(client_for(waiters[0]), cup, waitlist=True).json()
        assert again["waitlist_position"] == 3


@pytest.mark.django_db
class TestStartAndCancel:
    def test_a_start_removes_the_waiting_entries_uncharged(self, full_cup, make_user, client_for):
        cup, _ = full_cup
        waiter = make_user("w", funds=FEE)
        join(client_for(waiter), cup, waitlist=True)

        tournament_start(tournament_id=cup.pk, user=cup.organizer)
        entry = Participant.objects.get(tournament=cup, name="w")
        assert (entry.status, entry.waitlist_position) == ("left", None)
        assert not ParticipantMember.objects.filter(participant=entry, active=True).exists()
        assert wallet(waiter) == FEE
        cup.refresh_from_db()
        assert (cup.status, cup.participant_count, cup.waitlist_count) == ("in_progress", 2, 0)
        removed = cup.events.get(name="participant.removed")
        assert removed.data["reason"] == "waitlist_closed"
        assert event_names(cup)[-2:] == ["participant.removed", "tournament.started"]

    def test_a_cancel_takes_the_waiting_entries_off_uncharged(
        self, full_cup, make_user, client_for
    ):
        cup, _ = full_cup
        waiter = make_user("w", funds=FEE)
        join(client_for(waiter), cup, waitlist=True)
        tournament_cancel(tournament_id=cup.pk, user=cup.organizer)
        assert Participant.objects.get(tournament=cup, name="w").status == "left"
        cup.refresh_from_db()
        assert cup.waitlist_count == 0
        assert wallet(waiter) == FEE


# --- Concurrency, on PostgreSQL --------------------------------------------------------------


def money_in_wallets_and_escrows() -> int:
    return Account.objects.exclude(kind=Account.Kind.EXTERNAL).aggregate(s=Sum("balance"))["s"]


def assert_ledger_consistent():
    assert Account.objects.aggregate(s=Sum("balance"))["s"] == 0
    for account in Account.objects.all():
        entries = Entry.objects.filter(account=account).aggregate(s=Sum("amount"))["s"] or 0
        assert account.balance == entries, account
        last = Entry.objects.filter(account=account).order_by("pk").last()
        assert last is None or last.balance_after == account.balance, account


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("joiner_waits", [False, True])
@pytest.mark.parametrize("round_", range(3))
def test_a_promotion_against_a_concurrent_join_gives_the_place_once(
    round_, joiner_waits, make_user, client_for
):
    """A leave (which promotes the first waiting entry) races a join for the place it
    frees. Whichever commits first, the place goes to the waiting entry, once: a join that
    runs first finds the tournament full, and one that runs after finds the place taken
    again. The money moves exactly once, and the joiner pays nothing."""
    organizer = make_user("org")
    cup = tournament_create(
        organizer=organizer, name="Race", format="single_elimination", max_participants=2,
        entry_fee=FEE,
    )  # fmt: skip
    leaver = client_for(make_user("leaver", funds=FEE))
    join(leaver, cup)
    join(client_for(make_user("stays", funds=FEE)), cup)
    waiter = make_user("waiter", funds=FEE)
    join(client_for(waiter), cup, waitlist=True)
    joiner = make_user("joiner", funds=FEE)
    joiner_client = client_for(joiner)
    money_before = money_in_wallets_and_escrows()
    body = {"waitlist": True} if joiner_waits else {}

    left, joined = run_concurrently(
        [lambda: leave(leaver, cup), lambda: join(joiner_client, cup, **body)]
    )

    assert left.status_code == 200
    if joiner_waits:
        assert joined.status_code == 201 and joined.json()["status"] == "waitlisted"
    else:
        assert joined.status_code == 409 and joined.json()["code"] == "tournament_full"
    registered = set(
        Participant.objects.filter(tournament=cup, status="registered").values_list(
            "name", flat=True
        )
    )
    assert registered == {"stays", "waiter"}
    waiter_entry = Participant.objects.get(tournament=cup, name="waiter")
    assert (
        Posting.objects.filter(kind="entry_fee", reference=waiter_entry.ledger_reference).count()
        == 1
    )
    assert wallet(waiter) == 0 and wallet(joiner) == FEE
    cup.refresh_from_db()
    assert cup.participant_count == 2
    assert cup.waitlist_count == (1 if joiner_waits else 0)
    if joiner_waits:
        assert positions(cup) == {"joiner": 1}
    assert Account.objects.get(pk=cup.escrow_id).balance == 2 * FEE == cup.prize_pool
    assert money_in_wallets_and_escrows() == money_before
    versions = list(
        TournamentEvent.objects.filter(tournament=cup).values_list("version", flat=True)
    )
    assert versions == list(range(1, len(versions) + 1))
    assert_ledger_consistent()


# --- The tournament's page ------------------------------------------------------------------


@pytest.mark.django_db
def test_the_page_offers_the_waitlist_when_full_and_shows_the_position(full_cup, make_user):
    from tests.web.clients import signed_in

    cup, _ = full_cup
    browser = signed_in(make_user("w", funds=FEE))
    page = browser.get(f"/tournaments/{cup.pk}").content.decode()
    assert "This tournament is full: every place is taken." in page
    assert ">Join the waitlist</button>" in page and ">Join</button>" not in page

    response = browser.post(f"/tournaments/{cup.pk}/join", {"waitlist": "1"})
    assert response.status_code == 303
    entry = Participant.objects.get(tournament=cup, name="w")
    assert (entry.status, entry.waitlist_position) == ("waitlisted", 1)
    page = browser.get(f"/tournaments/{cup.pk}").content.decode()
    assert "is #1 on the waitlist of Cup" in page  # the message after the redirect
    assert "<strong>#1</strong> on the waitlist" in page
    assert "waitlist #1" in page  # its row in the list
    assert ">Join the waitlist</button>" not in page and ">Leave</button>" in page

    assert browser.post(f"/tournaments/{cup.pk}/leave").status_code == 303
    assert Participant.objects.get(pk=entry.pk).status == "left"
    assert "left the waitlist of Cup" in browser.get(f"/tournaments/{cup.pk}").content.decode()
