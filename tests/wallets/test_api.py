"""Wallets through the HTTP API: balance, staff deposits, ledger lines, Idempotency-Key."""

from datetime import datetime, timedelta

import pytest
from django.conf import settings

from idempotency.models import IdempotencyRecord
from tournaments.services import tournament_create, tournament_join
from users.models import User
from wallets.models import Account, Entry, Posting
from wallets.services import deposit_create

pytestmark = pytest.mark.django_db


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def make_staff(make_user, username="staff"):
    staff = make_user(username)
    User.objects.filter(pk=staff.pk).update(is_staff=True)
    staff.refresh_from_db()
    return staff


def ledger_state():
    """Every account's balance and the number of ledger lines and postings."""
    return (
        list(Account.objects.order_by("pk").values_list("pk", "balance")),
        Entry.objects.count(),
        Posting.objects.count(),
    )


def deposit(client, user_id, amount, **headers):
    return client.post(
        f"/api/wallets/{user_id}/deposits", {"amount": amount}, format="json", **headers
    )


def balance_of(user):
    return Account.objects.get(user=user).balance


# --- GET /api/wallet --------------------------------------------------------------------------


def test_wallet_shows_balance_and_currency(make_user, client_for):
    user = make_user(funds=1234)

    response = client_for(user).get("/api/wallet")

    assert response.status_code == 200, response.content
    assert response.json() == {"balance": 1234, "currency": settings.CURRENCY}
    assert isinstance(response.json()["balance"], int)


def test_wallet_anonymous_is_401(anon):
    assert_error(anon.get("/api/wallet"), 401, "not_authenticated")


# --- deposits ---------------------------------------------------------------------------------


def test_staff_deposit_is_201_with_the_new_balance(make_user, client_for):
    staff = make_staff(make_user)
    player = make_user(funds=100)

    response = deposit(client_for(staff), player.pk, 250)

    assert response.status_code == 201, response.content
    assert response.json() == {"balance": 350}
    assert balance_of(player) == 350
    assert client_for(player).get("/api/wallet").json()["balance"] == 350


def test_staff_deposit_writes_one_deposit_line(make_user, client_for):
    staff = make_staff(make_user)
    player = make_user()

    deposit(client_for(staff), player.pk, 250)

    entries = client_for(player).get("/api/wallet/entries").json()["results"]
    assert len(entries) == 1
    assert entries[0]["amount"] == 250
    assert entries[0]["kind"] == "deposit"
    assert entries[0]["tournament"] is None
    assert entries[0]["balance_after"] == 250


def test_staff_deposit_to_a_user_without_a_wallet_creates_it(make_user, client_for):
    staff = make_staff(make_user)
    admin = User.objects.create_superuser("root", "root@example.com", "x-Strong-pass-91")

    response = deposit(client_for(staff), admin.pk, 10)

    assert response.status_code == 201, response.content
    assert response.json() == {"balance": 10}


def test_non_staff_deposit_is_403_and_moves_no_money(make_user, client_for):
    player = make_user(funds=100)
    before = ledger_state()

    response = deposit(client_for(player), player.pk, 1000)

    assert response.status_code == 403, response.content
    assert response.json()["code"]
    assert response.json()["detail"]
    assert ledger_state() == before


def test_anonymous_deposit_is_401_and_moves_no_money(make_user, anon):
    player = make_user(funds=100)
    before = ledger_state()

    assert_error(deposit(anon, player.pk, 1000), 401, "not_authenticated")
    assert ledger_state() == before


@pytest.mark.parametrize(
    "amount",
    [0, -1, -500, "ten", "", None, 12.5, True, [100], {"value": 100}, 10**13],
    ids=["zero", "minus-one", "negative", "word", "empty", "null", "fraction", "bool", "list",
         "object", "too-large"],
)  # fmt: skip
def test_deposit_invalid_amount_is_400_with_amount_field_and_moves_no_money(
    make_user, client_for, amount
):
    staff = make_staff(make_user)
    player = make_user(funds=100)
    before = ledger_state()

    response = deposit(client_for(staff), player.pk, amount)

    body = assert_error(response, 400, "invalid")
    assert body["fields"]["amount"]
    assert ledger_state() == before


@pytest.mark.parametrize("amount", [100.0, "100"], ids=["float", "numeric-string"])
def test_deposit_amount_as_float_or_numeric_string_is_400(make_user, client_for, amount):
    staff = make_staff(make_user)
    player = make_user(funds=100)
    before = ledger_state()

    response = deposit(client_for(staff), player.pk, amount)

    body = assert_error(response, 400, "invalid")
    assert body["fields"]["amount"]
    assert ledger_state() == before


def test_deposit_missing_amount_is_400(make_user, client_for):
    staff = make_staff(make_user)
    player = make_user()
    before = ledger_state()

    response = client_for(staff).post(f"/api/wallets/{player.pk}/deposits", {}, format="json")

    assert "amount" in assert_error(response, 400, "invalid")["fields"]
    assert ledger_state() == before


def test_deposit_to_unknown_user_is_404_and_moves_no_money(make_user, client_for):
    staff = make_staff(make_user)
    before = ledger_state()

    response = deposit(client_for(staff), 987654321, 100)

    assert_error(response, 404, "not_found")
    assert ledger_state() == before


# --- GET /api/wallet/entries ------------------------------------------------------------------


def test_entries_anonymous_is_401(anon):
    assert_error(anon.get("/api/wallet/entries"), 401, "not_authenticated")


def test_entries_have_the_contract_fields(make_user, client_for):
    player = make_user(funds=70)

    response = client_for(player).get("/api/wallet/entries")

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"results", "next"}
    assert body["next"] is None
    (entry,) = body["results"]
    assert set(entry) == {"id", "amount", "kind", "tournament", "balance_after", "created_at"}
    assert isinstance(entry["id"], int)
    assert entry["amount"] == 70
    assert entry["kind"] == "deposit"
    assert entry["tournament"] is None
    assert entry["balance_after"] == 70
    created = datetime.fromisoformat(entry["created_at"].replace("Z", "+00:00"))
    assert created.utcoffset() == timedelta(0)


def test_entries_are_newest_first_with_signed_amounts(make_user, client_for):
    organizer = make_user()
    player = make_user(funds=100)
    deposit_create(user_id=player.pk, amount=50)
    cup = tournament_create(
        organizer=organizer, name="Cup", format="swiss", max_participants=4, entry_fee=30
    )
    tournament_join(tournament_id=cup.pk, user=player)

    results = client_for(player).get("/api/wallet/entries").json()["results"]

    assert [(e["kind"], e["amount"], e["balance_after"], e["tournament"]) for e in results] == [
        ("entry_fee", -30, 120, cup.pk),
        ("deposit", 50, 150, None),
        ("deposit", 100, 100, None),
    ]
    ids = [e["id"] for e in results]
    assert ids == sorted(ids, reverse=True)


def test_entries_show_only_the_users_own_lines(make_user, client_for):
    alice = make_user(funds=10)
    make_user(funds=20)

    results = client_for(alice).get("/api/wallet/entries").json()["results"]

    assert [e["amount"] for e in results] == [10]


def test_entries_limit_is_respected_and_next_link_pages_through_all(make_user, client_for):
    player = make_user()
    for amount in range(1, 8):
        deposit_create(user_id=player.pk, amount=amount)
    client = client_for(player)

    seen = []
    url = "/api/wallet/entries?limit=3"
    pages = 0
    while url:
        page = client.get(url)
        assert page.status_code == 200, page.content
        body = page.json()
        assert len(body["results"]) <= 3
        seen += [e["amount"] for e in body["results"]]
        url = body["next"]
        pages += 1

    assert pages == 3
    assert seen == [7, 6, 5, 4, 3, 2, 1]


def test_entries_limit_is_capped_at_200(make_user, client_for):
    player = make_user()
    for _ in range(205):
        deposit_create(user_id=player.pk, amount=1)

    body = client_for(player).get("/api/wallet/entries?limit=1000").json()

    assert len(body["results"]) == 200
    assert body["next"] is not None
    rest = client_for(player).get(body["next"]).json()
    assert len(rest["results"]) == 5
    assert rest["next"] is None


def test_entries_limit_200_is_allowed(make_user, client_for):
    player = make_user()
    for _ in range(201):
        deposit_create(user_id=player.pk, amount=1)

    body = client_for(player).get("/api/wallet/entries?limit=200").json()

    assert len(body["results"]) == 200


# --- Idempotency-Key on deposits --------------------------------------------------------------


def test_deposit_repeat_with_same_key_replays_the_answer_and_moves_no_money(make_user, client_for):
    staff = make_staff(make_user)
    player = make_user(funds=100)
    client = client_for(staff)
    first = deposit(client, player.pk, 50, HTTP_IDEMPOTENCY_KEY="deposit-1")
    assert first.status_code == 201
    after_first = ledger_state()

    repeat = deposit(client, player.pk, 50, HTTP_IDEMPOTENCY_KEY="deposit-1")

    assert repeat.status_code == first.status_code
    assert repeat.content == first.content
    assert repeat.json() == {"balance": 150}
    assert ledger_state() == after_first
    assert balance_of(player) == 150


def test_deposit_repeat_after_another_deposit_still_replays_the_first_answer(make_user, client_for):
    staff = make_staff(make_user)
    player = make_user()
    client = client_for(staff)
    first = deposit(client, player.pk, 50, HTTP_IDEMPOTENCY_KEY="k")
    deposit(client, player.pk, 7)

    repeat = deposit(client, player.pk, 50, HTTP_IDEMPOTENCY_KEY="k")

    assert repeat.status_code == 201
    assert repeat.json() == first.json() == {"balance": 50}
    assert balance_of(player) == 57


def test_deposit_same_key_different_body_is_409_idempotency_key_reused(make_user, client_for):
    staff = make_staff(make_user)
    player = make_user()
    client = client_for(staff)
    deposit(client, player.pk, 50, HTTP_IDEMPOTENCY_KEY="k")
    before = ledger_state()

    response = deposit(client, player.pk, 60, HTTP_IDEMPOTENCY_KEY="k")

    assert_error(response, 409, "idempotency_key_reused")
    assert ledger_state() == before
    assert balance_of(player) == 50


def test_deposit_same_key_for_another_user_path_is_409_idempotency_key_reused(
    make_user, client_for
):
    staff = make_staff(make_user)
    alice, bob = make_user(), make_user()
    client = client_for(staff)
    deposit(client, alice.pk, 50, HTTP_IDEMPOTENCY_KEY="k")
    before = ledger_state()

    assert_error(
        deposit(client, bob.pk, 50, HTTP_IDEMPOTENCY_KEY="k"), 409, "idempotency_key_reused"
    )
    assert ledger_state() == before


def test_deposit_same_key_by_another_staff_user_is_a_new_deposit(make_user, client_for):
    staff_a, staff_b = make_staff(make_user, "staff_a"), make_staff(make_user, "staff_b")
    player = make_user()
    deposit(client_for(staff_a), player.pk, 50, HTTP_IDEMPOTENCY_KEY="shared")

    response = deposit(client_for(staff_b), player.pk, 50, HTTP_IDEMPOTENCY_KEY="shared")

    assert response.status_code == 201
    assert response.json() == {"balance": 100}


def test_deposit_key_of_255_characters_is_accepted(make_user, client_for):
    staff = make_staff(make_user)
    player = make_user()

    response = deposit(client_for(staff), player.pk, 5, HTTP_IDEMPOTENCY_KEY="k" * 255)

    assert response.status_code == 201, response.content
    assert balance_of(player) == 5


def test_deposit_key_over_255_characters_is_400_and_moves_no_money(make_user, client_for):
    staff = make_staff(make_user)
    player = make_user()
    before = ledger_state()

    response = deposit(client_for(staff), player.pk, 5, HTTP_IDEMPOTENCY_KEY="k" * 256)

    assert response.status_code == 400, response.content
    assert response.json()["code"]
    assert response.json()["detail"]
    assert ledger_state() == before
    assert not IdempotencyRecord.objects.exists()
