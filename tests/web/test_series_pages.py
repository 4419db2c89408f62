"""Best-of series on the pages (issue 13): the tournament form takes the series lengths,
the match room's forms take a series score and its games, and the room and the live page
show them."""

import pytest
from django.test import Client

from matches.models import Match, MatchReport
from tests.web.clients import signed_in
from tournaments.models import Participant, Tournament

pytestmark = pytest.mark.django_db

CREATE = {
    "name": "Series Cup",
    "game": "Chess",
    "format": "single_elimination",
    "team_size": "1",
    "max_participants": "8",
    "entry_fee": "0",
    "prize_split": "100",
}


def test_the_tournament_form_takes_the_series_lengths(organizer):
    client = signed_in(organizer)
    page = client.get("/tournaments/new").text
    for field in ("best_of", "best_of_final"):
        assert f'name="{field}"' in page
    response = client.post("/tournaments/new", CREATE | {"best_of": "3", "best_of_final": "5"})
    assert response.status_code == 303
    tournament = Tournament.objects.get()
    assert (tournament.best_of, tournament.best_of_final) == (3, 5)


def test_without_the_series_fields_the_form_makes_one_game_matches(organizer):
    response = signed_in(organizer).post("/tournaments/new", CREATE)
    assert response.status_code == 303
    assert (Tournament.objects.get().best_of, Tournament.objects.get().best_of_final) == (1, None)


def test_a_series_length_that_does_not_exist_is_refused_in_words(organizer):
    response = signed_in(organizer).post("/tournaments/new", CREATE | {"best_of": "4"})
    assert response.status_code == 400
    assert "Choose 1 game, or best of 3, 5 or 7." in response.text
    assert not Tournament.objects.exists()


def series_match(cup):
    tournament = cup(4, best_of=3)
    match = (
        Match.objects.filter(tournament=tournament, status="ready")
        .order_by("round", "position")
        .first()
    )
    side_a = Participant.objects.get(pk=match.participant_a_id).captain
    side_b = Participant.objects.get(pk=match.participant_b_id).captain
    return tournament, match, signed_in(side_a), signed_in(side_b)


def form_data(match, form="report", *, scores=("2", "1"), games=""):
    return {
        "form": form,
        f"{form}-winner": str(match.participant_a_id),
        f"{form}-score_a": scores[0],
        f"{form}-score_b": scores[1],
        f"{form}-games": games,
    }


def test_the_room_reports_a_series_with_its_games_and_shows_them(cup):
    tournament, match, client_a, client_b = series_match(cup)
    page = client_a.get(f"/matches/{match.pk}").text
    assert "Series score" in page and 'name="report-games"' in page
    assert ">Draw<" not in page

    url = f"/matches/{match.pk}/report"
    assert client_a.post(url, form_data(match, games="3-1, 0-2, 5-4")).status_code == 303
    assert MatchReport.objects.get(match=match).games == [[3, 1], [0, 2], [5, 4]]
    # The side that confirms is shown the games it agrees to, and so is the reports list.
    side_a_name = Participant.objects.get(pk=match.participant_a_id).name
    reported = f"{side_a_name} won 2–1, games 3–1, 0–2, 5–4"
    page = client_b.get(f"/matches/{match.pk}").text
    assert f"<strong data-other-result>{reported}</strong>" in page  # the confirm panel
    assert f"</strong> reported: {reported} <time" in page  # the reports list
    assert client_b.post(url, form_data(match, "confirm")).status_code == 303

    match.refresh_from_db()
    assert (match.status, match.scores, match.games) == (
        "completed",
        [2, 1],
        [[3, 1], [0, 2], [5, 4]],
    )
    page = Client().get(f"/matches/{match.pk}").text
    assert "Best of 3" in page and "3–1, 0–2, 5–4" in page
    live = Client().get(f"/tournaments/{tournament.pk}/live").text
    assert "Best of 3 · 3–1, 0–2, 5–4" in live


@pytest.mark.parametrize(
    "scores,games,words",
    [
        (("", ""), "", "Give the series score"),
        (("2", "1"), "3 to 1", "is not a game&#x27;s score"),
        (("1", "0"), "", "not a finished best-of-3 series"),
        (("2", "1"), "1-0, 1-0, 0-1", "after the series was decided"),
    ],
)
def test_a_series_the_form_or_the_service_refuses_is_shown_in_words(cup, scores, games, words):
    tournament, match, client_a, _ = series_match(cup)
    response = client_a.post(
        f"/matches/{match.pk}/report", form_data(match, scores=scores, games=games)
    )
    assert response.status_code == 400
    assert words in response.text
    assert not MatchReport.objects.filter(match=match).exists()


def test_a_one_game_room_has_no_games_field(cup):
    tournament = cup(4)
    match = Match.objects.filter(tournament=tournament, status="ready").first()
    page = signed_in(Participant.objects.get(pk=match.participant_a_id).captain).get(
        f"/matches/{match.pk}"
    )
    assert "report-games" not in page.text and "Best of" not in page.text


def test_the_console_settles_a_disputed_series_with_its_games(cup, organizer):
    from matches.services import match_report

    tournament, match, _, _ = series_match(cup)
    side_a = Participant.objects.get(pk=match.participant_a_id).captain
    side_b = Participant.objects.get(pk=match.participant_b_id).captain
    winner = match.participant_a_id
    match_report(
        match_id=match.pk,
        user=side_a,
        winner_id=winner,
        scores=[2, 1],
        games=[[1, 0], [0, 1], [3, 2]],
    )
    match_report(match_id=match.pk, user=side_b, winner_id=winner, scores=[2, 0])
    console = signed_in(organizer)
    page = console.get(f"/tournaments/{tournament.pk}/manage").text
    assert "Series score" in page
    # The organizer deciding between the reports sees the games each one listed.
    name = Participant.objects.get(pk=winner).name
    assert f"reported: {name} won 2–1, games 1–0, 0–1, 3–2 <time" in page
    assert f"reported: {name} won 2–0 <time" in page

    prefix = f"match-{match.pk}"
    response = console.post(
        f"/tournaments/{tournament.pk}/manage/matches/{match.pk}/resolve",
        {
            f"{prefix}-winner": str(winner),
            f"{prefix}-score_a": "2",
            f"{prefix}-score_b": "0",
            f"{prefix}-games": "1-0, 1-0",
        },
    )
    assert response.status_code == 303
    match.refresh_from_db()
    assert (match.status, match.scores, match.games) == ("completed", [2, 0], [[1, 0], [1, 0]])
