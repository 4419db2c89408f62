"""My matches (``/me/matches``) and the match room (``/matches/{id}``), web/views/matches.py,
through Django's test client: what each role sees, the forms (with CSRF), the refusals in
words, and queries that do not grow with the brackets. The live side is in
``test_matches_browser.py``."""

import html
import json
import re
from datetime import timedelta

import pytest
from django.test import Client

from matches.models import Match, MatchReport
from matches.selectors import match_confirmation_deadline, match_room_get, player_matches_list
from matches.services import match_report, match_resolve, tournament_start
from tests.web.clients import signed_in
from tournaments.models import Participant, Tournament
from tournaments.services import (
    team_accept,
    team_create,
    team_invite,
    tournament_cancel,
    tournament_create,
    tournament_join,
    tournament_leave,
)
from web.presentation import round_label
from web.views.matches import ERROR_WORDS

pytestmark = pytest.mark.django_db


# --- Helpers (the fixtures are in conftest.py) ----------------------------------------------


def first_ready(tournament) -> Match:
    return (
        Match.objects.filter(tournament=tournament, status="ready")
        .select_related("participant_a", "participant_b")
        .order_by("bracket", "round", "position")
        .first()
    )


def captains(match: Match):
    return (
        Participant.objects.get(pk=match.participant_a_id).captain,
        Participant.objects.get(pk=match.participant_b_id).captain,
    )


def room(client, match) -> str:
    response = client.get(f"/matches/{match.pk}")
    assert response.status_code == 200, response.content[:500]
    return response.text


def main(page: str) -> str:
    """The page's own content, without the site's header (its nav, the sign-out form)."""
    return re.search(r"<main\b.*</main>", page, re.S).group(0)


def panel(page: str, name: str) -> str:
    """The captain's panel ``name`` of a room page, from its opening tag to the next panel
    (or the end of the captain's section)."""
    opening = f'<div class="action-panel" data-panel="{name}"'
    found = re.search(rf'({opening}.*?)(?=<div class="action-panel"|</section>)', page, re.S)
    assert found, f"no panel {name}"
    return found.group(1)


def shown(page: str, name: str) -> bool:
    opening = panel(page, name).split(">", 1)[0]
    return " hidden" not in opening


def words(text: str) -> str:
    """Text as the template escapes it (apostrophes, quotes)."""
    return html.escape(text)


def report_form(match, *, form="report", winner=None, scores=None) -> dict:
    winner = match.participant_a_id if winner is None else winner
    data = {"form": form, f"{form}-winner": "draw" if winner == "draw" else str(winner)}
    a, b = scores if scores else ("", "")
    data[f"{form}-score_a"], data[f"{form}-score_b"] = a, b
    return data


# --- My matches -----------------------------------------------------------------------------


def test_my_matches_asks_an_anonymous_visitor_to_sign_in():
    response = Client().get("/me/matches")
    assert response.status_code == 302
    assert response["Location"] == "/login?next=/me/matches"


def test_my_matches_lists_the_open_matches_of_every_tournament_solo_and_in_a_team(
    make_user, organizer, cup
):
    me = make_user("me")
    solo = cup(4, players=[me])
    my_solo_match = Match.objects.get(tournament=solo, participant_a__captain=me)
    opponent = Participant.objects.get(pk=my_solo_match.participant_b_id)
    other_match = Match.objects.filter(tournament=solo, round=1).exclude(pk=my_solo_match.pk).get()

    # A team event where I am on the roster but not the captain.
    captain = make_user("captain")
    team = team_create(user=captain, name="Blue Team")
    team_invite(team_id=team.pk, by_user=captain, username="me")
    team_accept(team_id=team.pk, user=me)
    teams = tournament_create(
        organizer=organizer, name="Team Cup", format="round_robin", max_participants=3, team_size=2
    )
    tournament_join(tournament_id=teams.pk, user=captain, team_id=team.pk)
    for i in range(2):
        rival_captain, rival_mate = make_user(f"rc{i}"), make_user(f"rm{i}")
        rival = team_create(user=rival_captain, name=f"Red {i}")
        team_invite(team_id=rival.pk, by_user=rival_captain, username=rival_mate.username)
        team_accept(team_id=rival.pk, user=rival_mate)
        tournament_join(tournament_id=teams.pk, user=rival_captain, team_id=rival.pk)
    tournament_start(tournament_id=teams.pk, user=organizer)
    blue = Participant.objects.get(tournament=teams, team=team)
    team_matches = Match.objects.filter(tournament=teams).exclude(is_bye=True)
    mine_in_teams = [
        m
        for m in team_matches.order_by("round", "position")
        if blue.pk in (m.participant_a_id, m.participant_b_id)
    ]
    # One of them already reported by the other side: the captain confirms or disputes.
    reported = mine_in_teams[0]
    rival_side = (
        reported.participant_b_id
        if reported.participant_a_id == blue.pk
        else reported.participant_a_id
    )
    match_report(
        match_id=reported.pk,
        user=Participant.objects.get(pk=rival_side).captain,
        winner_id=rival_side,
        scores=None,
    )

    # Waiting for its start; and a finished tournament, not listed at all.
    waiting = cup(2, players=[me], start=False)
    done = cup(2, players=[me])
    final = Match.objects.get(tournament=done)
    for user in captains(final):
        match_report(match_id=final.pk, user=user, winner_id=final.participant_a_id)

    response = signed_in(me).get("/me/matches")

    assert response.status_code == 200
    page = response.text
    listed = [int(pk) for pk in re.findall(r'<tr data-match="(\d+)"', page)]
    assert listed == [my_solo_match.pk] + [m.pk for m in mine_in_teams]
    assert other_match.pk not in listed and final.pk not in listed
    row = re.search(rf'<tr data-match="{my_solo_match.pk}".*?</tr>', page, re.S).group(0)
    assert f'<a href="/matches/{my_solo_match.pk}">Semifinals</a>' in row
    assert f">{opponent.name}</td>" in row
    assert ">Ready to play</span>" in row
    assert "Play it, then report the result." in row
    team_row = re.search(rf'<tr data-match="{reported.pk}".*?</tr>', page, re.S).group(0)
    assert "as Blue Team" in team_row
    assert ">Awaiting confirmation</span>" in team_row
    assert words("reported: your captain confirms or disputes it.") in team_row
    assert 'data-captain="false"' in team_row
    assert "Round 1 of 3" in page or "Round 2 of 3" in page or "Round 3 of 3" in page
    assert "Registered, waiting for the start" in page
    assert f'<li data-tournament="{waiting.pk}"><a href="/tournaments/{waiting.pk}">' in page
    # The script follows each tournament at the version the page shows.
    data = json.loads(re.search(r'id="my-matches-data"[^>]*>(.*?)</script>', page, re.S).group(1))
    versions = {
        t.pk: t.version for t in Tournament.objects.filter(pk__in=[solo.pk, teams.pk, waiting.pk])
    }
    assert {t["id"]: t["version"] for t in data["tournaments"]} == versions
    assert sorted(data["participants"]) == sorted(
        Participant.objects.filter(
            roster__user=me, tournament__in=[solo, teams, waiting]
        ).values_list("pk", flat=True)
    )


def test_a_captain_who_does_not_play_reports_with_the_forms_and_sees_the_teams_matches(
    make_user, organizer
):
    """API.md lets a captain register a roster without themself: the captain still reports
    (matches.services), but the match socket admits only the players, so the captain's room
    has the plain forms and no socket."""
    tournament = tournament_create(
        organizer=organizer,
        name="Coached",
        format="single_elimination",
        max_participants=2,
        team_size=2,
    )
    coach = make_user("coach")
    coached = team_create(user=coach, name="Coached")
    players = [make_user("p1"), make_user("p2")]
    for player in players:
        team_invite(team_id=coached.pk, by_user=coach, username=player.username)
        team_accept(team_id=coached.pk, user=player)
    tournament_join(
        tournament_id=tournament.pk,
        user=coach,
        team_id=coached.pk,
        member_ids=[p.pk for p in players],
    )
    rival_captain, rival_mate = make_user("rc"), make_user("rm")
    rival = team_create(user=rival_captain, name="Rival")
    team_invite(team_id=rival.pk, by_user=rival_captain, username="rm")
    team_accept(team_id=rival.pk, user=rival_mate)
    tournament_join(tournament_id=tournament.pk, user=rival_captain, team_id=rival.pk)
    tournament_start(tournament_id=tournament.pk, user=organizer)
    match = Match.objects.get(tournament=tournament)

    listed = signed_in(coach).get("/me/matches").text
    assert f'<tr data-match="{match.pk}"' in listed
    assert "Play it, then report the result." in listed

    page = main(room(signed_in(coach), match))
    assert shown(page, "report") and ">Report result</button>" in page
    assert "<script" not in page
    side = "a" if match.participant_a.team_id == coached.pk else "b"
    coached_id = getattr(match, f"participant_{side}_id")
    response = signed_in(coach).post(
        f"/matches/{match.pk}/report", report_form(match, winner=coached_id)
    )
    assert response.status_code == 303
    assert MatchReport.objects.get(match=match).participant_id == coached_id


def test_my_matches_leaves_out_what_the_player_left_and_what_was_cancelled(
    make_user, organizer, cup
):
    me = make_user("me")
    left = cup(2, players=[me], start=False)
    tournament_leave(tournament_id=left.pk, user=me)
    cancelled = cup(2, players=[me])
    tournament_cancel(tournament_id=cancelled.pk, user=organizer)
    assert player_matches_list(user=me) == ([], [], {})
    assert "You have no matches to play." in signed_in(me).get("/me/matches").text


def test_my_matches_with_nothing_to_play_says_where_to_find_tournaments(make_user):
    response = signed_in(make_user()).get("/me/matches")
    assert "You have no matches to play." in response.text
    assert '<tr data-match="' not in response.text


@pytest.mark.parametrize("tournaments", [1, 4])
def test_my_matches_costs_the_same_queries_whatever_the_number_of_matches(
    make_user, cup, django_assert_num_queries, tournaments
):
    me = make_user("me")
    for _ in range(tournaments):
        # Round robin: every match of the player is open at once (7 each here).
        cup(8, format="round_robin", players=[me])
    client = signed_in(me)
    # The session and its user, then the selector's four: participations, matches, their
    # reports, the last rounds.
    with django_assert_num_queries(6):
        response = client.get("/me/matches")
    assert len(re.findall(r'<tr data-match="', response.text)) == 7 * tournaments


def test_the_selector_reads_four_queries_whatever_the_size_and_one_when_playing_nowhere(
    make_user, cup, django_assert_num_queries
):
    me, idle = make_user("me"), make_user("idle")
    small = cup(2, players=[me])
    cup(16, format="round_robin", players=[me])
    with django_assert_num_queries(4):
        listing = player_matches_list(user=me)
    assert len(listing.matches) == 1 + 15
    assert listing.matches[0].tournament_id == small.pk
    assert {p.tournament_id for p in listing.participations} == {
        m.tournament_id for m in listing.matches
    }
    with django_assert_num_queries(1):
        assert player_matches_list(user=idle) == ([], [], {})


# --- The match room: who sees what ------------------------------------------------------------


def test_a_visitor_sees_the_match_read_only_and_is_pointed_to_the_live_bracket(cup):
    tournament = cup(4)
    match = first_ready(tournament)
    page = main(room(Client(), match))
    assert "<h1>Semifinals</h1>" in page
    assert match.participant_a.name in page and match.participant_b.name in page
    assert f'<a href="/tournaments/{tournament.pk}/live">the live bracket</a>' in page
    assert "You are watching this match." in page
    for control in ("Report result", "Confirm</button>", "Dispute</button>", "Resolve", "Reset"):
        assert control not in page
    assert "<form" not in page
    assert "<script" not in page  # the match socket would close on a visitor (4403)


def test_a_signed_in_user_who_is_not_a_side_never_sees_report_controls(make_user, cup):
    tournament = cup(4)
    match = first_ready(tournament)
    other_player = (
        Participant.objects.exclude(pk__in=[match.participant_a_id, match.participant_b_id])
        .filter(tournament=tournament)
        .first()
        .captain
    )
    for user in (make_user("stranger"), other_player):
        page = main(room(signed_in(user), match))
        assert "Report result" not in page and "<form" not in page and "<script" not in page
    # Even when the match has a report to confirm.
    side_a, _ = captains(match)
    match_report(match_id=match.pk, user=side_a, winner_id=match.participant_a_id)
    page = main(room(signed_in(other_player), match))
    assert "Confirm" not in page and "<form" not in page


def test_a_captain_of_a_ready_match_gets_the_report_form(cup):
    match = first_ready(cup(4))
    side_a, _ = captains(match)
    page = room(signed_in(side_a), match)
    assert shown(page, "report") and not shown(page, "confirm") and not shown(page, "waiting")
    report = panel(page, "report")
    assert f'action="/matches/{match.pk}/report"' in report
    assert 'name="csrfmiddlewaretoken"' in report
    assert '<input type="hidden" name="form" value="report">' in report
    assert f'value="{match.participant_a_id}"' in report and match.participant_a.name in report
    assert f'<label for="id_report-score_a">Score of {match.participant_a.name}</label>' in report
    assert ">Report result</button>" in report
    assert "Draw" not in report  # no draws in elimination
    assert "you</span>" in page
    # It follows the match live over its socket.
    assert 'id="room-data"' in page and "web/match_room" in page and "live/feed" in page


def test_the_other_side_sees_the_report_with_confirm_dispute_and_the_deadline(
    cup, settings, organizer
):
    settings.MATCH_CONFIRMATION_TIMEOUT = timedelta(minutes=10)
    match = first_ready(cup(4))
    side_a, side_b = captains(match)
    match_report(match_id=match.pk, user=side_a, winner_id=match.participant_a_id, scores=[2, 1])
    report = MatchReport.objects.get(match=match)

    page = room(signed_in(side_b), match)

    assert shown(page, "confirm") and not shown(page, "report")
    confirm = panel(page, "confirm")
    name_a = match.participant_a.name
    their_report = (
        f"<strong data-other-name>{name_a}</strong> reported: "
        f"<strong data-other-result>{name_a} won 2–1</strong>"
    )
    assert their_report in confirm
    assert f'<input type="hidden" name="confirm-winner" value="{match.participant_a_id}"' in confirm
    assert '<input type="hidden" name="confirm-score_a" value="2"' in confirm
    assert ">Confirm</button>" in confirm and ">Dispute</button>" in confirm
    # The dispute form starts from the other side's report.
    dispute = confirm.split("Or dispute it", 1)[1]
    assert re.search(rf'value="{match.participant_a_id}"[^>]*checked', dispute)
    assert 'name="dispute-score_a" value="2"' in dispute
    assert 'name="dispute-score_b" value="1"' in dispute
    # Both see the report and the countdown to the automatic confirmation.
    deadline = report.at + timedelta(minutes=10)
    at = f'<time datetime="{deadline.isoformat()}">{deadline:%H:%M} UTC</time>'
    name_b = match.participant_b.name
    said_to = {
        side_a: ("Your report", f"{name_b} confirms or disputes it"),
        side_b: (f"{name_a}’s report", "you confirm or dispute it"),
        organizer: (f"{name_a}’s report", f"{name_b} confirms or disputes it"),
    }
    for viewer, (whose, unless) in said_to.items():
        page = room(signed_in(viewer), match)
        assert f"<strong>{name_a}</strong> reported: {name_a} won 2–1" in page
        assert f'data-deadline="{deadline.isoformat()}"' in page
        said = re.search(r'<p id="countdown"[^>]*>(.*?)</p>', page, re.S).group(1)
        assert said.startswith(f"{whose} is confirmed automatically at {at} (in ")
        assert said.endswith(f"minutes) unless {unless} first.")
        assert "(in 9\xa0minutes)" in said or "(in 10\xa0minutes)" in said
    data = json.loads(re.search(r'id="room-data"[^>]*>(.*?)</script>', page, re.S).group(1))
    assert data["confirmation_seconds"] == 600
    assert data["match"]["reports"][0]["participant"] == match.participant_a_id
    assert match_confirmation_deadline(match_room_get(match_id=match.pk).match) == deadline
    # The side that reported waits.
    assert shown(room(signed_in(side_a), match), "waiting")


def test_a_team_member_who_is_not_the_captain_follows_live_without_controls(make_user, organizer):
    tournament = tournament_create(
        organizer=organizer,
        name="Duo",
        format="single_elimination",
        max_participants=2,
        team_size=2,
    )
    mates = {}
    for name in ("Blue", "Red"):
        captain, mate = make_user(f"{name.lower()}-captain"), make_user(f"{name.lower()}-mate")
        team = team_create(user=captain, name=name)
        team_invite(team_id=team.pk, by_user=captain, username=mate.username)
        team_accept(team_id=team.pk, user=mate)
        tournament_join(tournament_id=tournament.pk, user=captain, team_id=team.pk)
        mates[name] = mate
    tournament_start(tournament_id=tournament.pk, user=organizer)
    match = Match.objects.get(tournament=tournament)

    page = main(room(signed_in(mates["Blue"]), match))

    assert "You play for Blue: its captain, blue-captain, reports and confirms the result." in page
    assert "<form" not in page
    assert 'id="room-data"' in page  # a roster member may follow the match socket
    assert "blue-captain, blue-mate" in page and "red-captain, red-mate" in page


def test_the_organizer_sees_both_reports_of_a_dispute_and_resolve_and_reset(cup, organizer):
    match = first_ready(cup(4))
    side_a, side_b = captains(match)
    organizer_page = room(signed_in(organizer), match)
    assert ">Resolve</button>" in organizer_page
    assert re.search(
        r'<form class="reset-form"[^>]*data-organizer-action="reset" hidden>', organizer_page
    )

    match_report(match_id=match.pk, user=side_a, winner_id=match.participant_a_id, scores=[2, 0])
    match_report(match_id=match.pk, user=side_b, winner_id=match.participant_b_id, scores=[1, 2])

    page = room(signed_in(organizer), match)
    name_a, name_b = match.participant_a.name, match.participant_b.name
    assert ">Disputed</span>" in page
    assert f"<strong>{name_a}</strong> reported: {name_a} won 2–0" in page
    assert f"<strong>{name_b}</strong> reported: {name_b} won 1–2" in page
    assert "The reports disagree: decide the result" in page
    assert f'action="/matches/{match.pk}/resolve"' in page and ">Resolve</button>" in page
    assert re.search(r'<form class="reset-form"[^>]*data-organizer-action="reset">', page)
    assert ">Reset</button>" in page
    # The sides see both reports too, and no form.
    side_page = room(signed_in(side_b), match)
    assert shown(side_page, "disputed") and not shown(side_page, "confirm")
    assert f"{name_a} won 2–0" in side_page and f"{name_b} won 1–2" in side_page


def test_a_completed_match_shows_its_result_and_a_cancelled_tournament_closes_the_room(
    cup, organizer
):
    tournament = cup(4)
    match = first_ready(tournament)
    side_a, side_b = captains(match)
    for user in (side_a, side_b):
        match_report(match_id=match.pk, user=user, winner_id=match.participant_b_id, scores=[0, 3])
    page = room(signed_in(side_a), match)
    assert f'<p id="result" class="result">{match.participant_b.name} won 0–3</p>' in page
    assert shown(page, "completed")
    assert re.search(r'class="versus-side winner" data-side="b"', page)

    Tournament.objects.filter(pk=tournament.pk).update(status="cancelled")
    other = Match.objects.filter(tournament=tournament, round=1).exclude(pk=match.pk).get()
    page = room(signed_in(Participant.objects.get(pk=other.participant_a_id).captain), other)
    assert shown(page, "closed") and "The tournament is cancelled" in page
    assert ">Resolve</button>" not in room(signed_in(organizer), other)


def test_an_unknown_match_is_a_404_and_the_room_only_reads():
    assert Client().get("/matches/999999").status_code == 404
    assert Client().post("/matches/999999").status_code == 405


@pytest.mark.parametrize(("players", "team_size"), [(4, 1), (64, 4)])
def test_the_room_costs_the_same_queries_whatever_the_bracket_and_roster_size(
    make_user, organizer, django_assert_num_queries, players, team_size
):
    tournament = tournament_create(
        organizer=organizer,
        name="Sized",
        format="double_elimination",
        max_participants=players,
        team_size=team_size,
    )
    for i in range(players):
        captain = make_user()
        if team_size == 1:
            tournament_join(tournament_id=tournament.pk, user=captain)
            continue
        team = team_create(user=captain, name=f"T{i}")
        for _ in range(team_size - 1):
            mate = make_user()
            team_invite(team_id=team.pk, by_user=captain, username=mate.username)
            team_accept(team_id=team.pk, user=mate)
        tournament_join(tournament_id=tournament.pk, user=captain, team_id=team.pk)
    tournament_start(tournament_id=tournament.pk, user=organizer)
    match = first_ready(tournament)
    side_a, side_b = captains(match)
    match_report(match_id=match.pk, user=side_a, winner_id=match.participant_a_id, scores=[1, 0])
    client = signed_in(side_b)
    # The session and its user; the match with its tournament and sides, its reports, the
    # rosters, the last round of its bracket.
    with django_assert_num_queries(6):
        page = room(client, match)
    assert shown(page, "confirm")
    with django_assert_num_queries(4):
        room(Client(), match)


def test_rounds_are_named_as_the_live_page_names_them(organizer, cup):
    single = cup(8)
    double = cup(4, format="double_elimination")
    swiss = cup(4, format="swiss")

    def label(tournament, **place):
        match = Match.objects.select_related("tournament").get(tournament=tournament, **place)
        room_ = match_room_get(match_id=match.pk)
        return round_label(room_.match, last_round=room_.last_round)

    assert label(single, round=1, position=1) == "Quarterfinals"
    assert label(single, round=2, position=1) == "Semifinals"
    assert label(single, round=3) == "Final"
    assert label(double, bracket="winners", round=1, position=1) == "Winners semifinals"
    assert label(double, bracket="winners", round=2) == "Winners final"
    assert label(double, bracket="losers", round=1) == "Losers round 1"
    assert label(double, bracket="losers", round=2) == "Losers final"
    assert label(double, bracket="grand_final", round=1) == "Grand final"
    assert label(swiss, round=1, position=1) == "Round 1 of 2"
    big = cup(32)
    assert label(big, round=1, position=1) == "Round 1"


# --- The room's forms -------------------------------------------------------------------------


def test_report_then_confirm_through_the_forms_completes_the_match_and_advances_it(cup):
    tournament = cup(4)
    match = first_ready(tournament)
    side_a, side_b = captains(match)
    client_a, client_b = signed_in(side_a), signed_in(side_b)

    response = client_a.post(f"/matches/{match.pk}/report", report_form(match, scores=(2, 1)))
    assert response.status_code == 303
    assert response["Location"] == f"/matches/{match.pk}"
    assert Match.objects.get(pk=match.pk).status == "awaiting_confirmation"
    page = client_a.get(response["Location"]).text
    assert f"Reported. Waiting for {match.participant_b.name} to confirm." in page
    assert shown(page, "waiting")

    response = client_b.post(
        f"/matches/{match.pk}/report", report_form(match, form="confirm", scores=(2, 1))
    )
    assert response.status_code == 303
    match.refresh_from_db()
    assert (match.status, match.winner_id, match.scores) == (
        "completed",
        match.participant_a_id,
        [2, 1],
    )
    final = Match.objects.get(pk=match.next_match_id)
    assert match.participant_a_id in (final.participant_a_id, final.participant_b_id)
    page = client_b.get(f"/matches/{match.pk}").text
    assert f"Confirmed: {match.participant_a.name} won 2–1." in page


def test_a_dispute_must_differ_and_a_different_one_disputes_then_the_organizer_resolves(
    cup, organizer
):
    match = first_ready(cup(4))
    side_a, side_b = captains(match)
    match_report(match_id=match.pk, user=side_a, winner_id=match.participant_a_id, scores=[2, 1])
    client_b = signed_in(side_b)

    same = client_b.post(
        f"/matches/{match.pk}/report", report_form(match, form="dispute", scores=(2, 1))
    )
    assert same.status_code == 400
    assert words("That is the result the other side reported: press “Confirm”") in same.text
    assert MatchReport.objects.filter(match=match).count() == 1
    assert Match.objects.get(pk=match.pk).status == "awaiting_confirmation"

    response = client_b.post(
        f"/matches/{match.pk}/report",
        report_form(match, form="dispute", winner=match.participant_b_id, scores=(1, 2)),
    )
    assert response.status_code == 303
    assert Match.objects.get(pk=match.pk).status == "disputed"
    page = client_b.get(response["Location"]).text
    assert words("Your result differs from the other side's: the organizer decides.") in page

    response = signed_in(organizer).post(
        f"/matches/{match.pk}/resolve",
        report_form(match, form="resolve", winner=match.participant_b_id, scores=(1, 2)),
    )
    assert response.status_code == 303
    match.refresh_from_db()
    assert (match.status, match.winner_id) == ("completed", match.participant_b_id)

    response = signed_in(organizer).post(f"/matches/{match.pk}/reset")
    assert response.status_code == 303
    match.refresh_from_db()
    assert (match.status, match.winner_id) == ("ready", None)
    assert not MatchReport.objects.filter(match=match).exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"report-score_a": "2", "report-score_b": "1"}, "Choose the winner."),
        ({"report-winner": "A", "report-score_a": "2"}, "Give both scores, or leave both empty."),
        (
            {"report-winner": "A", "report-score_a": "1", "report-score_b": "3"},
            "won, so their score must be the higher one, not 1–3.",
        ),
        (
            {"report-winner": "A", "report-score_a": "-1", "report-score_b": "0"},
            "greater than or equal to 0",
        ),
        ({"report-winner": "draw"}, "Choose one of the two sides as the winner."),
        ({"report-winner": "999999"}, "Choose one of the two sides as the winner."),
    ],
)
def test_a_result_that_cannot_be_is_refused_in_words_keeping_the_input(cup, data, message):
    match = first_ready(cup(4))
    side_a, _ = captains(match)
    data = {"form": "report"} | {
        k: (str(match.participant_a_id) if v == "A" else v) for k, v in data.items()
    }
    response = signed_in(side_a).post(f"/matches/{match.pk}/report", data)
    assert response.status_code == 400
    assert words(message) in response.text or message in response.text
    if "report-score_a" in data and data["report-score_a"] != "-1":
        assert f'name="report-score_a" value="{data["report-score_a"]}"' in response.text
    assert not MatchReport.objects.filter(match=match).exists()


def test_draws_are_offered_in_round_robin_and_a_draw_needs_level_scores(cup):
    match = first_ready(cup(3, format="round_robin"))
    side_a, side_b = captains(match)
    page = room(signed_in(side_a), match)
    assert '<input type="radio" name="report-winner" value="draw"' in page
    refused = signed_in(side_a).post(
        f"/matches/{match.pk}/report", report_form(match, winner="draw", scores=(1, 0))
    )
    assert refused.status_code == 400 and "A draw has level scores, not 1–0." in refused.text
    for user in (side_a, side_b):
        response = signed_in(user).post(
            f"/matches/{match.pk}/report", report_form(match, winner="draw", scores=(1, 1))
        )
        assert response.status_code == 303
    match.refresh_from_db()
    assert (match.status, match.winner_id, match.scores) == ("completed", None, [1, 1])


def test_the_services_refusals_are_shown_in_words_and_change_nothing(make_user, cup, organizer):
    tournament = cup(8)
    match = first_ready(tournament)  # a quarterfinal
    side_a, side_b = captains(match)
    client_a = signed_in(side_a)

    # already_reported: the input is kept, the room shows the match as it is now.
    assert client_a.post(f"/matches/{match.pk}/report", report_form(match)).status_code == 303
    again = client_a.post(f"/matches/{match.pk}/report", report_form(match, scores=(5, 4)))
    assert again.status_code == 409
    assert 'role="alert">' + words(ERROR_WORDS["already_reported"]) in again.text
    assert MatchReport.objects.filter(match=match).count() == 1

    # not_a_player: a signed-in stranger who posts anyway sees no form in the answer.
    refused = signed_in(make_user("stranger")).post(
        f"/matches/{match.pk}/report", report_form(match)
    )
    assert refused.status_code == 403
    assert words(ERROR_WORDS["not_a_player"]) in refused.text
    assert "<form" not in main(refused.text)

    # not_organizer: a side that tries to resolve or reset.
    for path in ("resolve", "reset"):
        refused = client_a.post(f"/matches/{match.pk}/{path}", report_form(match, form="resolve"))
        assert refused.status_code == 403
        assert words(ERROR_WORDS["not_organizer"]) in refused.text
    assert Match.objects.get(pk=match.pk).status == "awaiting_confirmation"

    # match_closed: a disputed match takes no more reports.
    match_report(match_id=match.pk, user=side_b, winner_id=match.participant_b_id)
    closed = client_a.post(
        f"/matches/{match.pk}/report", report_form(match, winner=match.participant_b_id)
    )
    assert closed.status_code == 409
    assert words(ERROR_WORDS["match_closed"]) in closed.text
    assert MatchReport.objects.filter(match=match).count() == 2

    # match_not_ready: the semifinal waits for its second side.
    organizer_client = signed_in(organizer)
    match_resolve(match_id=match.pk, user=organizer, winner_id=match.participant_a_id)
    semifinal = Match.objects.get(pk=match.next_match_id)
    present = semifinal.participant_a_id or semifinal.participant_b_id
    not_ready = organizer_client.post(
        f"/matches/{semifinal.pk}/resolve", {"form": "resolve", "resolve-winner": str(present)}
    )
    assert not_ready.status_code == 409
    assert words(ERROR_WORDS["match_not_ready"]) in not_ready.text
    assert Match.objects.get(pk=semifinal.pk).status == "pending"

    # downstream_played: once the semifinal has a result, the quarterfinal cannot be reset.
    sibling = Match.objects.exclude(pk=match.pk).get(next_match_id=semifinal.pk)
    match_resolve(match_id=sibling.pk, user=organizer, winner_id=sibling.participant_a_id)
    match_resolve(match_id=semifinal.pk, user=organizer, winner_id=match.participant_a_id)
    refused = organizer_client.post(f"/matches/{match.pk}/reset")
    assert refused.status_code == 409
    assert words(ERROR_WORDS["downstream_played"]) in refused.text
    after = Match.objects.get(pk=match.pk)
    assert (after.status, after.winner_id) == ("completed", match.participant_a_id)
    assert MatchReport.objects.filter(match=match).count() == 2


def test_forms_need_a_signed_in_user(cup):
    match = first_ready(cup(4))
    for path in ("report", "resolve", "reset"):
        response = Client().post(f"/matches/{match.pk}/{path}", report_form(match))
        assert response.status_code == 302
        assert response["Location"] == f"/login?next=/matches/{match.pk}"
    assert not MatchReport.objects.filter(match=match).exists()
    assert Client().get(f"/matches/{match.pk}/report").status_code == 405


def csrf_token_of(page: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


def test_every_form_is_protected_against_csrf(cup, organizer):
    match = first_ready(cup(4))
    side_a, _ = captains(match)
    client = signed_in(side_a, enforce_csrf_checks=True)
    forged = client.post(f"/matches/{match.pk}/report", report_form(match))
    assert forged.status_code == 403
    assert not MatchReport.objects.filter(match=match).exists()

    token = csrf_token_of(room(client, match))
    response = client.post(
        f"/matches/{match.pk}/report", report_form(match) | {"csrfmiddlewaretoken": token}
    )
    assert response.status_code == 303
    assert MatchReport.objects.filter(match=match).count() == 1

    organizer_client = signed_in(organizer, enforce_csrf_checks=True)
    for path in ("resolve", "reset"):
        assert (
            organizer_client.post(
                f"/matches/{match.pk}/{path}", report_form(match, form="resolve")
            ).status_code
            == 403
        )
    assert Match.objects.get(pk=match.pk).status == "awaiting_confirmation"


def test_a_form_posts_behind_a_tls_proxy_with_debug_off(cup, settings):
    """As in production: HTTPS ends at the proxy, which says so with X-Forwarded-Proto;
    the session and CSRF cookies are Secure, and CSRF checks the Referer."""
    assert (
        settings.DEBUG is False and settings.SESSION_COOKIE_SECURE and settings.CSRF_COOKIE_SECURE
    )
    match = first_ready(cup(4))
    side_a, _ = captains(match)
    client = signed_in(side_a, enforce_csrf_checks=True)
    # What the browser sends through the proxy: its Host; the proxy adds the scheme.
    https = {"HTTP_HOST": "testserver", "HTTP_X_FORWARDED_PROTO": "https"}
    page = client.get(f"/matches/{match.pk}", **https)
    assert page.status_code == 200
    assert page.cookies["csrftoken"]["secure"] is True
    data = report_form(match) | {"csrfmiddlewaretoken": csrf_token_of(page.text)}

    no_referer = client.post(f"/matches/{match.pk}/report", data, **https)
    assert no_referer.status_code == 403  # HTTPS requires a same-origin Referer
    response = client.post(
        f"/matches/{match.pk}/report",
        data,
        HTTP_REFERER=f"https://testserver/matches/{match.pk}",
        **https,
    )
    assert response.status_code == 303
    assert MatchReport.objects.filter(match=match).count() == 1
