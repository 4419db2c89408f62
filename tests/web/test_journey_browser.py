"""A whole tournament through the pages, in a real browser (issue 12's end-to-end test).

Three people, each in a browser context of their own, signed in through ``/login``: the
organizer creates a tournament, two players join it, the organizer starts it, the players
report different results, the organizer settles the dispute, and every page that is open
follows along live. Only the accounts and their wallets are made here; everything else is
done by clicking, and checked by what the pages say.

Debian's Chromium driven by Playwright, against a real daphne serving the test database
(committed rows: ``transaction=True``); the server runs its tasks in-process, so the
prizes are paid when the result that ends the tournament is given.
"""

import pytest

from conftest import PASSWORD
from matches.models import Match
from tests.browser import TIMEOUT_MS
from tests.web.clients import server_password_hash
from tournaments.models import Tournament
from users.models import User

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = pytest.mark.django_db(transaction=True)

DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def person(new_page, server, make_user):
    """``person(username, funds=...)``: a new account the server can sign in, and a page
    in a browser context of its own (``new_page``), not signed in yet."""

    def open_for(username: str, *, funds: int = 0):
        user = make_user(username, funds=funds)
        User.objects.filter(pk=user.pk).update(password=server_password_hash(PASSWORD))
        return new_page(DESKTOP)

    return open_for


def sign_in(page, server, username: str, *, then: str) -> None:
    """Through the sign-in page, which brings the person on to ``then``."""
    page.goto(server.url(f"/login?next={then}"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    # The server hashes the password again at its full cost on the first sign-in: slow
    # on a busy machine.
    page.wait_for_url(server.url(then), timeout=3 * TIMEOUT_MS)
    expect(page.locator(".who")).to_have_text(f"Signed in as {username}")


def mark_document(page) -> None:
    """Set on this document only: still there later, the page was not loaded again."""
    page.evaluate("window.sameDocument = true")


def same_document(page) -> bool:
    return page.evaluate("window.sameDocument") is True


def open_my_match(page, server, opponent: str) -> None:
    """From ``/me/matches`` to the room of the match against ``opponent``, followed live."""
    page.goto(server.url("/me/matches"))
    row = page.get_by_role("row").filter(has_text=opponent)
    expect(row.locator(".match-badge")).to_have_text("Ready to play")
    row.get_by_role("link", name="Final").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Final")
    expect(page.locator("#live-state")).to_have_attribute("data-state", "live")
    mark_document(page)


def choose_result(form, *, winner: str, scores: tuple[int, int]) -> None:
    form.get_by_label(winner, exact=True).check()
    form.locator("input.score-input").nth(0).fill(str(scores[0]))
    form.locator("input.score-input").nth(1).fill(str(scores[1]))


def test_a_tournament_from_creation_to_a_settled_dispute_through_the_pages(person, server):
    olga = person("olga")
    ana = person("ana", funds=2000)
    ben = person("ben", funds=2000)

    # The organizer creates the tournament and lands on its console, which goes live.
    sign_in(olga, server, "olga", then="/tournaments/new")
    olga.get_by_label("Name").fill("Journey Cup")
    olga.get_by_label("Format").select_option(label="Single elimination")
    olga.get_by_label("Places").fill("4")
    olga.get_by_label("Entry fee (USD)").fill("5.00")
    olga.get_by_role("button", name="Create tournament").click()
    olga.wait_for_url("**/manage")
    expect(olga.locator("#console-flash")).to_contain_text("Journey Cup is open for registration")
    expect(olga.locator("#console-status")).to_have_text("Registration open")
    expect(olga.locator("#console-live")).to_have_attribute("data-state", "live")
    mark_document(olga)
    tournament = Tournament.objects.get(name="Journey Cup")
    tournament_path = f"/tournaments/{tournament.pk}"

    # Each player signs in on the way to the tournament's page and joins: the console,
    # open all along, lists them as they do.
    entries = olga.locator("#participant-list li")
    for count, (page, name) in enumerate(((ana, "ana"), (ben, "ben")), start=1):
        sign_in(page, server, name, then=tournament_path)
        expect(page.locator("#entry-fee")).to_have_text("5.00 USD")
        page.get_by_role("button", name="Join").click()
        expect(page.locator("#entry")).to_contain_text("You play in this tournament.")
        expect(entries).to_have_count(count)
        expect(entries.nth(count - 1)).to_contain_text(name)
        expect(olga.locator("#participant-count")).to_have_text(f"{count} of 4")
    expect(olga.locator("#console-meta")).to_contain_text("prize pool 10.00 USD")
    assert same_document(olga)

    # The organizer starts it from the console: one match, the final.
    olga.get_by_role("button", name="Start").click()
    expect(olga.locator("#console-flash")).to_contain_text("Started: the participants are seeded")
    expect(olga.locator("#console-status")).to_have_text("In progress")
    expect(olga.locator("#in-play-rows tr")).to_contain_text(["ana vs ben"])
    expect(olga.locator("#queue-empty")).to_be_visible()
    expect(olga.locator("#console-live")).to_have_attribute("data-state", "live")
    mark_document(olga)

    # Both players go from their matches to the final's room; ana reports a win...
    open_my_match(ben, server, opponent="ana")
    open_my_match(ana, server, opponent="ben")
    report = ana.locator('form[data-form="report"]')
    choose_result(report, winner="ana", scores=(2, 1))
    report.get_by_role("button", name="Report result").click()
    expect(ana.locator("#flash")).to_have_text("Reported. Waiting for ben to confirm.")
    expect(ana.locator('[data-panel="waiting"]')).to_be_visible()

    # ... which ben's room shows as it happens; ben says the opposite: a dispute.
    confirm = ben.locator('[data-panel="confirm"]')
    expect(confirm).to_be_visible()
    expect(confirm.locator("[data-other-result]")).to_have_text("ana won 2–1")
    expect(ben.locator("#match-status")).to_have_text("Awaiting confirmation")
    dispute = confirm.locator('form[data-form="dispute"]')
    choose_result(dispute, winner="ben", scores=(1, 2))
    dispute.get_by_role("button", name="Dispute").click()
    for page in (ana, ben):
        expect(page.locator("#match-status")).to_have_text("Disputed")
        expect(page.locator('[data-panel="disputed"]')).to_contain_text(
            "The two reports disagree. The organizer decides the result."
        )
        expect(page.locator("#report-list li")).to_contain_text(
            ["ana reported: ana won 2–1", "ben reported: ben won 1–2"]
        )

    # The console's queue shows the dispute without a reload; the organizer settles it.
    card = olga.locator("#queue-list .queue-card")
    expect(card).to_have_count(1)
    expect(card.locator("h3")).to_have_text("Final: ana vs ben")
    expect(card.locator(".queue-reason")).to_have_text("Disputed The reports disagree.")
    expect(card.locator(".queue-reports li")).to_contain_text(
        ["ana reported: ana won 2–1", "ben reported: ben won 1–2"]
    )
    expect(olga.locator("#queue-count")).to_have_text("1")
    assert same_document(olga)
    card.get_by_label("ana", exact=True).check()
    card.get_by_label("Score of ana").fill("2")
    card.get_by_label("Score of ben").fill("1")
    card.get_by_role("button", name="Resolve").click()
    expect(olga.locator("#console-flash")).to_have_text("Resolved Final: ana vs ben: ana won 2–1.")
    expect(olga.locator("#queue-list .queue-card")).to_have_count(0)
    expect(olga.locator("#console-status")).to_have_text("Completed")

    # Both rooms, open all along, show the final result.
    for page in (ana, ben):
        expect(page.locator("#match-status")).to_have_text("Completed")
        expect(page.locator("#result")).to_have_text("ana won 2–1")
        expect(
            page.locator('.versus-side[data-side="a"], .versus-side[data-side="b"]')
            .filter(has_text="ana")
            .locator("[data-mark]")
        ).to_have_text("Winner")
        assert same_document(page)

    # The winner is paid the prize pool: 20.00 - 5.00 + 10.00.
    ana.goto(server.url("/wallet"))
    expect(ana.locator("#balance")).to_have_text("25.00 USD")
    final = Match.objects.get(tournament=tournament)
    assert (final.status, final.winner.name, final.scores) == ("completed", "ana", [2, 1])
