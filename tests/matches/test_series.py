"""Best-of series (issue 13): which matches are played over how many games, what a series
result must say, when two reports agree, and every format played to the end in series.

A match's ``best_of`` is fixed when the match is made (``matches.progression``): the
deciding matches of the elimination formats (the single elimination final, both grand
finals) take the tournament's ``best_of_final``, every other match ``best_of``. A report
of a series names the winner and the finished series score, and may list the games
(``matches.services``); a refused report changes nothing.
"""

import itertools
from datetime import timedelta

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matches.models import Match, MatchReport
from matches.services import (
    match_confirm_overdue,
    match_report,
    match_resolve,
    tournament_start,
)
from tournaments.models import Tournament, TournamentEvent
from tournaments.services import tournament_create, tournament_join

pytestmark = pytest.mark.django_db

Status = Match.Status
# Usernames unique across hypothesis examples, which share one test's database.
_names = itertools.count(1)


def started(make_user, *, format, n, best_of=3, best_of_final=None, swiss_rounds=None):
    """A started tournament of ``n`` players playing best-of series; returns it and its
    organizer."""
    organizer = make_user(f"series-org-{next(_names)}")
    tournament = tournament_create(
        organizer=organizer,
        name=f"{format} of {n}",
        format=format,
        max_participants=n,
        best_of=best_of,
        best_of_final=best_of_final,
        swiss_rounds=swiss_rounds,
    )
    for _ in range(n):
        tournament_join(tournament_id=tournament.pk, user=make_user(f"series-{next(_names)}"))
    tournament_start(tournament_id=tournament.pk, user=organizer)
    tournament.refresh_from_db()
    return tournament, organizer


def ready_matches(tournament):
    return list(
        Match.objects.filter(tournament=tournament, status=Status.READY)
        .select_related("participant_a__captain", "participant_b__captain")
        .order_by("bracket", "round", "position")
    )


def series_score(best_of, winner_side, loser_games):
    needed = (best_of + 1) // 2
    return [needed, loser_games] if winner_side == "a" else [loser_games, needed]


def series_games(score, winner_side):
    """Games adding up to ``score``, the loser's wins first, the deciding game last."""
    won_by_a, won_by_b = score
    loser_first = ["b"] * won_by_b + ["a"] * won_by_a
    if winner_side == "b":
        loser_first = ["a"] * won_by_a + ["b"] * won_by_b
    return [[1, 0] if side == "a" else [0, 1] for side in loser_first]


def play_series(match, *, winner_side="a", loser_games=0, games=True):
    """Both captains report the same series result."""
    winner = match.participant_a_id if winner_side == "a" else match.participant_b_id
    scores = series_score(match.best_of, winner_side, loser_games)
    listed = series_games(scores, winner_side) if games else None
    for participant in (match.participant_a, match.participant_b):
        match_report(
            match_id=match.pk, user=participant.captain, winner_id=winner, scores=scores,
            games=listed,
        )  # fmt: skip
    match.refresh_from_db()
    return match


def play_to_the_end(tournament, choose=lambda match: ("a", 0)):
    for _ in range(1000):
        ready = ready_matches(tournament)
        if not ready:
            return
        for match in ready:
            side, loser_games = choose(match)
            play_series(match, winner_side=side, loser_games=loser_games)
    raise AssertionError("the tournament never ran out of ready matches")


# --- best_of is fixed where the bracket is built -------------------------------------------


@pytest.mark.parametrize("n", [2, 4, 5, 8])
def test_single_elimination_plays_the_final_over_best_of_final(make_user, n):
    tournament, _ = started(make_user, format="single_elimination", n=n, best_of_final=5)
    matches = list(Match.objects.filter(tournament=tournament))
    final_round = max(m.round for m in matches)
    assert {(m.round == final_round, m.best_of) for m in matches} <= {(True, 5), (False, 3)}
    assert [m.best_of for m in matches if m.round == final_round] == [5]
    assert all(m.next_match_id is None for m in matches if m.best_of == 5)


def test_without_best_of_final_every_match_is_best_of(make_user):
    tournament, _ = started(make_user, format="single_elimination", n=4, best_of=5)
    assert set(Match.objects.filter(tournament=tournament).values_list("best_of", flat=True)) == {5}


def test_one_game_matches_stay_one_game(make_user):
    tournament, _ = started(make_user, format="double_elimination", n=4, best_of=1)
    assert set(Match.objects.filter(tournament=tournament).values_list("best_of", flat=True)) == {1}


def test_double_elimination_plays_both_grand_finals_over_best_of_final(make_user):
    tournament, _ = started(make_user, format="double_elimination", n=4, best_of_final=7)

    def losers_side_wins_the_grand_final(match):
        return ("b", 1) if match.bracket == "grand_final" and match.round == 1 else ("a", 0)

    play_to_the_end(tournament, losers_side_wins_the_grand_final)

    tournament.refresh_from_db()
    assert tournament.status == Tournament.Status.COMPLETED
    matches = list(Match.objects.filter(tournament=tournament))
    grand_finals = sorted((m.round, m.best_of) for m in matches if m.bracket == "grand_final")
    assert grand_finals == [(1, 7), (2, 7)]  # the second one made by the bracket reset
    assert {m.best_of for m in matches if m.bracket != "grand_final"} == {3}
    second = next(m for m in matches if m.bracket == "grand_final" and m.round == 2)
    assert second.scores == [4, 0] and second.games == [[1, 0]] * 4


@pytest.mark.parametrize("format", ["round_robin", "swiss"])
def test_round_robin_and_swiss_play_best_of_everywhere(make_user, format):
    tournament, _ = started(make_user, format=format, n=4, best_of=3, best_of_final=7)
    play_to_the_end(tournament)
    tournament.refresh_from_db()
    assert tournament.status == Tournament.Status.COMPLETED
    matches = Match.objects.filter(tournament=tournament)
    assert matches.count() > 2 and {m.best_of for m in matches} == {3}
    if format == "swiss":
        assert max(m.round for m in matches) == 2  # later rounds, paired as play went on


# --- What a series report must say ----------------------------------------------------------


@pytest.fixture
def series(make_user, client_for):
    """A best-of-3 semi-final, ready, and a way to report on it over REST."""
    tournament, organizer = started(make_user, format="single_elimination", n=4)
    match = ready_matches(tournament)[0]
    a, b = match.participant_a_id, match.participant_b_id

    def report(body, *, side="a"):
        captain = match.participant_a.captain if side == "a" else match.participant_b.captain
        return client_for(captain).post(f"/api/matches/{match.pk}/report", body, format="json")

    def resolve(body):
        return client_for(organizer).post(f"/api/matches/{match.pk}/resolve", body, format="json")

    return tournament, match, a, b, report, resolve


def state(tournament, match):
    """Everything a refused report must leave as it was."""
    match.refresh_from_db()
    tournament.refresh_from_db()
    return (
        match.status,
        match.winner_id,
        match.scores,
        match.games,
        MatchReport.objects.filter(match=match).count(),
        TournamentEvent.objects.filter(tournament=tournament).count(),
        tournament.version,
    )


# (body maker from sides a and b, field named, code)
SERIES_ERRORS = {
    "no scores": (lambda a, b: {"winner": a}, "scores", "invalid_result"),
    "null scores": (lambda a, b: {"winner": a, "scores": None}, "scores", "invalid_result"),
    "unfinished": (lambda a, b: {"winner": a, "scores": [1, 0]}, "scores", "invalid_result"),
    "too many": (lambda a, b: {"winner": a, "scores": [3, 0]}, "scores", "invalid_result"),
    "level": (lambda a, b: {"winner": a, "scores": [2, 2]}, "scores", "invalid_result"),
    "winner behind": (lambda a, b: {"winner": a, "scores": [1, 2]}, "scores", "invalid_result"),
    "winner b, a's score": (
        lambda a, b: {"winner": b, "scores": [2, 0]},
        "scores",
        "invalid_result",
    ),
    "a stranger wins": (
        lambda a, b: {"winner": a + b + 100, "scores": [2, 0]},
        "winner",
        "invalid_result",
    ),
    "games short": (
        lambda a, b: {"winner": a, "scores": [2, 0], "games": [[1, 0]]},
        "games",
        "invalid_result",
    ),
    "games too many": (
        lambda a, b: {"winner": a, "scores": [2, 0], "games": [[1, 0], [2, 0], [3, 0]]},
        "games",
        "invalid_result",
    ),
    "games wrong side": (
        lambda a, b: {"winner": a, "scores": [2, 1], "games": [[1, 0], [0, 1], [0, 2]]},
        "games",
        "invalid_result",
    ),
    "a drawn game": (
        lambda a, b: {"winner": a, "scores": [2, 0], "games": [[1, 0], [1, 1], [2, 0]]},
        "games",
        "invalid_result",
    ),
    "a game after the series was decided": (
        lambda a, b: {"winner": a, "scores": [2, 1], "games": [[1, 0], [1, 0], [0, 1]]},
        "games",
        "invalid_result",
    ),
    "games empty": (
        lambda a, b: {"winner": a, "scores": [2, 0], "games": []},
        "games",
        "invalid_result",
    ),
    "a game of one number": (
        lambda a, b: {"winner": a, "scores": [2, 0], "games": [[1], [1, 0]]},
        "games",
        "invalid",
    ),
    "a negative game score": (
        lambda a, b: {"winner": a, "scores": [2, 0], "games": [[1, 0], [-1, 0]]},
        "games",
        "invalid",
    ),
    "a game of booleans": (
        lambda a, b: {"winner": a, "scores": [2, 0], "games": [[True, False], [1, 0]]},
        "games",
        "invalid",
    ),
    "games not a list": (
        lambda a, b: {"winner": a, "scores": [2, 0], "games": "2-0"},
        "games",
        "invalid",
    ),
    "eight games": (
        lambda a, b: {"winner": a, "scores": [2, 0], "games": [[1, 0]] * 8},
        "games",
        "invalid",
    ),
}


@pytest.mark.parametrize("case", list(SERIES_ERRORS))
@pytest.mark.parametrize("action", ["report", "resolve"])
def test_a_series_result_that_is_wrong_is_400_and_changes_nothing(series, case, action):
    tournament, match, a, b, report, resolve = series
    make_body, field, code = SERIES_ERRORS[case]
    before = state(tournament, match)

    response = (report if action == "report" else resolve)(make_body(a, b))

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == code
    assert list(body["fields"]) == [field]
    assert all(isinstance(message, str) for message in body["fields"][field])
    assert state(tournament, match) == before


def test_a_series_cannot_be_drawn_even_where_draws_are_allowed(make_user, client_for):
    tournament, _ = started(make_user, format="round_robin", n=3)
    match = ready_matches(tournament)[0]
    before = state(tournament, match)
    response = client_for(match.participant_a.captain).post(
        f"/api/matches/{match.pk}/report", {"winner": None, "scores": [1, 1]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_result"
    assert list(response.json()["fields"]) == ["winner"]
    assert state(tournament, match) == before


def test_a_one_game_match_keeps_todays_rules_and_takes_no_games(make_user, client_for):
    tournament, _ = started(make_user, format="single_elimination", n=2, best_of=1)
    match = ready_matches(tournament)[0]
    a_captain, b_captain = match.participant_a.captain, match.participant_b.captain
    url = f"/api/matches/{match.pk}/report"
    before = state(tournament, match)
    refused = client_for(a_captain).post(
        url, {"winner": match.participant_a_id, "games": [[1, 0]]}, format="json"
    )
    assert refused.status_code == 400 and list(refused.json()["fields"]) == ["games"]
    assert state(tournament, match) == before

    # As before issue 13: no scores needed, any winning score, and the one report's scores.
    first = client_for(a_captain).post(url, {"winner": match.participant_a_id}, format="json")
    assert first.status_code == 200 and first.json()["status"] == "awaiting_confirmation"
    second = client_for(b_captain).post(
        url, {"winner": match.participant_a_id, "scores": [13, 2]}, format="json"
    )
    assert second.status_code == 200, second.content
    assert second.json()["status"] == "completed"
    assert second.json()["scores"] == [13, 2] and second.json()["games"] is None


# --- Agreement ---------------------------------------------------------------------------------


def test_agreeing_series_reports_complete_the_match_with_score_and_games(series):
    tournament, match, a, b, report, _ = series
    games = [[3, 1], [0, 2], [5, 4]]
    first = report({"winner": a, "scores": [2, 1], "games": games})
    assert first.status_code == 200, first.content
    assert first.json()["status"] == "awaiting_confirmation"
    assert first.json()["reports"][0]["games"] == games
    second = report({"winner": a, "scores": [2, 1], "games": games}, side="b")
    assert second.status_code == 200, second.content
    body = second.json()
    assert (body["status"], body["winner"], body["scores"], body["games"]) == (
        "completed",
        a,
        [2, 1],
        games,
    )
    assert body["best_of"] == 3
    match.refresh_from_db()
    assert match.games == games


def test_the_same_winner_with_another_series_score_is_a_dispute(series):
    tournament, match, a, b, report, resolve = series
    assert report({"winner": a, "scores": [2, 1]}).status_code == 200
    second = report({"winner": a, "scores": [2, 0]}, side="b")
    assert second.status_code == 200
    assert second.json()["status"] == "disputed"
    assert second.json()["scores"] is None

    settled = resolve({"winner": b, "scores": [1, 2], "games": [[0, 1], [1, 0], [0, 1]]})
    assert settled.status_code == 200, settled.content
    body = settled.json()
    assert (body["status"], body["winner"], body["scores"], body["games"]) == (
        "completed",
        b,
        [1, 2],
        [[0, 1], [1, 0], [0, 1]],
    )


def test_the_games_of_the_side_that_listed_them_are_kept(series):
    tournament, match, a, b, report, _ = series
    assert report({"winner": b, "scores": [0, 2]}).status_code == 200
    second = report({"winner": b, "scores": [0, 2], "games": [[0, 3], [1, 2]]}, side="b")
    assert second.json()["status"] == "completed"
    assert second.json()["games"] == [[0, 3], [1, 2]]


def test_different_games_with_the_same_score_agree_but_keep_no_games(series):
    tournament, match, a, b, report, _ = series
    assert report({"winner": a, "scores": [2, 0], "games": [[1, 0], [1, 0]]}).status_code == 200
    second = report({"winner": a, "scores": [2, 0], "games": [[9, 0], [9, 0]]}, side="b")
    body = second.json()
    assert (body["status"], body["scores"], body["games"]) == ("completed", [2, 0], None)
    assert sorted(r["games"] for r in body["reports"]) == [[[1, 0], [1, 0]], [[9, 0], [9, 0]]]


def test_an_overdue_series_report_is_confirmed_with_its_games(series):
    tournament, match, a, b, report, _ = series
    games = [[1, 0], [0, 1], [1, 0]]
    assert report({"winner": a, "scores": [2, 1], "games": games}).status_code == 200
    confirmed = match_confirm_overdue(
        match_id=match.pk, reported_before=timezone.now() + timedelta(seconds=1)
    )
    assert confirmed is not None and confirmed.status == Status.COMPLETED
    match.refresh_from_db()
    assert (match.scores, match.games) == ([2, 1], [[1, 0], [0, 1], [1, 0]])


def test_a_reset_forgets_the_games(series, client_for):
    tournament, match, a, b, report, _ = series
    play_series(match, loser_games=1)
    assert match.games is not None
    response = client_for(tournament.organizer).post(f"/api/matches/{match.pk}/reset")
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["games"]) == ("ready", None)
    match.refresh_from_db()
    assert (match.scores, match.games) == (None, None)


def test_the_match_socket_takes_games_too(series):
    """The socket's report runs the same input and service as REST (consumers.live)."""
    from consumers.live import MatchConsumer

    tournament, match, a, b, *_ = series
    consumer = MatchConsumer()
    consumer.match_id, consumer.user = match.pk, match.participant_a.captain
    payload = consumer._act(
        service="match_report",
        frame={"winner": a, "scores": [2, 0], "games": [[1, 0], [1, 0]], "action": "report"},
    )
    assert payload["reports"][0]["games"] == [[1, 0], [1, 0]]


# --- Every format, played to the end in series -------------------------------------------------

FORMAT_SIZES = {
    "single_elimination": st.integers(2, 7),
    "double_elimination": st.integers(2, 6),
    "round_robin": st.integers(2, 5),
    "swiss": st.integers(2, 6),
}


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_every_format_plays_series_to_the_end(make_user, data):
    format = data.draw(st.sampled_from(sorted(FORMAT_SIZES)))
    n = data.draw(FORMAT_SIZES[format])
    best_of = data.draw(st.sampled_from([1, 3, 5, 7]))
    best_of_final = data.draw(st.sampled_from([None, 1, 3, 5, 7]))
    tournament, _ = started(
        make_user, format=format, n=n, best_of=best_of, best_of_final=best_of_final
    )

    for _ in range(200):
        ready = ready_matches(tournament)
        if not ready:
            break
        for match in ready:
            side = data.draw(st.sampled_from("ab"))
            if match.best_of == 1:
                winner = match.participant_a_id if side == "a" else match.participant_b_id
                for participant in (match.participant_a, match.participant_b):
                    match_report(match_id=match.pk, user=participant.captain, winner_id=winner)
                continue
            loser_games = data.draw(st.integers(0, match.best_of // 2))
            play_series(
                match, winner_side=side, loser_games=loser_games, games=data.draw(st.booleans())
            )
    tournament.refresh_from_db()
    assert tournament.status == Tournament.Status.COMPLETED

    final = best_of if best_of_final is None else best_of_final
    for match in Match.objects.filter(tournament=tournament):
        deciding = match.bracket == "grand_final" or (
            format == "single_elimination" and match.next_match_id is None
        )
        assert match.best_of == (final if deciding else best_of), (match.bracket, match.round)
        assert match.status == Status.COMPLETED
        if match.is_bye or match.best_of == 1:
            assert match.games is None
            continue
        needed = (match.best_of + 1) // 2
        a_won = match.winner_id == match.participant_a_id
        won, lost = match.scores if a_won else match.scores[::-1]
        assert won == needed and lost < needed
        if match.games is not None:
            assert len(match.games) == sum(match.scores)


def test_a_resolve_by_someone_else_is_refused_before_the_series_rules(series, client_for):
    tournament, match, a, b, report, _ = series
    before = state(tournament, match)
    response = client_for(match.participant_a.captain).post(
        f"/api/matches/{match.pk}/resolve", {"winner": a, "scores": [2, 0]}, format="json"
    )
    assert response.status_code == 403
    assert state(tournament, match) == before


def test_resolve_with_the_service_checks_the_series_too(series):
    tournament, match, a, b, *_ = series
    from matches.errors import InvalidResult

    with pytest.raises(InvalidResult):
        match_resolve(match_id=match.pk, user=tournament.organizer, winner_id=a, scores=[1, 0])
