"""A real server and a real browser for the pages' tests (a pytest plugin, see conftest.py).

``server`` is a daphne process serving the test database (tests that use it need committed
rows: ``django_db(transaction=True)``) with the suite's production-like settings (DEBUG
off, static files from STATIC_ROOT); ``browser`` is Debian's Chromium driven by
Playwright (never a downloaded browser); ``page`` is a desktop-sized page that fails the
test on any JavaScript error; ``committed`` runs a write in a thread of its own, as a
request would.
"""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from tests.processes import database_url_of_the_tests, free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TIMEOUT_MS = 10_000


class Server:
    """A daphne process on a fixed port, which can be killed and started again."""

    def __init__(self, *, port: int, env: dict, log: Path):
        self.port, self.env, self.log = port, env, log
        self.process: subprocess.Popen | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port)]
                + ["project.asgi:application"],
                cwd=settings.BASE_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"daphne exited:\n{self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url("/healthz"), timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        pytest.fail(f"daphne did not answer /healthz:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """Die the hard way, as a crashed server does: no close frames."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def get(self, path: str) -> tuple[int, dict]:
        with urllib.request.urlopen(self.url(path), timeout=10) as response:
            return response.status, json.loads(response.read())

    def post(self, path: str, body: dict, *, token: str) -> tuple[int, dict]:
        request = urllib.request.Request(
            self.url(path),
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Token {token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker, tmp_path_factory):
    # With DEBUG off the page's assets are served from STATIC_ROOT (WhiteNoise).
    with django_db_blocker.unblock():
        call_command("collectstatic", interactive=False, verbosity=0)
    env = os.environ | {"DATABASE_URL": database_url_of_the_tests(), "DATABASE_POOL_MAX_SIZE": "0"}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set for this process only (see browser)
    live = Server(port=free_port(), env=env, log=tmp_path_factory.mktemp("daphne") / "log")
    live.start()
    yield live
    live.kill()


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium")
    # Playwright's sync API keeps an event loop running in this thread, which makes Django
    # refuse the ORM reads the tests make between page actions. The tests are plain
    # sequential code (nothing runs on that loop but Playwright), so that guard does not
    # apply: it is lifted for as long as the browser is open, in this process only.
    # (Writes go through `committed`, for another reason.)
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "1"
    try:
        sync_api = pytest.importorskip("playwright.sync_api")
        with sync_api.sync_playwright() as playwright:
            # Scrollbars drawn, as a person sees them: Playwright hides them by default.
            chromium = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=CHROMIUM_ARGS,
                ignore_default_args=["--hide-scrollbars"],
            )
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], errors


def committed(write, /, *args, **kwargs):
    """Run a write in a thread of its own, as a request would be.

    Its events are published after commit with ``async_to_sync``, which refuses to run in
    a thread where an event loop runs, as Playwright's does in the test's thread."""

    def run():
        try:
            return write(*args, **kwargs)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(run).result()
