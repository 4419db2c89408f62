"""The organizer's pages (web/views/manage.py) through Django's test client: who may see
and use them, the new-tournament form and the console's forms (start, resolve, reset,
cancel) with their refusals in words and the input kept, CSRF on every form, and queries
that do not grow with the tournament. The live side is in ``test_manage_browser.py``."""

import html
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from matches.models import Match, MatchReport
from matches.selectors import tournament_console_get
from matches.services import match_report
from tests.web.clients import signed_in
from tournaments.models import Participant, Tournament
from tournaments.services import (
    team_accept,
    team_create,
    team_invite,
    tournament_cancel,
    tournament_check_in,
    tournament_create,
    tournament_join,
    tournament_leave,
    tournament_refunds_chunk,
)
from web.views.manage import ERROR_WORDS

pytestmark = pytest.mark.django_db


# --- Helpers (the fixtures are in conftest.py) ----------------------------------------------


def manage_url(tournament) -> str:
    return f"/tournaments/{tournament.pk}/manage"


def ready_matches(tournament) -> list[Match]:
    return list(
        Match.objects.filter(tournament=tournament, status="ready").order_by(
            "bracket", "round", "position"
        )
    )


def captain(participant_id: int):
    return Participant.objects.get(pk=participant_id).captain


def dispute(match: Match) -> None:
    """Both sides report, each saying it won."""
    match_report(
        match_id=match.pk,
        user=captain(match.participant_a_id),
        winner_id=match.participant_a_id,
        scores=[2, 1],
    )
    match_report(
        match_id=match.pk,
        user=captain(match.participant_b_id),
        winner_id=match.participant_b_id,
        scores=[0, 2],
    )


def overdue(match: Match, settings) -> None:
    """Side A reports and B never answers: the report is older than the deadline."""
    match_report(
        match_id=match.pk,
        user=captain(match.participant_a_id),
        winner_id=match.participant_a_id,
        scores=[3, 0],
    )
    long_ago = timezone.now() - settings.MATCH_CONFIRMATION_TIMEOUT - timedelta(minutes=1)
    MatchReport.objects.filter(match=match).update(at=long_ago)


def play(match: Match) -> None:
    """Both sides agree: side A won 2-0."""
    for pk in (match.participant_a_id, match.participant_b_id):
        match_report(
            match_id=match.pk, user=captain(pk), winner_id=match.participant_a_id, scores=[2, 0]
        )


def text_of(response) -> str:
    """The page's words, tags out and entities decoded, spaces squeezed."""
    content = re.sub(r"<script.*?</script>", " ", response.content.decode(), flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", content)))


def section(response, section_id: str) -> str:
    """The HTML of the page's ``<section id=...>``."""
    found = re.search(
        rf'<section id="{section_id}"(.*?)</section>', response.content.decode(), re.S
    )
    assert found, f"no section {section_id}"
    return found.group(0)


def is_hidden(response, section_id: str) -> bool:
    opening = re.search(rf'<section id="{section_id}"[^>]*>', response.content.decode())
    assert opening, f"no section {section_id}"
    return " hidden" in opening.group(0)


def queue_card(response, match) -> str:
    found = re.search(
        rf'<li class="queue-card" data-match="{match.pk}"(.*?)</li>'
        r'\s*(?=<li class="queue-card"|</ol>)',
        response.content.decode(),
        re.S,
    )
    assert found, f"match {match.pk} is not in the queue"
    return found.group(0)


def page_data(response) -> dict:
    found = re.search(
        r'<script id="console-data" type="application/json">(.*?)</script>',
        response.content.decode(),
        re.S,
    )
    return json.loads(found.group(1))


def state_of(tournament) -> tuple:
    """Everything a console action could change, to prove a refusal changed nothing."""
    tournament = Tournament.objects.get(pk=tournament.pk)
    return (
        tournament.status,
        tournament.version,
        tournament.refunds_pending,
        list(Match.objects.filter(tournament=tournament).order_by("pk").values()),
        list(MatchReport.objects.filter(match__tournament=tournament).order_by("pk").values()),
        list(Participant.objects.filter(tournament=tournament).order_by("pk").values()),
    )


# --- Who may see and use the pages ----------------------------------------------------------


def console_requests(tournament, match) -> list[tuple[str, str, dict]]:
    base = manage_url(tournament)
    return [
        ("get", base, {}),
        ("get", f"{base}/cancel", {}),
        ("post", f"{base}/start", {"seeding": "registration"}),
        ("post", f"{base}/cancel", {"confirm": "yes"}),
        (
            "post",
            f"{base}/matches/{match.pk}/resolve",
            {f"match-{match.pk}-winner": str(match.participant_a_id)},
        ),
        ("post", f"{base}/matches/{match.pk}/reset", {}),
    ]


def test_anonymous_visitors_are_sent_to_sign_in_and_back(cup):
    tournament = cup(4)
    match = ready_matches(tournament)[0]
    before = state_of(tournament)

    response = Client().get("/tournaments/new")
    assert response.status_code == 302
    assert response["Location"] == "/login?next=/tournaments/new"
    assert Client().post("/tournaments/new", {"name": "X"})["Location"].startswith("/login?")
    for method, path, data in console_requests(tournament, match):
        response = getattr(Client(), method)(path, data)
        assert response.status_code == 302, path
        # A form's page is the console: signing in brings the organizer back to it.
        expected = path if method == "get" else manage_url(tournament)
        assert response["Location"] == f"/login?next={expected}", path

    assert state_of(tournament) == before
    assert Tournament.objects.count() == 1


def test_anyone_but_the_organizer_gets_a_403_page_and_changes_nothing(make_user, cup):
    tournament = cup(4)
    match = ready_matches(tournament)[0]
    player = captain(match.participant_a_id)
    stranger = make_user("stranger")
    before = state_of(tournament)

    for user in (stranger, player):
        for method, path, data in console_requests(tournament, match):
            response = getattr(signed_in(user), method)(path, data)
            assert response.status_code == 403, (user, path)
            assert "for its organizer only" in text_of(response)
            assert f'href="/tournaments/{tournament.pk}/live"' in response.content.decode()
            # Nothing of the console is shown: no form, no state.
            assert "console-data" not in response.content.decode()

    assert state_of(tournament) == before


def test_the_organizer_and_staff_see_the_console(make_user, cup, organizer):
    tournament = cup(4)
    staff = make_user("referee")
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])

    for user in (organizer, staff):
        response = signed_in(user).get(manage_url(tournament))
        assert response.status_code == 200
        assert "Organizer console" in text_of(response)


def test_an_unknown_tournament_is_a_404(organizer):
    client = signed_in(organizer)
    assert client.get("/tournaments/999999/manage").status_code == 404
    assert client.post("/tournaments/999999/manage/start", {}).status_code == 404
    assert client.post("/tournaments/999999/manage/matches/1/reset").status_code == 404


def test_a_match_of_another_tournament_is_refused_and_nothing_changes(cup):
    tournament, other = cup(4), cup(4)
    foreign = ready_matches(other)[0]
    before = state_of(other)

    response = signed_in(tournament.organizer).post(
        f"{manage_url(tournament)}/matches/{foreign.pk}/resolve",
        {f"match-{foreign.pk}-winner": str(foreign.participant_a_id)},
    )
    assert response.status_code == 404
    assert ERROR_WORDS["not_found"] in text_of(response)
    response = signed_in(tournament.organizer).post(
        f"{manage_url(tournament)}/matches/{foreign.pk}/reset"
    )
    assert response.status_code == 404
    assert state_of(other) == before


def test_pages_answer_only_their_methods(cup, organizer):
    tournament = cup(4)
    client = signed_in(organizer)
    assert client.post(manage_url(tournament)).status_code == 405
    assert client.get(f"{manage_url(tournament)}/start").status_code == 405
    assert client.put("/tournaments/new").status_code == 405


# --- New tournament -------------------------------------------------------------------------


def test_the_form_labels_every_field_the_api_takes(organizer, settings):
    settings.CURRENCY = "EUR"
    response = signed_in(organizer).get("/tournaments/new")

    assert response.status_code == 200
    page = response.content.decode()
    for field in (
        "name",
        "game",
        "format",
        "team_size",
        "max_participants",
        "entry_fee",
        "prize_split",
        "swiss_rounds",
    ):
        assert f'<label for="id_{field}">' in page, field
        assert f'name="{field}"' in page, field
    words = text_of(response)
    assert "Entry fee (EUR)" in words
    for label in ("Single elimination", "Double elimination", "Round robin", "Swiss"):
        assert f">{label}</option>" in page
    assert 'value="100"' in page  # the default split pays the winner everything
    assert '<button type="submit">Create tournament</button>' in page


def test_a_valid_form_creates_the_tournament_with_every_field_and_opens_its_console(organizer):
    client = signed_in(organizer)
    response = client.post(
        "/tournaments/new",
        {
            "name": "  Spring Open  ",
            "game": "Chess",
            "format": "swiss",
            "team_size": "2",
            "max_participants": "16",
            "entry_fee": "4.50",
            "prize_split": "60, 30,10",
            "swiss_rounds": "5",
        },
    )

    tournament = Tournament.objects.get()
    assert response.status_code == 303
    assert response["Location"] == manage_url(tournament)
    assert (
        tournament.name,
        tournament.game,
        tournament.format,
        tournament.team_size,
        tournament.max_participants,
        tournament.entry_fee,
        tournament.prize_split,
        tournament.swiss_rounds,
        tournament.organizer_id,
        tournament.status,
    ) == (
        "Spring Open",
        "Chess",
        "swiss",
        2,
        16,
        450,
        [60, 30, 10],
        5,
        organizer.pk,
        "registration",
    )
    console = client.get(response["Location"])
    assert "Spring Open is open for registration" in text_of(console)


def test_the_defaults_make_a_free_solo_tournament_paying_the_winner(organizer):
    response = signed_in(organizer).post(
        "/tournaments/new",
        {
            "name": "Quick",
            "game": "",
            "format": "single_elimination",
            "team_size": "1",
            "max_participants": "8",
            "entry_fee": "0",
            "prize_split": "100",
            "swiss_rounds": "",
        },
    )
    assert response.status_code == 303
    tournament = Tournament.objects.get()
    assert (tournament.entry_fee, tournament.prize_split, tournament.swiss_rounds) == (
        0,
        [100],
        None,
    )


VALID = {
    "name": "Cup",
    "game": "",
    "format": "single_elimination",
    "team_size": "1",
    "max_participants": "8",
    "entry_fee": "0",
    "prize_split": "100",
    "swiss_rounds": "",
}


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": ""}, "name", "Give the tournament a name."),
        ({"name": "   "}, "name", "Give the tournament a name."),
        ({"name": "x" * 101}, "name", "A name has at most 100 characters (this one has 101)."),
        ({"game": "g" * 51}, "game", "A game's name has at most 50 characters (this one has 51)."),
        ({"format": "ladder"}, "format", "Choose one of the four formats."),
        ({"format": ""}, "format", "Choose a format."),
        ({"team_size": "0"}, "team_size", "At least 1 player per side"),
        ({"team_size": "17"}, "team_size", "Teams have at most 16 players."),
        ({"team_size": "two"}, "team_size", "Players per side is a whole number"),
        ({"max_participants": "1"}, "max_participants", "at least 2 places"),
        ({"max_participants": "1025"}, "max_participants", "at most 1,024 places"),
        ({"max_participants": ""}, "max_participants", "Say how many players"),
        ({"entry_fee": "-1"}, "entry_fee", "cannot be negative"),
        ({"entry_fee": "1.005"}, "entry_fee", "At most two decimals"),
        ({"entry_fee": "five"}, "entry_fee", "like 5 or 4.50"),
        ({"entry_fee": "10000000001"}, "entry_fee", "at most 10,000,000,000"),
        ({"prize_split": "60, 30"}, "prize_split", "The percentages must sum to 100."),
        ({"prize_split": "50, half"}, "prize_split", "“half” is not a whole percentage"),
        ({"prize_split": "110, -10"}, "prize_split", "“-10” is not a whole percentage"),
        ({"prize_split": ""}, "prize_split", "Give the prize split"),
        (
            {"prize_split": "40, 30, 20, 10", "max_participants": "3"},
            "prize_split",
            "The split pays 4 places but the tournament has only 3",
        ),
        ({"swiss_rounds": "3"}, "swiss_rounds", "Only swiss tournaments have rounds"),
        ({"swiss_rounds": "0", "format": "swiss"}, "swiss_rounds", "At least 1 round."),
        ({"swiss_rounds": "65", "format": "swiss"}, "swiss_rounds", "At most 64 rounds."),
    ],
)
def test_each_field_says_what_is_wrong_keeps_the_input_and_creates_nothing(
    organizer, changes, field, message
):
    sent = VALID | changes
    response = signed_in(organizer).post("/tournaments/new", sent)

    assert response.status_code == 400
    assert Tournament.objects.count() == 0
    page = response.content.decode()
    block = re.search(
        rf'<div class="form-field has-error" data-field="{field}">(.*?)</div>', page, re.S
    )
    assert block, f"{field} is not marked"
    assert message in html.unescape(block.group(1))
    assert "The tournament was not created" in text_of(response)
    # What was typed comes back (the name too, whatever else was wrong).
    if field != "name" and sent["name"].strip():
        assert f'value="{sent["name"]}"' in page
    if (
        field in ("game", "team_size", "max_participants", "entry_fee", "prize_split")
        and sent[field]
    ):
        assert f'value="{html.escape(sent[field])}"' in page


def test_the_new_form_is_protected_against_csrf(organizer):
    client = signed_in(organizer, enforce_csrf_checks=True)
    response = client.post("/tournaments/new", VALID)
    assert response.status_code == 403
    assert Tournament.objects.count() == 0

    # With the page's token it goes through.
    page = client.get("/tournaments/new").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    assert (
        client.post("/tournaments/new", VALID | {"csrfmiddlewaretoken": token}).status_code == 303
    )


# --- New tournament: the start, the automatic start and the check-in --------------------------


def field_block(response, field: str, *, error: bool) -> str:
    """The words of the form's ``data-field`` block (marked as an error or not)."""
    marked = ' has-error"' if error else '"'
    found = re.search(
        rf'<div class="form-field{marked} data-field="{field}">(.*?)</div>',
        response.content.decode(),
        re.S,
    )
    assert found, f"{field} is {'not ' if error else ''}marked"
    return html.unescape(found.group(1))


def test_the_form_asks_for_the_start_the_automatic_start_and_the_check_in(organizer):
    response = signed_in(organizer).get("/tournaments/new")

    page = response.content.decode()
    assert re.search(r'<input type="datetime-local" name="starts_at"[^>]*id="id_starts_at"', page)
    assert re.search(r'<input type="checkbox" name="auto_start"[^>]*id="id_auto_start"', page)
    assert re.search(r'<input type="number" name="check_in_opens_minutes" value="0"', page)
    # The page says in which time zone the start is read (settings.TIME_ZONE).
    assert "The date and time in UTC (the server's time zone" in field_block(
        response, "starts_at", error=False
    )
    words = text_of(response)
    assert "Start automatically at that time" in words
    assert "Check-in opens (minutes before the start; 0 = no check-in)" in words


def test_the_form_creates_a_tournament_with_its_start_and_check_in(organizer):
    response = signed_in(organizer).post(
        "/tournaments/new",
        VALID
        | {
            "starts_at": "2030-12-24T18:30",
            "auto_start": "on",
            "check_in_opens_minutes": "45",
        },
    )

    assert response.status_code == 303
    tournament = Tournament.objects.get()
    assert (tournament.starts_at, tournament.auto_start, tournament.check_in_opens_minutes) == (
        datetime(2030, 12, 24, 18, 30, tzinfo=UTC),
        True,
        45,
    )


def test_the_start_is_read_in_the_time_zone_the_page_names(organizer, settings):
    settings.TIME_ZONE = "Europe/Paris"  # UTC+1 in December
    client = signed_in(organizer)
    assert "The date and time in Europe/Paris" in text_of(client.get("/tournaments/new"))

    response = client.post("/tournaments/new", VALID | {"starts_at": "2030-12-24T18:30"})

    assert response.status_code == 303
    tournament = Tournament.objects.get()
    assert tournament.starts_at == datetime(2030, 12, 24, 17, 30, tzinfo=UTC)
    assert (tournament.auto_start, tournament.check_in_opens_minutes) == (False, 0)
    # The console says it back in the same zone.
    assert "24 Dec 2030, 18:30 Europe/Paris" in section(client.get(manage_url(tournament)), "start")


def test_a_start_time_alone_starts_nothing_by_itself(organizer):
    response = signed_in(organizer).post(
        "/tournaments/new", VALID | {"starts_at": "2030-12-24T18:30", "check_in_opens_minutes": ""}
    )
    assert response.status_code == 303
    tournament = Tournament.objects.get()
    assert (tournament.auto_start, tournament.check_in_opens_minutes) == (False, 0)


START = "2030-12-24T18:30"
CHECK_IN_RANGE = "Check-in opens 0 (no check-in) or 5 to 1440 minutes before the start."


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"auto_start": "on"}, "starts_at", "An automatic start needs a start time."),
        ({"check_in_opens_minutes": "30"}, "starts_at", "Check-in needs a start time."),
        (
            {"auto_start": "on", "check_in_opens_minutes": "30"},
            "starts_at",
            "An automatic start needs a start time.",
        ),
        (
            {"check_in_opens_minutes": "4", "starts_at": START},
            "check_in_opens_minutes",
            CHECK_IN_RANGE,
        ),
        (
            {"check_in_opens_minutes": "1441", "starts_at": START},
            "check_in_opens_minutes",
            CHECK_IN_RANGE,
        ),
        (
            {"check_in_opens_minutes": "-5", "starts_at": START},
            "check_in_opens_minutes",
            CHECK_IN_RANGE,
        ),
        ({"check_in_opens_minutes": "4"}, "check_in_opens_minutes", CHECK_IN_RANGE),
        (
            {"check_in_opens_minutes": "half", "starts_at": START},
            "check_in_opens_minutes",
            "Check-in is a whole number of minutes, like 30; 0 for no check-in.",
        ),
        (
            {"starts_at": "Christmas", "auto_start": "on"},
            "starts_at",
            "Give the start as a date and a time, like 2026-12-24 18:30.",
        ),
        (
            {"starts_at": "2030-02-30T18:30"},
            "starts_at",
            "Give the start as a date and a time, like 2026-12-24 18:30.",
        ),
    ],
)
def test_each_bad_start_setting_is_refused_in_words_and_creates_nothing(
    organizer, changes, field, message
):
    sent = VALID | changes
    response = signed_in(organizer).post("/tournaments/new", sent)

    assert response.status_code == 400
    assert Tournament.objects.count() == 0
    page = response.content.decode()
    assert field_block(response, field, error=True).count('class="field-error"') == 1
    # The input points at its message (the id Django puts in its aria-describedby).
    assert re.search(rf'aria-describedby="[^"]*id_{field}_error"', page)
    assert f'<div class="field-errors" id="id_{field}_error">' in page
    assert message in field_block(response, field, error=True)
    assert "The tournament was not created: one field needs a change" in text_of(response)
    # What was typed comes back.
    if "starts_at" in changes:
        assert f'value="{html.escape(changes["starts_at"])}"' in page
    if "auto_start" in changes:
        assert re.search(r'<input type="checkbox" name="auto_start"[^>]* checked', page)


def test_the_start_settings_are_checked_with_the_other_fields_in_one_go(organizer):
    # The form checks them itself (not only the service after it), so every field that
    # needs a change is marked at once.
    response = signed_in(organizer).post(
        "/tournaments/new", VALID | {"name": "", "auto_start": "on"}
    )

    assert response.status_code == 400
    assert "Give the tournament a name." in field_block(response, "name", error=True)
    assert "An automatic start needs a start time." in field_block(
        response, "starts_at", error=True
    )
    assert "2 fields need a change" in text_of(response)
    assert Tournament.objects.count() == 0


# --- The console, as it is ------------------------------------------------------------------


def test_in_registration_it_lists_the_participants_and_offers_start_and_cancel(
    make_user, organizer
):
    tournament = tournament_create(
        organizer=organizer,
        name="Duo Cup",
        game="Chess",
        format="single_elimination",
        team_size=2,
        max_participants=8,
        entry_fee=250,
    )
    captain_user = make_user("ana", funds=1000)
    mate = make_user("ben", funds=1000)
    team = team_create(user=captain_user, name="Rooks")
    team_invite(team_id=team.pk, by_user=captain_user, username="ben")
    team_accept(team_id=team.pk, user=mate)
    tournament_join(tournament_id=tournament.pk, user=captain_user, team_id=team.pk)

    response = signed_in(organizer).get(manage_url(tournament))

    assert response.status_code == 200
    words = text_of(response)
    assert "Chess · Single elimination · teams of 2 · 1 of 8 registered" in words
    assert "entry fee 2.50 USD · prize pool 5.00 USD" in words
    registrations = section(response, "registrations")
    assert "Rooks" in registrations and "ana, ben" in registrations
    assert not is_hidden(response, "start")
    start = section(response, "start")
    assert 'value="registration"' in start and 'value="random"' in start
    assert '<button type="submit">Start</button>' in start
    assert ">Cancel tournament</button>" in section(response, "cancel")
    for hidden in ("queue", "in-play", "results", "refunds", "completed"):
        assert is_hidden(response, hidden), hidden
    # Links: the spectator page and the tournament's page.
    page = response.content.decode()
    assert f'href="/tournaments/{tournament.pk}/live"' in page
    assert f'href="/tournaments/{tournament.pk}"' in page
    # The live script starts from the version the page shows.
    data = page_data(response)
    assert data["tournament"]["version"] == Tournament.objects.get(pk=tournament.pk).version
    assert f'data-version="{data["tournament"]["version"]}"' in page
    assert [p["name"] for p in data["participants"]] == ["Rooks"]


def start_words(response) -> str:
    """The words of the console's start section, tags out, spaces squeezed."""
    found = section(response, "start")
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", found)))


def test_in_registration_it_shows_the_start_plan_and_who_has_checked_in_or_waits(
    make_user, organizer
):
    starts_at = (timezone.now() + timedelta(minutes=10)).replace(second=0, microsecond=0)
    tournament = tournament_create(
        organizer=organizer,
        name="Night Cup",
        format="single_elimination",
        max_participants=2,
        entry_fee=100,
        starts_at=starts_at,
        auto_start=True,
        check_in_opens_minutes=30,  # so check-in is open now
    )
    ana, ben, dan = (make_user(name, funds=100) for name in ("ana", "ben", "dan"))
    cy = make_user("cy")  # cannot pay the fee: passed over when a place frees up
    tournament_join(tournament_id=tournament.pk, user=ana)
    tournament_join(tournament_id=tournament.pk, user=ben)
    tournament_join(tournament_id=tournament.pk, user=cy, waitlist=True)
    tournament_join(tournament_id=tournament.pk, user=dan, waitlist=True)
    tournament_leave(tournament_id=tournament.pk, user=ben)  # dan takes the place, cy waits
    tournament_check_in(tournament_id=tournament.pk, user=ana)
    tournament_check_in(tournament_id=tournament.pk, user=cy)

    response = signed_in(organizer).get(manage_url(tournament))

    assert response.status_code == 200
    start = start_words(response)
    opens = starts_at - timedelta(minutes=30)
    assert f"Start time {starts_at.day} {starts_at:%b %Y, %H:%M} UTC" in start
    assert "Starts Automatically at the start time" in start
    assert (
        f"Check-in Opens 30 minutes before the start, at {opens.day} {opens:%b %Y, %H:%M} UTC "
        "(open now). 1 of 2 checked in; those not checked in at the start are removed and "
        "refunded." in start
    )
    assert "Waitlist 1 waiting (1 checked in)" in start
    # The waitlist holds no place: 2 of 2 registered, not 3.
    assert "2 of 2 registered" in text_of(response)
    assert "2 registered now." in start
    # Each entry's mark; the waitlist comes last (cy registered before dan).
    rows = re.findall(
        r'<li data-participant="\d+" data-status="(\w+)">(.*?)</li>',
        section(response, "registrations"),
        re.S,
    )
    marks = [
        (
            status,
            re.search(r'class="participant-name">([^<]+)<', row).group(1),
            re.findall(r'<span class="tag" data-status="[\w-]+">([^<]+)</span>', row),
        )
        for status, row in rows
    ]
    assert marks == [
        ("registered", "ana", ["checked in"]),
        ("registered", "dan", []),
        ("waitlisted", "cy", ["waitlisted #1", "checked in"]),
    ]
    # The live script gets them in the same order.
    assert [p["name"] for p in page_data(response)["participants"]] == ["ana", "dan", "cy"]


def test_without_a_start_time_the_console_says_the_organizer_starts_it(cup):
    tournament = cup(2, start=False)
    response = signed_in(tournament.organizer).get(manage_url(tournament))

    start = start_words(response)
    assert "Start time None set" in start
    assert "Starts When you press Start" in start
    assert "Check-in None" in start
    assert "Waitlist Nobody waiting" in start
    assert 'data-status="checked-in"' not in response.content.decode()


def test_in_progress_the_queue_holds_the_disputed_and_the_overdue_matches(cup, settings):
    tournament = cup(8)
    first, second, third, fourth = ready_matches(tournament)
    dispute(first)
    overdue(second, settings)
    match_report(  # a one-sided report still within its deadline: not in the queue
        match_id=third.pk,
        user=captain(third.participant_a_id),
        winner_id=third.participant_a_id,
    )
    play(fourth)

    response = signed_in(tournament.organizer).get(manage_url(tournament))

    assert response.status_code == 200
    assert not is_hidden(response, "queue")
    names = dict(Participant.objects.filter(tournament=tournament).values_list("pk", "name"))
    disputed = queue_card(response, first)
    assert 'data-reason="disputed"' in disputed
    card_words = html.unescape(re.sub(r"<[^>]+>", " ", disputed))
    assert (
        f"{names[first.participant_a_id]}  reported: {names[first.participant_a_id]} won 2–1"
        in card_words
    )
    assert (
        f"{names[first.participant_b_id]}  reported: {names[first.participant_b_id]} won 0–2"
        in card_words
    )
    assert f'action="/tournaments/{tournament.pk}/manage/matches/{first.pk}/resolve"' in disputed
    assert f'action="/tournaments/{tournament.pk}/manage/matches/{first.pk}/reset"' in disputed
    assert f'href="/matches/{first.pk}"' in disputed
    assert f'name="match-{first.pk}-winner"' in disputed
    assert ">Resolve</button>" in disputed and ">Reset</button>" in disputed
    late = queue_card(response, second)
    assert 'data-reason="overdue"' in late
    assert f"{names[second.participant_b_id]} did not answer by" in html.unescape(late)
    assert 'id="queue-count">2<' in response.content.decode()
    assert f'data-match="{third.pk}"' not in section(response, "queue")

    in_play = section(response, "in-play")
    assert f'<tr data-match="{third.pk}">' in in_play
    assert "confirmed automatically at" in in_play
    assert f'href="/matches/{third.pk}"' in in_play
    results = section(response, "results")
    assert f'<tr data-match="{fourth.pk}">' in results
    assert f"{names[fourth.participant_a_id]} won 2–0" in html.unescape(results)
    assert is_hidden(response, "start")
    assert not is_hidden(response, "cancel")


def test_a_round_robin_offers_a_draw_and_an_elimination_match_does_not(cup):
    group = cup(3, format="round_robin")
    elimination = cup(2)
    for tournament in (group, elimination):
        dispute(ready_matches(tournament)[0])

    with_draw = signed_in(group.organizer).get(manage_url(group))
    without = signed_in(elimination.organizer).get(manage_url(elimination))

    assert 'value="draw"' in section(with_draw, "queue")
    assert 'value="draw"' not in section(without, "queue")


# --- Start ----------------------------------------------------------------------------------


@pytest.mark.parametrize("seeding", ["registration", "random"])
def test_start_seeds_as_chosen_and_comes_back_to_the_console(cup, seeding):
    tournament = cup(4, start=False)
    client = signed_in(tournament.organizer)

    response = client.post(f"{manage_url(tournament)}/start", {"seeding": seeding})

    assert response.status_code == 303
    assert response["Location"] == manage_url(tournament)
    tournament.refresh_from_db()
    assert tournament.status == "in_progress"
    seeds = list(
        Participant.objects.filter(tournament=tournament)
        .order_by("pk")
        .values_list("seed", flat=True)
    )
    assert sorted(seeds) == [1, 2, 3, 4]
    if seeding == "registration":
        assert seeds == [1, 2, 3, 4]
    page = client.get(response["Location"])
    words = "in order of registration" if seeding == "registration" else "by a random draw"
    assert f"Started: the participants are seeded {words}" in text_of(page)
    assert not is_hidden(page, "in-play")


def test_start_refusals_are_said_in_words_and_change_nothing(cup):
    alone = cup(1, start=False)
    started = cup(4)
    for tournament, data, status, message in [
        (alone, {"seeding": "alphabetical"}, 400, "Choose how to seed"),
        (alone, {}, 400, "Choose how to seed"),
        (
            alone,
            {"seeding": "registration"},
            409,
            "A tournament needs at least 2 participants to start. 1 is registered so far.",
        ),
        (
            started,
            {"seeding": "random"},
            409,
            "The tournament cannot start: it is in progress, and only a tournament in "
            "registration can start.",
        ),
    ]:
        before = state_of(tournament)
        response = signed_in(tournament.organizer).post(f"{manage_url(tournament)}/start", data)
        assert response.status_code == status, message
        assert message in text_of(response)
        assert state_of(tournament) == before


def test_a_refused_start_keeps_the_seeding_chosen(cup):
    tournament = cup(1, start=False)
    response = signed_in(tournament.organizer).post(
        f"{manage_url(tournament)}/start", {"seeding": "random"}
    )
    assert response.status_code == 409
    assert re.search(
        r'<input type="radio" name="seeding" value="random"[^>]* checked', response.content.decode()
    )


# --- Resolve and reset ----------------------------------------------------------------------


def test_resolving_a_dispute_completes_the_match_and_says_so(cup):
    tournament = cup(4)
    match = ready_matches(tournament)[0]
    dispute(match)
    client = signed_in(tournament.organizer)

    response = client.post(
        f"{manage_url(tournament)}/matches/{match.pk}/resolve",
        {
            f"match-{match.pk}-winner": str(match.participant_b_id),
            f"match-{match.pk}-score_a": "1",
            f"match-{match.pk}-score_b": "2",
        },
    )

    assert response.status_code == 303
    match.refresh_from_db()
    assert (match.status, match.winner_id, match.scores) == (
        "completed",
        match.participant_b_id,
        [1, 2],
    )
    winner = Participant.objects.get(pk=match.participant_b_id).name
    page = client.get(response["Location"])
    assert "Resolved Semifinals: " in text_of(page)
    assert f"{winner} won 1–2." in text_of(page)
    assert f'data-match="{match.pk}"' not in section(page, "queue")
    assert f'<tr data-match="{match.pk}">' in section(page, "results")


def test_resolving_an_overdue_report_settles_it(cup, settings):
    tournament = cup(4)
    match = ready_matches(tournament)[0]
    overdue(match, settings)

    response = signed_in(tournament.organizer).post(
        f"{manage_url(tournament)}/matches/{match.pk}/resolve",
        {f"match-{match.pk}-winner": str(match.participant_a_id)},
    )

    assert response.status_code == 303
    match.refresh_from_db()
    assert (match.status, match.winner_id, match.scores) == (
        "completed",
        match.participant_a_id,
        None,
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "Choose the winner."),
        ({"winner": "draw"}, "Choose one of the two sides as the winner."),
        ({"winner": "a", "score_a": "2"}, "Give both scores, or leave both empty."),
        ({"winner": "a", "score_a": "1", "score_b": "3"}, "so their score must be the higher one"),
        ({"winner": "a", "score_a": "-1", "score_b": "0"}, "greater than or equal to 0"),
    ],
)
def test_a_resolve_that_cannot_be_is_refused_in_the_card_keeping_the_input(cup, fields, message):
    tournament = cup(4)
    match = ready_matches(tournament)[0]
    dispute(match)
    before = state_of(tournament)
    sides = {"a": str(match.participant_a_id), "b": str(match.participant_b_id)}
    data = {
        f"match-{match.pk}-{name}": sides.get(value, value) if name == "winner" else value
        for name, value in fields.items()
    }

    response = signed_in(tournament.organizer).post(
        f"{manage_url(tournament)}/matches/{match.pk}/resolve", data
    )

    assert response.status_code == 400
    card = queue_card(response, match)
    assert message in html.unescape(card)
    for name in ("score_a", "score_b"):
        if fields.get(name):
            assert re.search(rf'name="match-{match.pk}-{name}" value="{fields[name]}"', card)
    assert state_of(tournament) == before


def test_resolve_and_reset_refusals_are_said_in_words_and_change_nothing(cup, organizer):
    tournament = cup(4)
    semi_1, semi_2 = ready_matches(tournament)
    final = Match.objects.get(tournament=tournament, round=2)
    play(semi_1)
    play(semi_2)
    play(Match.objects.get(pk=final.pk))  # the final has a result: the semifinals fed it
    client = signed_in(organizer)

    before = state_of(tournament)
    response = client.post(f"{manage_url(tournament)}/matches/{semi_1.pk}/reset")
    assert response.status_code == 409
    # The tournament completed with the final: its matches are closed.
    assert "This match can no longer change: the tournament is completed." in text_of(response)
    assert state_of(tournament) == before

    running = cup(8)
    first, second, *_ = ready_matches(running)
    play(first)
    play(second)
    semifinal = Match.objects.get(tournament=running, round=2, position=1)
    play(semifinal)
    semifinal.refresh_from_db()
    pending_final = Match.objects.get(tournament=running, round=3)
    names = dict(Participant.objects.filter(tournament=running).values_list("pk", "name"))
    refusals = [
        (
            f"matches/{first.pk}/reset",
            {},
            409,
            "This result cannot be reset: a match it led to already has a result. Reset "
            f"Semifinals: {names[semifinal.participant_a_id]} vs "
            f"{names[semifinal.participant_b_id]} first.",
        ),
        (f"matches/{pending_final.pk}/reset", {}, 409, ERROR_WORDS["match_not_ready"]),
        (
            f"matches/{pending_final.pk}/resolve",
            {f"match-{pending_final.pk}-winner": str(semifinal.winner_id)},
            409,
            ERROR_WORDS["match_not_ready"],
        ),
    ]
    for path, data, status, message in refusals:
        before = state_of(running)
        response = client.post(f"{manage_url(running)}/{path}", data)
        assert response.status_code == status, path
        assert message in text_of(response), path
        assert 'role="alert"' in response.content.decode()
        assert state_of(running) == before

    cancelled = cup(4)
    match = ready_matches(cancelled)[0]
    dispute(match)
    tournament_cancel(tournament_id=cancelled.pk, user=organizer)
    before = state_of(cancelled)
    response = client.post(
        f"{manage_url(cancelled)}/matches/{match.pk}/resolve",
        {f"match-{match.pk}-winner": str(match.participant_a_id)},
    )
    assert response.status_code == 409
    assert "This match can no longer change: the tournament is cancelled." in text_of(response)
    assert state_of(cancelled) == before


def test_reset_sends_a_result_back_to_be_played(cup):
    tournament = cup(4)
    match = ready_matches(tournament)[0]
    play(match)
    client = signed_in(tournament.organizer)

    response = client.post(f"{manage_url(tournament)}/matches/{match.pk}/reset")

    assert response.status_code == 303
    match.refresh_from_db()
    assert (match.status, match.winner_id, MatchReport.objects.filter(match=match).count()) == (
        "ready",
        None,
        0,
    )
    page = client.get(response["Location"])
    assert "it is ready to be played and reported again" in text_of(page)
    assert f'<tr data-match="{match.pk}">' in section(page, "in-play")


# --- Cancel ---------------------------------------------------------------------------------


def test_cancel_asks_first_then_cancels_and_counts_the_refunds_down(cup, organizer):
    tournament = cup(3, start=False, places=8, entry_fee=500)
    client = signed_in(organizer)
    before = state_of(tournament)

    # The button leads to a confirmation step that changes nothing...
    asked = client.get(f"{manage_url(tournament)}/cancel")
    assert asked.status_code == 200
    confirm = section(asked, "cancel")
    assert re.search(r'<div id="cancel-confirm"[^>]*>', confirm).group(0).count("hidden") == 0
    assert 'name="confirm" value="yes"' in confirm
    assert "Yes, cancel the tournament" in confirm
    # ... and so does a post without the confirmation.
    again = client.post(f"{manage_url(tournament)}/cancel", {})
    assert again.status_code == 200
    assert "Yes, cancel the tournament" in section(again, "cancel")
    assert state_of(tournament) == before

    response = client.post(f"{manage_url(tournament)}/cancel", {"confirm": "yes"})

    assert response.status_code == 303
    tournament.refresh_from_db()
    assert (tournament.status, tournament.refunds_pending) == ("cancelled", 3)
    page = client.get(response["Location"])
    assert (
        f"{tournament.name} is cancelled: the entry fees of its 3 participants are being refunded."
        in text_of(page)
    )
    assert not is_hidden(page, "refunds")
    assert is_hidden(page, "cancel") and is_hidden(page, "start")
    assert "0 of 3 refunded, 3 to go." in section(page, "refunds")
    assert section(page, "registrations").count("Refund pending") == 3

    # The test database's transaction never commits, so the chain of refund tasks does not
    # run: each chunk is run here, as a worker would.
    tournament_refunds_chunk(tournament_id=tournament.pk, limit=2)
    page = client.get(manage_url(tournament))
    assert "2 of 3 refunded, 1 to go." in section(page, "refunds")
    assert section(page, "registrations").count("Refunded") == 2
    tournament_refunds_chunk(tournament_id=tournament.pk, limit=2)
    page = client.get(manage_url(tournament))
    assert "All 3 entry fees are refunded." in section(page, "refunds")


def test_cancelling_what_cannot_be_cancelled_is_refused_in_words(cup, organizer):
    tournament = cup(2, start=False)
    tournament_cancel(tournament_id=tournament.pk, user=organizer)
    before = state_of(tournament)

    response = signed_in(organizer).post(f"{manage_url(tournament)}/cancel", {"confirm": "yes"})

    assert response.status_code == 409
    assert "The tournament cannot be cancelled: it is cancelled." in text_of(response)
    assert state_of(tournament) == before


def test_an_empty_tournament_cancels_with_nothing_to_refund(organizer):
    tournament = tournament_create(
        organizer=organizer, name="Empty", format="swiss", max_participants=4
    )
    client = signed_in(organizer)
    response = client.post(f"{manage_url(tournament)}/cancel", {"confirm": "yes"})
    assert response.status_code == 303
    page = client.get(response["Location"])
    assert "nobody had registered, so there is nothing to refund" in text_of(page)
    assert "Nobody had registered: there is nothing to refund." in section(page, "refunds")


# --- CSRF -----------------------------------------------------------------------------------


def test_every_console_form_is_protected_against_csrf(cup, organizer):
    tournament = cup(4, start=False)
    running = cup(4)
    match = ready_matches(running)[0]
    dispute(match)
    client = signed_in(organizer, enforce_csrf_checks=True)
    posts = [
        (tournament, f"{manage_url(tournament)}/start", {"seeding": "registration"}),
        (tournament, f"{manage_url(tournament)}/cancel", {"confirm": "yes"}),
        (
            running,
            f"{manage_url(running)}/matches/{match.pk}/resolve",
            {f"match-{match.pk}-winner": str(match.participant_a_id)},
        ),
        (running, f"{manage_url(running)}/matches/{match.pk}/reset", {}),
    ]
    for owner, path, data in posts:
        before = state_of(owner)
        response = client.post(path, data)
        assert response.status_code == 403, path
        assert state_of(owner) == before, path

    # Every form of the page carries the token, and with it each goes through.
    page = client.get(manage_url(running)).content.decode()
    forms = re.findall(r'<form[^>]*method="post"[^>]*>(.*?)</form>', page, re.S)
    assert forms and all("csrfmiddlewaretoken" in form for form in forms)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = client.post(
        f"{manage_url(running)}/matches/{match.pk}/reset", {"csrfmiddlewaretoken": token}
    )
    assert response.status_code == 303


def test_a_form_posts_behind_a_tls_proxy_with_debug_off(cup, organizer, settings):
    settings.DEBUG = False
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    tournament = cup(2, start=False)
    client = signed_in(organizer, enforce_csrf_checks=True)
    https = {"HTTP_X_FORWARDED_PROTO": "https", "HTTP_HOST": "testserver"}
    page = client.get(manage_url(tournament), **https).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)

    response = client.post(
        f"{manage_url(tournament)}/start",
        {"seeding": "registration", "csrfmiddlewaretoken": token},
        HTTP_ORIGIN="https://testserver",
        **https,
    )

    assert response.status_code == 303
    tournament.refresh_from_db()
    assert tournament.status == "in_progress"


# --- Queries --------------------------------------------------------------------------------


def queries_of(request) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = request()
    assert response.status_code in (200, 303), response.status_code
    return len(captured.captured_queries)


def busy_cup(cup, n, settings):
    """A started tournament of ``n`` players with a dispute, an overdue report and a
    result, the rest ready."""
    tournament = cup(n)
    first, second, third, *_ = ready_matches(tournament)
    dispute(first)
    overdue(second, settings)
    play(third)
    return tournament


def test_the_console_costs_the_same_queries_whatever_the_size(cup, organizer, settings):
    small, large = busy_cup(cup, 8, settings), busy_cup(cup, 64, settings)
    client = signed_in(organizer)

    counts = [queries_of(lambda t=t: client.get(manage_url(t))) for t in (small, large)]

    # The session and its user, then the console's five reads (tournament, participants,
    # rosters, matches, reports) in one consistent read (a savepoint and its release
    # inside the test's transaction).
    assert counts == [9, 9]


def test_the_registration_console_costs_the_same_queries_whatever_the_size(cup, organizer):
    small, large = cup(2, start=False, places=64), cup(40, start=False, places=64)
    client = signed_in(organizer)
    counts = [queries_of(lambda t=t: client.get(manage_url(t))) for t in (small, large)]
    assert counts[0] == counts[1]


def test_resolving_costs_the_same_queries_whatever_the_size(cup, organizer, settings):
    client = signed_in(organizer)
    counts = []
    for n in (8, 64):
        tournament = busy_cup(cup, n, settings)
        match = ready_matches(tournament)[0]  # a ready match: resolved directly
        counts.append(
            queries_of(
                lambda t=tournament, m=match: client.post(
                    f"{manage_url(t)}/matches/{m.pk}/resolve",
                    {f"match-{m.pk}-winner": str(m.participant_a_id)},
                )
            )
        )
    assert counts[0] == counts[1]


def test_the_selector_reads_five_queries_at_one_version(cup, settings):
    tournament = busy_cup(cup, 16, settings)
    with CaptureQueriesContext(connection) as captured:
        console = tournament_console_get(tournament_id=tournament.pk)
    reads = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("SELECT")]
    # The rest is the consistent read's transaction (a savepoint inside the test's own).
    assert len(reads) == 5, reads
    assert console.tournament.version == Tournament.objects.get(pk=tournament.pk).version
    assert len(console.matches) == Match.objects.filter(tournament=tournament).count()
    assert console.rounds == {"winners": 4}
    assert all(m.tournament is console.tournament for m in console.matches)
