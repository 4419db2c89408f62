"""Django test clients, and their sessions for the browser, for the pages' tests."""

from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher, make_password
from django.test import Client


def signed_in(user=None, **client_options) -> Client:
    """A test client signed in as ``user`` (anonymous with None)."""
    client = Client(**client_options)
    if user is not None:
        client.force_login(user)
    return client


def session_cookie(user, server) -> dict:
    """A signed-in session of ``user`` as a cookie for the server (Django's own login)."""
    client = signed_in(user)
    name = settings.SESSION_COOKIE_NAME
    # Not marked Secure: the test server speaks plain HTTP (the suite runs with DEBUG off,
    # where Django marks its own session cookie Secure).
    return {"name": name, "value": client.cookies[name].value, "url": server.url("/")}


class _QuickPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """The server's hasher (its hashes carry their iteration count) at a test's cost."""

    iterations = 1000


def server_password_hash(password: str) -> str:
    """``password`` hashed so that the test server can check it at sign-in: the suite's
    own fast hasher is a setting of this process, unknown to the server."""
    return make_password(password, hasher=_QuickPBKDF2PasswordHasher())
