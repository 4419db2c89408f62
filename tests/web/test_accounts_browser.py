"""A new player's first visit, in a real browser: sign up, sign out, sign in, join a
tournament from its page, and find the entry fee in the wallet.

Debian's Chromium driven by Playwright against a real daphne process (``tests/browser.py``)
with the suite's production-like settings: DEBUG off, so Django marks its session and CSRF
cookies Secure; Chromium keeps them for http://127.0.0.1, a secure context.
"""

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from tests.browser import committed
from tournaments.models import Participant
from tournaments.services import tournament_create, tournament_join
from users.models import User
from wallets.models import Account
from wallets.services import deposit_create

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
SCREENSHOTS = Path(settings.BASE_DIR) / "docs" / "screenshots"
PASSWORD = "plum-Orbit-quartz-41"


@pytest.fixture
def cup(make_user):
    """A solo swiss tournament with an entry fee of 12.50 and three players in it."""

    def make():
        organizer = make_user("organizer")
        tournament = tournament_create(
            organizer=organizer,
            name="Friday Night Cup",
            game="Chess",
            format="swiss",
            max_participants=16,
            entry_fee=1250,
            prize_split=[60, 30, 10],
        )
        for name in ("magnus", "hikaru", "judit"):
            tournament_join(tournament_id=tournament.pk, user=make_user(name, funds=5000))
        return tournament

    return committed(make)


def test_sign_up_sign_in_join_and_see_the_wallet_charged(page, browser, server, cup, tmp_path):
    # Sign up: the form's labelled fields, then back at the tournaments, signed in.
    page.goto(server.url("/"))
    page.get_by_role("link", name="Sign up").click()
    page.get_by_label("Username").fill("newcomer")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.locator(".who")).to_have_text("Signed in as newcomer")
    expect(page).to_have_url(server.url("/"))
    player = User.objects.get(username="newcomer")
    assert Account.objects.get(user=player).balance == 0

    # Sign out (a POST form in the header).
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()

    # Staff put money in the wallet; the player opens the tournament from the list and
    # signs in from its page, which brings them back to it.
    committed(deposit_create, user_id=player.pk, amount=2000)
    page.goto(server.url("/tournaments"))
    page.get_by_role("link", name="Details and joining of Friday Night Cup").click()
    expect(page.get_by_role("heading", name="Friday Night Cup", level=1)).to_be_visible()
    page.get_by_role("link", name="Sign in").first.click()
    page.get_by_label("Username").fill("newcomer")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("The username or password is wrong.")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(server.url(f"/tournaments/{cup.pk}"))
    expect(page.locator("#your-balance")).to_have_text("20.00 USD")

    # Join: charged at once, told so, listed.
    page.get_by_role("button", name="Join").click()
    expect(page.locator("#messages")).to_have_text(
        "You joined Friday Night Cup. The entry fee of 12.50 USD was paid from your wallet."
    )
    expect(page.locator("tr.mine")).to_contain_text("newcomer")
    expect(page.get_by_role("button", name="Leave")).to_be_visible()
    assert Participant.objects.filter(tournament=cup, captain=player).exists()

    page.get_by_role("link", name="Wallet").click()
    expect(page.locator("#balance")).to_have_text("7.50 USD")
    expect(page.locator("tr[data-entry]").first).to_contain_text("Entry fee: Friday Night Cup")
    expect(page.locator("tr[data-entry]").first).to_contain_text("-12.50 USD")
    assert Account.objects.get(user=player).balance == 750

    # The tournament's page on a desktop and on a phone (signed in as the same player), for
    # the docs.
    page.set_viewport_size(DESKTOP)
    page.goto(server.url(f"/tournaments/{cup.pk}"))
    page.screenshot(path=tmp_path / "tournament-detail.png")
    phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        phone.add_cookies(page.context.cookies())
        on_phone = phone.new_page()
        on_phone.goto(server.url(f"/tournaments/{cup.pk}"))
        expect(on_phone.locator(".who")).to_have_text("Signed in as newcomer")
        # Nothing wider than the phone: no sideways scrolling.
        assert on_phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        leave = on_phone.get_by_role("button", name="Leave").bounding_box()
        assert leave["height"] >= 44  # a thumb's target
        on_phone.screenshot(path=tmp_path / "tournament-detail-phone.png", full_page=True)
        if os.environ.get("UPDATE_SCREENSHOTS") == "1":
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=SCREENSHOTS / "tournament-detail.png")
            on_phone.screenshot(path=SCREENSHOTS / "tournament-detail-phone.png", full_page=True)
    finally:
        phone.close()


def test_the_keyboard_alone_signs_in(page, server, make_user):
    def player_the_server_can_check():
        # The suite's fast test hasher is this process's setting, not the server's.
        user = make_user("keys")
        hasher = PBKDF2PasswordHasher()
        user.password = hasher.encode(PASSWORD, hasher.salt())
        user.save(update_fields=["password"])

    committed(player_the_server_can_check)
    page.goto(server.url("/login"))
    page.keyboard.press("Tab")
    expect(page.locator(".skip")).to_be_focused()
    page.get_by_label("Username").focus()
    page.keyboard.type("keys")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.locator(".who")).to_have_text("Signed in as keys")
