"""For tests that start real server or worker processes on the test database."""

import socket
from urllib.parse import quote

from django.db import connection


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_url_of_the_tests() -> str:
    """The URL of the database the tests run on (pytest-django's ``test_<name>``), for a
    process started from a test: it sees what the test committed (``transactional_db``)."""
    db = connection.settings_dict
    credentials = quote(db["USER"] or "")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"])
    at = f"{credentials}@" if credentials else ""
    return f"postgres://{at}{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
