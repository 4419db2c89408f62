"""Sign up, sign in, sign out and the wallet page (web/views/accounts.py), and the site
header's account links; CSRF on every form; the pages behind a TLS proxy with DEBUG off."""

import re

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client
from rest_framework.test import APIClient

from conftest import PASSWORD
from tournaments.services import tournament_create, tournament_join, tournament_leave
from users.models import User
from wallets.models import Account, Entry
from wallets.services import deposit_create
from web.views.accounts import LEDGER_LINES_PER_PAGE

pytestmark = pytest.mark.django_db

STRONG = "plum-Orbit-quartz-41"


@pytest.fixture
def client():
    return Client()


@pytest.fixture
def csrf_client():
    """A browser as Django's CSRF check sees it: every POST needs the form's token."""
    return Client(enforce_csrf_checks=True)


def signed_in_user_id(client) -> int | None:
    value = client.session.get(SESSION_KEY)
    return int(value) if value is not None else None


def csrf_token_of(response) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.text)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


def form_error(response) -> str:
    """The text of the page's error notice and field errors."""
    notices = re.findall(r'role="alert"[^>]*>(.*?)</div>', response.text, re.S)
    fields = re.findall(r'<ul class="errorlist"[^>]*>(.*?)</ul>', response.text, re.S)
    return re.sub(r"<[^>]+>", " ", " ".join(notices + fields))


def signup(client, username="newcomer", password=STRONG, again=None, **extra):
    data = {"username": username, "password": password, "password_again": again or password}
    return client.post("/signup", data | extra)


# --- Sign up --------------------------------------------------------------------------------


def test_the_signup_form_has_labelled_fields_and_a_csrf_token(client):
    response = client.get("/signup")

    assert response.status_code == 200
    for field, label in [
        ("username", "Username"),
        ("password", "Password"),
        ("password_again", "Password again"),
        ("email", "Email (optional)"),
        ("phone", "Phone (optional)"),
    ]:
        assert f'<label for="id_{field}">{label}</label>' in response.text
        assert f'name="{field}"' in response.text
    assert 'type="password" name="password"' in response.text
    assert csrf_token_of(response)


def test_signup_makes_a_player_with_an_empty_wallet_and_signs_them_in(client):
    response = signup(client, email="new@example.com", phone="+44 20 7946 0000")

    assert response.status_code == 303
    assert response["Location"] == "/"
    user = User.objects.get(username="newcomer")
    assert user.check_password(STRONG)
    assert (user.email, user.phone) == ("new@example.com", "+44 20 7946 0000")
    assert Account.objects.get(user=user).balance == 0
    assert signed_in_user_id(client) == user.pk
    assert "Signed in as <strong>newcomer</strong>" in client.get("/").text


def test_signup_goes_on_to_a_safe_next(client):
    response = signup(client, next="/tournaments/5")
    assert response["Location"] == "/tournaments/5"


@pytest.mark.parametrize(
    "weak, message",
    [
        ("short1", "This password is too short."),
        ("password123", "This password is too common."),
        ("84736251904", "This password is entirely numeric."),
    ],
)
def test_a_weak_password_is_refused_with_the_validators_words_and_nothing_made(
    client, weak, message
):
    response = signup(client, password=weak, email="keep@example.com")

    assert response.status_code == 400
    assert message in form_error(response)
    assert not User.objects.filter(username="newcomer").exists()
    assert signed_in_user_id(client) is None
    # What was typed is kept, but the passwords.
    assert 'value="newcomer"' in response.text and 'value="keep@example.com"' in response.text
    assert weak not in response.text


def test_a_taken_username_is_refused_on_its_field_and_nothing_changes(client, make_user):
    make_user("taken")
    users = User.objects.count()

    response = signup(client, username="taken")

    assert response.status_code == 400
    assert "A user with that username already exists." in form_error(response)
    assert User.objects.count() == users
    assert signed_in_user_id(client) is None


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"again": "other-Orbit-quartz-41"}, "The two passwords differ."),
        ({"username": "two words"}, "Use only letters, digits and @ . + - _ in a username."),
        ({"username": "x" * 151}, "Ensure this value has at most 150 characters"),
        ({"username": ""}, "Choose a username."),
        ({"email": "not-an-email"}, "Enter a valid email address."),
        ({"phone": "call me"}, "Use digits, spaces, ( ) and - only"),
    ],
)
def test_bad_input_is_named_on_its_field_and_makes_nobody(client, fields, message):
    users = User.objects.count()

    response = signup(client, **fields)

    assert response.status_code == 400
    assert message in form_error(response)
    assert User.objects.count() == users


# --- Sign in --------------------------------------------------------------------------------


def test_the_login_form_has_the_fields_username_and_password(client):
    response = client.get("/login?next=/wallet")

    assert '<label for="id_username">Username</label>' in response.text
    assert '<input type="text" name="username"' in response.text
    assert '<label for="id_password">Password</label>' in response.text
    assert '<input type="password" name="password"' in response.text
    assert '<input type="hidden" name="next" value="/wallet">' in response.text


def test_login_signs_in_and_goes_back_to_next(client, make_user):
    user = make_user("alice")

    response = client.post(
        "/login", {"username": "alice", "password": PASSWORD, "next": "/wallet?page=2"}
    )

    assert response.status_code == 303
    assert response["Location"] == "/wallet?page=2"
    assert signed_in_user_id(client) == user.pk


@pytest.mark.parametrize(
    "next_url",
    [
        "https://evil.example/",
        "//evil.example/path",
        "http://evil.example",
        "javascript:alert(1)",
        "https:///evil.example",
        "/\\evil.example",
    ],
)
def test_an_unsafe_next_is_ignored(client, make_user, next_url):
    make_user("alice")

    response = client.post("/login", {"username": "alice", "password": PASSWORD, "next": next_url})

    assert response.status_code == 303
    assert response["Location"] == "/"
    assert next_url not in client.get(f"/login?next={next_url}").text


def test_a_wrong_password_is_refused_in_words_and_signs_nobody_in(client, make_user):
    make_user("alice")

    response = client.post("/login", {"username": "alice", "password": "wrong"})

    assert response.status_code == 400
    assert "The username or password is wrong." in form_error(response)
    assert signed_in_user_id(client) is None
    assert 'value="alice"' in response.text  # the username is kept, the password is not
    assert 'value="wrong"' not in response.text


def test_after_five_failures_even_the_right_password_is_locked_out(client, make_user):
    make_user("alice")
    for _ in range(5):
        response = client.post("/login", {"username": "alice", "password": "wrong"})
        assert response.status_code == 400
        assert "The username or password is wrong." in form_error(response)

    response = client.post("/login", {"username": "alice", "password": PASSWORD})

    assert response.status_code == 429
    assert response["Content-Type"].startswith("text/html")
    assert "Too many failed sign-ins for this username. Wait 15 minutes" in form_error(response)
    assert signed_in_user_id(client) is None
    # Another username is not affected.
    make_user("bob")
    assert client.post("/login", {"username": "bob", "password": PASSWORD}).status_code == 303


def test_failures_count_the_same_through_the_page_and_the_token_endpoint(client, make_user):
    """django-axes counts per username, whichever login the attempt came through."""
    make_user("alice")
    api = APIClient()
    for _ in range(3):
        failed = api.post("/api/auth/token", {"username": "alice", "password": "x"}, format="json")
        assert failed.status_code == 400
    for _ in range(2):
        assert client.post("/login", {"username": "alice", "password": "x"}).status_code == 400

    assert client.post("/login", {"username": "alice", "password": PASSWORD}).status_code == 429
    locked = api.post("/api/auth/token", {"username": "alice", "password": PASSWORD}, format="json")
    assert (locked.status_code, locked.json()["code"]) == (429, "locked_out")


def test_four_failures_then_the_right_password_signs_in_and_resets_the_count(client, make_user):
    user = make_user("alice")
    for _ in range(4):
        client.post("/login", {"username": "alice", "password": "wrong"})
    assert client.post("/login", {"username": "alice", "password": PASSWORD}).status_code == 303
    assert signed_in_user_id(client) == user.pk

    # The success reset the count: four more failures still leave the username open.
    other = Client()
    for _ in range(4):
        assert other.post("/login", {"username": "alice", "password": "no"}).status_code == 400
    assert other.post("/login", {"username": "alice", "password": PASSWORD}).status_code == 303


def test_an_empty_form_names_the_missing_fields(client):
    response = client.post("/login", {})
    assert response.status_code == 400
    assert "Type your username." in form_error(response)
    assert "Type your password." in form_error(response)


def test_signed_in_visitors_of_login_and_signup_go_on(client, make_user):
    client.force_login(make_user())
    assert client.get("/login?next=/wallet")["Location"] == "/wallet"
    assert client.get("/signup")["Location"] == "/"


# --- Sign out -------------------------------------------------------------------------------


def test_logout_is_post_only_and_signs_out(client, make_user):
    client.force_login(make_user())

    refused = client.get("/logout")
    assert refused.status_code == 405
    assert refused["Allow"] == "POST"
    assert signed_in_user_id(client) is not None

    response = client.post("/logout")
    assert response.status_code == 303 and response["Location"] == "/"
    assert signed_in_user_id(client) is None


def test_the_header_says_who_is_signed_in(client, make_user):
    anonymous = client.get("/").text
    assert 'href="/login?next=/"' in anonymous and 'href="/signup"' in anonymous
    assert "Sign out" not in anonymous and 'href="/wallet"' not in anonymous

    client.force_login(make_user("alice"))
    page = client.get("/").text
    assert "Signed in as <strong>alice</strong>" in page
    assert re.search(
        r'<form method="post" action="/logout"><input type="hidden" name="csrfmiddlewaretoken"'
        r' value="[^"]+">.*?Sign out</button></form>',
        page,
    )
    for path, label in [("/me/matches", "My matches"), ("/wallet", "Wallet"), ("/teams", "Teams")]:
        assert f'<a href="{path}">{label}</a>' in page
    assert 'href="/login' not in page


# --- CSRF -----------------------------------------------------------------------------------


def test_signup_without_the_csrf_token_is_refused_and_makes_nobody(csrf_client):
    response = signup(csrf_client)
    assert response.status_code == 403
    assert not User.objects.filter(username="newcomer").exists()

    token = csrf_token_of(csrf_client.get("/signup"))
    assert signup(csrf_client, csrfmiddlewaretoken=token).status_code == 303
    assert User.objects.filter(username="newcomer").exists()


def test_login_without_the_csrf_token_is_refused(csrf_client, make_user):
    make_user("alice")
    response = csrf_client.post("/login", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 403
    assert signed_in_user_id(csrf_client) is None


def test_logout_without_the_csrf_token_is_refused_and_keeps_the_session(csrf_client, make_user):
    user = make_user()
    csrf_client.force_login(user)

    assert csrf_client.post("/logout").status_code == 403
    assert signed_in_user_id(csrf_client) == user.pk

    token = csrf_token_of(csrf_client.get("/"))  # the header's Sign out form
    assert csrf_client.post("/logout", {"csrfmiddlewaretoken": token}).status_code == 303
    assert signed_in_user_id(csrf_client) is None


# --- Wallet ---------------------------------------------------------------------------------


def ledger(response) -> list[str]:
    """The ledger's rows as text, newest first."""
    assert response.status_code == 200, response.content[:300]
    rows = re.findall(r'<tr data-entry="\d+">(.*?)</tr>', response.text, re.S)
    without_dates = [
        re.sub(r'<td data-label="When"[^>]*>.*?</td>', "", row, flags=re.S) for row in rows
    ]
    return [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in without_dates]


def test_the_wallet_asks_for_a_sign_in_first(client):
    response = client.get("/wallet")
    assert response.status_code == 302
    assert response["Location"] == "/login?next=/wallet"


def test_the_wallet_shows_the_balance_and_ledger_in_the_currency(client, make_user, settings):
    settings.CURRENCY = "EUR"
    organizer = make_user("organizer")
    player = make_user("alice", funds=10_000)
    cup = tournament_create(
        organizer=organizer, name="Friday Cup", format="swiss", max_participants=8, entry_fee=1250
    )
    tournament_join(tournament_id=cup.pk, user=player)
    tournament_leave(tournament_id=cup.pk, user=player)
    tournament_join(tournament_id=cup.pk, user=make_user(funds=5000))  # not this wallet
    client.force_login(player)

    response = client.get("/wallet")

    assert re.search(r'id="balance">100\.00 EUR<', response.text)
    assert ledger(response) == [
        "Refund: Friday Cup +12.50 EUR 100.00 EUR",
        "Entry fee: Friday Cup -12.50 EUR 87.50 EUR",
        "Deposit +100.00 EUR 100.00 EUR",
    ]
    assert f'href="/tournaments/{cup.pk}">Friday Cup</a>' in response.text


def test_an_empty_wallet_says_so(client, make_user):
    client.force_login(make_user())
    response = client.get("/wallet")
    assert re.search(r'id="balance">0\.00 USD<', response.text)
    assert ledger(response) == []
    assert "No money has moved yet." in response.text


def test_the_ledger_is_paged_newest_first(client, make_user):
    player = make_user(funds=1)
    for amount in range(2, LEDGER_LINES_PER_PAGE + 6):
        deposit_create(user_id=player.pk, amount=amount)
    client.force_login(player)
    lines = list(Entry.objects.filter(account__user=player).order_by("-id"))

    first = client.get("/wallet")
    assert [int(pk) for pk in re.findall(r'data-entry="(\d+)"', first.text)] == [
        line.pk for line in lines[:LEDGER_LINES_PER_PAGE]
    ]
    assert "Page 1 of 2" in first.text and 'href="?page=2" rel="next"' in first.text

    second = client.get("/wallet", {"page": 2})
    assert [int(pk) for pk in re.findall(r'data-entry="(\d+)"', second.text)] == [
        line.pk for line in lines[LEDGER_LINES_PER_PAGE:]
    ]
    assert 'href="/wallet" rel="prev"' in second.text
    assert "Page 2 of 2" in client.get("/wallet", {"page": "999"}).text
    assert "Page 1 of 2" in client.get("/wallet", {"page": "x"}).text


@pytest.mark.parametrize("lines", [2, LEDGER_LINES_PER_PAGE + 20])
def test_the_wallet_costs_the_same_queries_whatever_the_ledger(
    client, make_user, django_assert_num_queries, lines
):
    organizer = make_user()
    player = make_user(funds=100_000)
    for i in range(lines - 1):
        cup = tournament_create(
            organizer=organizer, name=f"Cup {i}", format="swiss", max_participants=4, entry_fee=1
        )
        tournament_join(tournament_id=cup.pk, user=player)
    client.force_login(player)

    # Session, user, balance, the count, a page of lines (a deposit and entry fees), the
    # names of their tournaments.
    with django_assert_num_queries(6):
        response = client.get("/wallet")
    assert len(ledger(response)) == min(lines, LEDGER_LINES_PER_PAGE)


# --- Behind a TLS proxy, DEBUG off ----------------------------------------------------------


@pytest.fixture
def behind_proxy(settings):
    """Production's settings as the suite runs them (DEBUG off: Secure cookies), with the
    redirect to HTTPS on, as it is by default in production."""
    assert not settings.DEBUG
    assert settings.SECURE_PROXY_SSL_HEADER == ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["play.example", "app.internal"]
    return {"HTTP_HOST": "play.example", "HTTP_X_FORWARDED_PROTO": "https"}


def test_behind_a_tls_proxy_a_player_signs_in_and_posts_a_form(make_user, behind_proxy):
    player = make_user("alice", funds=1000)
    cup = tournament_create(
        organizer=make_user(), name="Cup", format="swiss", max_participants=4, entry_fee=300
    )
    browser = Client(enforce_csrf_checks=True, **behind_proxy)
    origin = {"HTTP_ORIGIN": "https://play.example"}

    # Plain HTTP reaching the app (no X-Forwarded-Proto) is sent to HTTPS.
    plain = Client(HTTP_HOST="play.example").get("/login")
    assert (plain.status_code, plain["Location"]) == (301, "https://play.example/login")

    form = browser.get("/login")
    assert form.status_code == 200
    assert browser.cookies["csrftoken"]["secure"]
    response = browser.post(
        "/login",
        {"username": "alice", "password": PASSWORD, "csrfmiddlewaretoken": csrf_token_of(form)},
        **origin,
    )
    assert response.status_code == 303, response.content[:500]
    assert browser.cookies["sessionid"]["secure"]
    assert signed_in_user_id(browser) == player.pk

    # A form posted as a browser posts it: with its token (rotated at sign-in) and Origin.
    page = browser.get(f"/tournaments/{cup.pk}")
    assert page.status_code == 200
    joined = browser.post(
        f"/tournaments/{cup.pk}/join", {"csrfmiddlewaretoken": csrf_token_of(page)}, **origin
    )
    assert joined.status_code == 303, joined.content[:500]
    assert Account.objects.get(user=player).balance == 700


def test_behind_a_tls_proxy_a_post_from_another_origin_is_refused(make_user, behind_proxy):
    make_user("alice")
    browser = Client(enforce_csrf_checks=True, **behind_proxy)
    token = csrf_token_of(browser.get("/login"))
    data = {"username": "alice", "password": PASSWORD, "csrfmiddlewaretoken": token}

    assert browser.post("/login", data, HTTP_ORIGIN="https://evil.example").status_code == 403
    assert browser.post("/login", data, HTTP_ORIGIN="http://play.example").status_code == 403
    assert signed_in_user_id(browser) is None


def test_a_proxy_that_rewrites_the_host_needs_csrf_trusted_origins(
    make_user, behind_proxy, settings
):
    """When the app sees another Host than the browser's address (``app.internal``), the
    public origin must be listed in CSRF_TRUSTED_ORIGINS."""
    make_user("alice")
    headers = behind_proxy | {"HTTP_HOST": "app.internal"}
    data = {"username": "alice", "password": PASSWORD}

    def sign_in_from_the_public_origin():
        # A new browser each time: the CSRF middleware reads its settings once.
        browser = Client(enforce_csrf_checks=True, **headers)
        token = csrf_token_of(browser.get("/login"))
        return browser.post(
            "/login", data | {"csrfmiddlewaretoken": token}, HTTP_ORIGIN="https://play.example"
        )

    assert sign_in_from_the_public_origin().status_code == 403

    settings.CSRF_TRUSTED_ORIGINS = ["https://play.example"]
    assert sign_in_from_the_public_origin().status_code == 303
