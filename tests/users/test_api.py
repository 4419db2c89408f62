"""Accounts through the HTTP API: register, token (with brute-force lockout), me."""

import pytest
from rest_framework.authtoken.models import Token

from conftest import PASSWORD
from users.models import User
from wallets.models import Account

pytestmark = pytest.mark.django_db


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def register(client, username="alice", password=PASSWORD, **extra):
    return client.post(
        "/api/auth/register", {"username": username, "password": password, **extra}, format="json"
    )


def token(client, username, password):
    return client.post(
        "/api/auth/token", {"username": username, "password": password}, format="json"
    )


def account_counts():
    return User.objects.count(), Account.objects.count(), Token.objects.count()


# --- register ---------------------------------------------------------------------------------


def test_register_answers_201_with_id_username_and_a_working_token(anon):
    response = register(anon, "alice")

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"id", "username", "token"}
    user = User.objects.get(username="alice")
    assert body == {"id": user.pk, "username": "alice", "token": body["token"]}
    assert isinstance(body["id"], int)
    anon.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
    me = anon.get("/api/me")
    assert me.status_code == 200
    assert me.json()["id"] == user.pk


def test_register_creates_an_empty_wallet(anon):
    body = register(anon, "alice").json()
    anon.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")

    assert anon.get("/api/wallet").json()["balance"] == 0


def test_register_keeps_optional_email_and_phone(anon):
    body = register(anon, "alice", email="alice@example.com", phone="+1 555 0100").json()
    anon.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")

    me = anon.get("/api/me").json()
    assert me["email"] == "alice@example.com"
    assert me["phone"] == "+1 555 0100"


def test_register_duplicate_username_is_400_and_creates_nothing(anon):
    register(anon, "alice")
    before = account_counts()

    response = register(anon, "alice", password="another-Strong-pass-42")

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] and body["detail"]
    assert body["fields"]["username"]
    assert account_counts() == before


@pytest.mark.parametrize("weak", ["123", "password", "12345678901234", "alice"])
def test_register_weak_password_is_400_with_password_field_and_creates_nothing(anon, weak):
    before = account_counts()

    response = register(anon, "alice", password=weak)

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"]
    assert body["detail"]
    assert body["fields"]["password"]
    assert all(isinstance(m, str) for m in body["fields"]["password"])
    assert account_counts() == before
    assert not User.objects.filter(username="alice").exists()


def test_register_username_of_150_characters_is_accepted(anon):
    anon.raise_request_exception = False

    response = register(anon, "u" * 150)

    assert response.status_code == 201, response.content
    assert response.json()["username"] == "u" * 150


def test_register_username_of_110_characters_is_accepted(anon):
    response = register(anon, "u" * 110)

    assert response.status_code == 201, response.content


def test_register_username_over_150_characters_is_400_with_username_field(anon):
    before = account_counts()

    response = register(anon, "u" * 151)

    body = assert_error(response, 400, "invalid")
    assert body["fields"]["username"]
    assert account_counts() == before


@pytest.mark.parametrize(
    "body,field",
    [
        ({"password": PASSWORD}, "username"),
        ({"username": "alice"}, "password"),
        ({"username": "", "password": PASSWORD}, "username"),
        ({"username": "has space", "password": PASSWORD}, "username"),
        ({"username": "alice", "password": ""}, "password"),
        ({"username": "alice", "password": PASSWORD, "email": "not-an-email"}, "email"),
        ({"username": "alice", "password": PASSWORD, "phone": "call me"}, "phone"),
    ],
)
def test_register_invalid_input_is_400_naming_the_field(anon, body, field):
    before = account_counts()

    response = anon.post("/api/auth/register", body, format="json")

    body = assert_error(response, 400, "invalid")
    assert field in body["fields"]
    assert account_counts() == before


def test_register_email_longer_than_the_column_is_400_not_500(anon):
    anon.raise_request_exception = False
    email = "a" * 250 + "@example.com"  # 262 characters: a valid address, too long to store

    response = register(anon, "alice", email=email)

    body = assert_error(response, 400, "invalid")
    assert "email" in body["fields"]
    assert not User.objects.filter(username="alice").exists()


# --- token ------------------------------------------------------------------------------------


def test_token_with_right_password_is_200_with_the_users_token(anon, make_user):
    user = make_user("alice")

    response = token(anon, "alice", PASSWORD)

    assert response.status_code == 200, response.content
    assert response.json() == {"token": Token.objects.get(user=user).key}


def test_token_with_wrong_password_is_400_invalid_credentials(anon, make_user):
    make_user("alice")

    assert_error(token(anon, "alice", "wrong-password"), 400, "invalid_credentials")


def test_token_for_unknown_username_is_400_invalid_credentials(anon):
    assert_error(token(anon, "nobody", PASSWORD), 400, "invalid_credentials")
    assert not Token.objects.exists()


def test_token_five_failures_each_answer_invalid_credentials(anon, make_user):
    make_user("alice")

    for _ in range(5):
        assert_error(token(anon, "alice", "wrong-password"), 400, "invalid_credentials")


def test_token_after_five_failures_even_the_right_password_is_429_locked_out(anon, make_user):
    make_user("alice")
    for _ in range(5):
        token(anon, "alice", "wrong-password")

    assert_error(token(anon, "alice", PASSWORD), 429, "locked_out")
    assert_error(token(anon, "alice", "wrong-password"), 429, "locked_out")


def test_token_lockout_of_one_username_leaves_another_unaffected(anon, make_user):
    make_user("alice")
    bob = make_user("bob")
    for _ in range(5):
        token(anon, "alice", "wrong-password")
    assert_error(token(anon, "alice", PASSWORD), 429, "locked_out")

    response = token(anon, "bob", PASSWORD)

    assert response.status_code == 200, response.content
    assert response.json() == {"token": Token.objects.get(user=bob).key}


def test_token_four_failures_do_not_lock_out(anon, make_user):
    make_user("alice")
    for _ in range(4):
        token(anon, "alice", "wrong-password")

    assert token(anon, "alice", PASSWORD).status_code == 200


def test_token_missing_password_is_400_with_fields(anon):
    body = assert_error(
        anon.post("/api/auth/token", {"username": "alice"}, format="json"), 400, "invalid"
    )
    assert "password" in body["fields"]


# --- me ---------------------------------------------------------------------------------------


def test_me_returns_id_username_email_phone_is_staff(make_user, client_for):
    user = make_user("alice", email="alice@example.com", phone="+44 20 7946 0000")

    response = client_for(user).get("/api/me")

    assert response.status_code == 200, response.content
    assert response.json() == {
        "id": user.pk,
        "username": "alice",
        "email": "alice@example.com",
        "phone": "+44 20 7946 0000",
        "is_staff": False,
    }


def test_me_shows_is_staff_for_staff(make_user, client_for):
    staff = make_user("boss")
    User.objects.filter(pk=staff.pk).update(is_staff=True)

    assert client_for(staff).get("/api/me").json()["is_staff"] is True


def test_me_anonymous_is_401_with_code(anon):
    response = anon.get("/api/me")

    assert_error(response, 401, "not_authenticated")


def test_me_with_an_unknown_token_is_401_with_code(anon):
    anon.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)

    assert_error(anon.get("/api/me"), 401, "authentication_failed")
