"""Shared test fixtures. The suite runs on PostgreSQL and Redis (see Makefile: make test)."""

import pytest
from django.db import connection
from rest_framework.test import APIClient

from users.services import user_register
from wallets.services import deposit_create

# Fixtures for tests that run real server and worker processes, and a real browser.
pytest_plugins = ["tests.processes", "tests.browser"]

PASSWORD = "correct-Horse-battery-9"


@pytest.fixture(scope="session", autouse=True)
def _require_postgresql(django_db_setup, django_db_blocker):
    if connection.vendor != "postgresql":
        pytest.exit("The suite runs on PostgreSQL: run it with `make test`.", returncode=2)


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # The default hasher costs ~0.3 s a password by design; tests make hundreds of users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Failed-login counts (django-axes) live in the cache: start every test without any."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture(autouse=True)
def _fresh_snapshots():
    """The process's snapshot cache (matches.snapshots) outlives a test's database."""
    from matches.snapshots import snapshots

    snapshots.clear()
    yield


@pytest.fixture
def make_user(db):
    counter = iter(range(1, 10**6))

    def make(username=None, *, funds=0, **fields):
        username = username or f"player{next(counter)}"
        user, _token = user_register(username=username, password=PASSWORD, **fields)
        if funds:
            deposit_create(user_id=user.pk, amount=funds)
        return user

    return make


@pytest.fixture
def client_for():
    """An API client authenticated by the user's token, as a real client would be."""

    def make(user=None):
        client = APIClient()
        if user is not None:
            from rest_framework.authtoken.models import Token

            client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get(user=user).key}")
        return client

    return make


@pytest.fixture
def anon():
    return APIClient()
