"""Brackets and results through the REST API: every format from start to paid prizes."""

import itertools

import pytest
from django.db.models import Sum

from matches.models import Match
from tests.wallets.test_ledger import assert_invariants
from tournaments.models import Tournament
from tournaments.services import tournament_create, tournament_join
from wallets.models import Account, Posting

pytestmark = pytest.mark.django_db

FEE = 100


@pytest.fixture
def cup(make_user, client_for):
    """Make a started tournament of ``n`` funded players; returns a small driver."""

    def make(n, *, format, prize_split=(100,), swiss_rounds=None, seeding="registration"):
        organizer = make_user()
        players = [make_user(funds=FEE) for _ in range(n)]
        tournament = tournament_create(
            organizer=organizer,
            name=f"{format} of {n}",
            format=format,
            max_participants=max(n, 2),
            entry_fee=FEE,
            prize_split=list(prize_split),
            swiss_rounds=swiss_rounds,
        )
        for player in players:
            tournament_join(tournament_id=tournament.pk, user=player)
        response = client_for(organizer).post(
            f"/api/tournaments/{tournament.pk}/start", {"seeding": seeding}, format="json"
        )
        assert response.status_code == 200, response.json()
        return Driver(tournament, organizer, players, client_for)

    return make


class Driver:
    def __init__(self, tournament, organizer, players, client_for):
        self.tournament = tournament
        self.organizer = organizer
        self.players = players
        self.client_for = client_for
        self.player_of = {}
        for participant in tournament.participants.all():
            self.player_of[participant.pk] = participant.captain

    def bracket(self):
        response = self.client_for().get(f"/api/tournaments/{self.tournament.pk}/bracket")
        assert response.status_code == 200
        return response.json()["matches"]

    def playable(self):
        return [m for m in self.bracket() if m["status"] == "ready"]

    def report(self, match, winner, *, by=None, scores=None):
        user = self.player_of[by or match["participant_a"]]
        body = {"winner": winner} | ({"scores": scores} if scores else {})
        return self.client_for(user).post(f"/api/matches/{match['id']}/report", body, format="json")

    def play(self, match, winner, scores=None):
        """Both sides report the same result: the match completes."""
        first = self.report(match, winner, by=match["participant_a"], scores=scores)
        assert first.status_code == 200, first.json()
        assert first.json()["status"] == "awaiting_confirmation"
        second = self.report(match, winner, by=match["participant_b"], scores=scores)
        assert second.status_code == 200, second.json()
        assert second.json()["status"] == "completed"
        return second.json()

    def organizer_post(self, match, action, body=None):
        return self.client_for(self.organizer).post(
            f"/api/matches/{match['id']}/{action}", body or {}, format="json"
        )

    def standings(self):
        response = self.client_for().get(f"/api/tournaments/{self.tournament.pk}/standings")
        assert response.status_code == 200
        return response.json()

    def refreshed(self):
        self.tournament.refresh_from_db()
        return self.tournament


def wallet(user):
    return Account.objects.get(user=user).balance


def test_single_elimination_of_8_played_through_the_api(cup):
    driver = cup(8, format="single_elimination", prize_split=(60, 30, 10))
    first_round = driver.playable()
    assert [(m["participant_a"], m["participant_b"]) for m in first_round] == [
        tuple(driver.tournament.participants.filter(seed=s).get().pk for s in pair)
        for pair in [(1, 8), (4, 5), (2, 7), (3, 6)]
    ]
    # The higher seed (side a) always wins.
    while playable := driver.playable():
        for match in playable:
            driver.play(match, match["participant_a"], scores=[2, 1])

    tournament = driver.refreshed()
    assert tournament.status == Tournament.Status.COMPLETED
    standings = driver.standings()
    seed_of = dict(tournament.participants.values_list("pk", "seed"))
    assert [seed_of[row["participant"]] for row in standings[:2]] == [1, 2]
    assert [row["rank"] for row in standings] == [1, 2, 3, 3, 5, 5, 5, 5]
    # 800 in the pool: 1st 480, 2nd 240, the two semifinal losers share 3rd and 4th: 10%.
    by_seed = {seed_of[p.pk]: p for p in tournament.participants.all()}
    assert wallet(by_seed[1].captain) == 480
    assert wallet(by_seed[2].captain) == 240
    assert wallet(by_seed[3].captain) == wallet(by_seed[4].captain) == 40
    assert Account.objects.get(pk=tournament.escrow_id).balance == 0
    assert Posting.objects.filter(kind="prize", tournament_id=tournament.pk).count() == 4
    assert_invariants()
    events = driver.client_for().get(f"/api/tournaments/{tournament.pk}/events").json()
    versions = [e["version"] for e in events["events"]]
    assert versions == list(range(1, len(versions) + 1)) and versions[-1] == events["version"]
    assert events["events"][-1]["event"] == "tournament.completed"


@pytest.mark.parametrize("losers_side_wins_first_final", [False, True])
def test_double_elimination_of_4_in_both_grand_final_cases(cup, losers_side_wins_first_final):
    driver = cup(4, format="double_elimination")
    grand_finals = []
    while playable := driver.playable():
        for match in playable:
            if match["bracket"] == "grand_final" and match["round"] == 1:
                grand_finals.append(match)
                winner = match["participant_b" if losers_side_wins_first_final else "participant_a"]
            else:
                winner = match["participant_a"]
            driver.play(match, winner)

    bracket = driver.bracket()
    second_final = [m for m in bracket if m["bracket"] == "grand_final" and m["round"] == 2]
    assert len(second_final) == (1 if losers_side_wins_first_final else 0)
    tournament = driver.refreshed()
    assert tournament.status == Tournament.Status.COMPLETED
    played = [m for m in bracket if m["status"] == "completed"]
    assert len(played) == (7 if losers_side_wins_first_final else 6)  # 2n-1 or 2n-2
    champion = driver.standings()[0]["participant"]
    assert wallet(driver.player_of[champion]) == 400
    assert_invariants()


def test_resetting_the_first_grand_final_removes_the_second_with_an_event(cup):
    driver = cup(4, format="double_elimination")
    while playable := driver.playable():
        match = playable[0]
        if match["bracket"] == "grand_final":
            first_final = match
            driver.play(match, match["participant_b"])  # the losers-bracket side wins
            break
        driver.play(match, match["participant_a"])
    (second_final,) = [m for m in driver.bracket() if m["bracket"] == "grand_final"][1:]

    response = driver.organizer_post(first_final, "reset")

    assert response.status_code == 200
    assert [m["id"] for m in driver.bracket() if m["bracket"] == "grand_final"] == [
        first_final["id"]
    ]
    events = driver.client_for().get(
        f"/api/tournaments/{driver.tournament.pk}/events",
        {"since": driver.refreshed().version - 2},
    )
    names = [(e["event"], e["data"].get("match_id")) for e in events.json()["events"]]
    assert names == [("match.removed", second_final["id"]), ("match.reset", None)]


def _to_the_second_grand_final(driver):
    """Play a double elimination of 4 until the losers-bracket side won the first grand
    final; returns the first and second grand finals."""
    while playable := driver.playable():
        match = playable[0]
        if match["bracket"] == "grand_final":
            driver.play(match, match["participant_b"])  # the losers-bracket side wins
            break
        driver.play(match, match["participant_a"])
    first, second = [m for m in driver.bracket() if m["bracket"] == "grand_final"]
    return first, second


def test_overriding_the_first_grand_final_the_same_way_keeps_the_second(cup):
    """The second grand final used to be made again before the old one was deleted, which
    its unique place refused: every such resolve answered 500."""
    driver = cup(4, format="double_elimination")
    first, second = _to_the_second_grand_final(driver)
    version = driver.refreshed().version

    response = driver.organizer_post(
        first, "resolve", {"winner": first["participant_b"], "scores": [1, 3]}
    )

    assert response.status_code == 200, response.json()
    assert response.json()["scores"] == [1, 3]
    finals = [m for m in driver.bracket() if m["bracket"] == "grand_final"]
    assert [(m["id"], m["status"]) for m in finals] == [
        (first["id"], "completed"),
        (second["id"], "ready"),
    ]
    assert driver.refreshed().status == Tournament.Status.IN_PROGRESS
    events = driver.client_for().get(
        f"/api/tournaments/{driver.tournament.pk}/events", {"since": version}
    )
    names = [(e["event"], e["data"]["match"]["id"]) for e in events.json()["events"]]
    assert sorted(names) == sorted(
        [("match.completed", first["id"]), ("match.updated", second["id"])]
    )


def test_overriding_the_first_grand_final_the_other_way_removes_the_second_and_ends(cup):
    driver = cup(4, format="double_elimination")
    first, second = _to_the_second_grand_final(driver)

    response = driver.organizer_post(first, "resolve", {"winner": first["participant_a"]})

    assert response.status_code == 200, response.json()
    assert [m["id"] for m in driver.bracket() if m["bracket"] == "grand_final"] == [first["id"]]
    tournament = driver.refreshed()
    assert tournament.status == Tournament.Status.COMPLETED
    assert wallet(driver.player_of[first["participant_a"]]) == 400
    assert_invariants()


@pytest.mark.parametrize(
    ("winner_side", "scores"),
    [("participant_a", [0, 2]), ("participant_b", [3, 1]), ("participant_a", [2, 2])],
)
def test_scores_that_contradict_the_winner_are_400_and_change_nothing(cup, winner_side, scores):
    driver = cup(2, format="single_elimination")
    (match,) = driver.playable()
    version = driver.refreshed().version

    for response in [
        driver.report(match, match[winner_side], scores=scores),
        driver.organizer_post(match, "resolve", {"winner": match[winner_side], "scores": scores}),
    ]:
        assert response.status_code == 400, response.json()
        assert response.json()["code"] == "invalid_result"
        assert "scores" in response.json()["fields"]
    assert Match.objects.get(pk=match["id"]).status == Match.Status.READY
    assert driver.refreshed().version == version


def test_a_draw_needs_level_scores(cup):
    driver = cup(4, format="round_robin")
    match = driver.playable()[0]
    response = driver.report(match, None, scores=[2, 1])
    assert response.status_code == 400
    assert "scores" in response.json()["fields"]
    driver.play(match, None, scores=[1, 1])


def test_round_robin_of_4_with_a_draw(cup):
    driver = cup(4, format="round_robin", prize_split=(70, 30))
    matches = driver.playable()
    assert len(matches) == 6
    pairs = {frozenset((m["participant_a"], m["participant_b"])) for m in matches}
    assert len(pairs) == 6
    driver.play(matches[0], None, scores=[1, 1])  # a draw
    for match in matches[1:]:
        driver.play(match, match["participant_a"])

    assert driver.refreshed().status == Tournament.Status.COMPLETED
    standings = driver.standings()
    assert [row["rank"] for row in standings] == [1, 2, 3, 4]
    assert sum(row["draws"] for row in standings) == 2
    assert sum(row["wins"] for row in standings) == 5
    first, second = standings[0]["participant"], standings[1]["participant"]
    assert wallet(driver.player_of[first]) == 280
    assert wallet(driver.player_of[second]) == 120
    assert_invariants()


def test_swiss_of_8_over_3_rounds_without_rematches(cup):
    driver = cup(8, format="swiss", swiss_rounds=3)
    seen = set()
    for round_number in (1, 2, 3):
        playable = driver.playable()
        assert len(playable) == 4
        assert {m["round"] for m in playable} == {round_number}
        for i, match in enumerate(playable):
            pair = frozenset((match["participant_a"], match["participant_b"]))
            assert pair not in seen
            seen.add(pair)
            winner = None if (round_number, i) == (2, 0) else match["participant_b"]
            driver.play(match, winner)
    assert driver.refreshed().status == Tournament.Status.COMPLETED
    assert [row["rank"] for row in driver.standings()] == list(range(1, 9))
    assert Account.objects.get(pk=driver.tournament.escrow_id).balance == 0
    assert_invariants()


def test_swiss_with_an_odd_field_gives_a_bye_that_counts_as_a_win(cup):
    driver = cup(5, format="swiss")
    byes = [m for m in driver.bracket() if m["status"] == "completed"]
    assert len(byes) == 1 and byes[0]["participant_b"] is None
    assert byes[0]["winner"] == byes[0]["participant_a"]


def test_single_elimination_byes_go_to_the_top_seeds_and_complete_at_start(cup):
    driver = cup(6, format="single_elimination")
    first_round = [m for m in driver.bracket() if m["round"] == 1]
    byes = [m for m in first_round if m["status"] == "completed"]
    seed_of = dict(driver.tournament.participants.values_list("pk", "seed"))
    assert sorted(seed_of[m["winner"]] for m in byes) == [1, 2]
    second_round = [m for m in driver.bracket() if m["round"] == 2]
    assert {seed_of[m["participant_a"]] for m in second_round} == {1, 2}


def test_reset_is_refused_once_the_next_match_has_a_result(cup):
    driver = cup(4, format="single_elimination")
    semi_1, semi_2 = driver.playable()
    driver.play(semi_1, semi_1["participant_a"])
    response = driver.organizer_post(semi_1, "reset")
    assert response.status_code == 200
    assert response.json()["status"] == "ready" and response.json()["reports"] == []
    final = next(m for m in driver.bracket() if m["round"] == 2)
    assert final["participant_a"] is None and final["status"] == "pending"

    driver.play(semi_1, semi_1["participant_a"])
    driver.play(semi_2, semi_2["participant_a"])
    final = next(m for m in driver.bracket() if m["round"] == 2)
    driver.report(final, final["participant_a"])  # the final now has a result in progress
    response = driver.organizer_post(semi_1, "reset")
    assert response.status_code == 409
    assert response.json()["code"] == "downstream_played"
    assert Match.objects.get(pk=semi_1["id"]).status == "completed"


def test_report_errors(cup, make_user, client_for):
    driver = cup(4, format="single_elimination")
    match = driver.playable()[0]
    final = next(m for m in driver.bracket() if m["round"] == 2)
    stranger = client_for(make_user())

    response = stranger.post(
        f"/api/matches/{match['id']}/report", {"winner": match["participant_a"]}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (403, "not_a_player")
    assert (
        driver.client_for()
        .post(f"/api/matches/{match['id']}/report", {"winner": 1}, format="json")
        .status_code
        == 401
    )

    response = driver.report(final, final["participant_a"], by=match["participant_a"])
    assert (response.status_code, response.json()["code"]) == (403, "not_a_player")

    response = driver.report(match, 999999)
    assert (response.status_code, response.json()["code"]) == (400, "invalid_result")
    response = driver.report(match, None)
    assert (response.status_code, response.json()["code"]) == (400, "invalid_result")
    for bad_winner in (str(match["participant_a"]), float(match["participant_a"]), True):
        response = driver.report(match, bad_winner)
        assert response.status_code == 400 and "winner" in response.json()["fields"]
    response = driver.report(match, match["participant_a"], scores=[1.0, 0])
    assert response.status_code == 400 and "scores" in response.json()["fields"]
    response = driver.client_for(driver.player_of[match["participant_a"]]).post(
        f"/api/matches/{match['id']}/report", {"scores": [1, 2]}, format="json"
    )
    assert response.status_code == 400 and "winner" in response.json()["fields"]

    assert driver.report(match, match["participant_a"]).status_code == 200
    response = driver.report(match, match["participant_a"])
    assert (response.status_code, response.json()["code"]) == (409, "already_reported")

    response = driver.report(match, match["participant_a"], by=match["participant_b"])
    assert response.json()["status"] == "completed"
    response = driver.report(match, match["participant_b"], by=match["participant_b"])
    assert (response.status_code, response.json()["code"]) == (409, "match_closed")

    driver.play(driver.playable()[0], driver.playable()[0]["participant_a"])
    assert driver.client_for().get(f"/api/matches/{final['id']}").json()["status"] == "ready"
    assert driver.client_for().get("/api/matches/999999").status_code == 404


def test_report_on_a_pending_match_is_refused(cup):
    driver = cup(4, format="single_elimination")
    final = next(m for m in driver.bracket() if m["round"] == 2)
    semi = driver.playable()[0]
    driver.play(semi, semi["participant_a"])
    response = driver.report(final, semi["participant_a"], by=semi["participant_a"])
    assert (response.status_code, response.json()["code"]) == (409, "match_not_ready")


def test_disagreeing_reports_open_a_dispute_that_the_organizer_settles(cup):
    driver = cup(2, format="single_elimination")
    (final,) = driver.playable()
    driver.report(final, final["participant_a"], by=final["participant_a"])
    response = driver.report(final, final["participant_b"], by=final["participant_b"])
    assert response.json()["status"] == "disputed"
    assert len(response.json()["reports"]) == 2

    player = driver.client_for(driver.player_of[final["participant_a"]])
    response = player.post(
        f"/api/matches/{final['id']}/resolve", {"winner": final["participant_a"]}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (403, "not_organizer")

    response = driver.organizer_post(
        final, "resolve", {"winner": final["participant_b"], "scores": [0, 3]}
    )
    assert response.status_code == 200
    assert (
        response.json()["status"] == "completed"
        and response.json()["winner"] == final["participant_b"]
    )
    assert driver.refreshed().status == Tournament.Status.COMPLETED
    assert wallet(driver.player_of[final["participant_b"]]) == 200


def test_start_errors(make_user, client_for):
    organizer = make_user()
    tournament = tournament_create(
        organizer=organizer, name="Lonely", format="swiss", max_participants=4
    )
    tournament_join(tournament_id=tournament.pk, user=make_user())
    url = f"/api/tournaments/{tournament.pk}/start"
    response = client_for(organizer).post(url, {}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "not_enough_participants")
    response = client_for(make_user()).post(url, {}, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "not_organizer")
    response = client_for(organizer).post(url, {"seeding": "alphabetical"}, format="json")
    assert response.status_code == 400 and "seeding" in response.json()["fields"]
    tournament_join(tournament_id=tournament.pk, user=make_user())
    assert client_for(organizer).post(url, {"seeding": "random"}, format="json").status_code == 200
    response = client_for(organizer).post(url, {}, format="json")
    assert response.status_code == 409
    # Registration is closed once it started.
    response = client_for(make_user()).post(
        f"/api/tournaments/{tournament.pk}/join", {}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (409, "registration_closed")


def test_prizes_of_a_team_are_split_among_its_roster(make_user, client_for):
    from tournaments.models import TeamMember
    from tournaments.services import team_create

    organizer = make_user()
    tournament = tournament_create(
        organizer=organizer,
        name="Teams",
        format="single_elimination",
        team_size=3,
        max_participants=2,
        entry_fee=FEE,
    )
    rosters = []
    for i in range(2):
        captain = make_user(funds=FEE)
        team = team_create(user=captain, name=f"T{i}")
        members = [make_user(funds=FEE) for _ in range(2)]
        TeamMember.objects.bulk_create(TeamMember(team=team, user=m) for m in members)
        tournament_join(tournament_id=tournament.pk, user=captain, team_id=team.pk)
        rosters.append([captain, *members])
    client_for(organizer).post(f"/api/tournaments/{tournament.pk}/start", {}, format="json")
    (final,) = client_for().get(f"/api/tournaments/{tournament.pk}/bracket").json()["matches"]
    winner = final["participant_a"]
    captain_of = {p.pk: p.captain for p in tournament.participants.all()}
    for side in ("participant_a", "participant_b"):
        client_for(captain_of[final[side]]).post(
            f"/api/matches/{final['id']}/report", {"winner": winner}, format="json"
        )
    # 600 in the pool for a roster of 3: 200 each.
    winners = rosters[0] if captain_of[winner] == rosters[0][0] else rosters[1]
    assert sorted(wallet(u) for u in winners) == [200, 200, 200]
    assert_invariants()


# Lock the match (with its tournament and sides), its reports; insert the report; lock the
# match it feeds, its reports; one bulk UPDATE of both matches; the tournament UPDATE that
# takes the event versions; the events; and the savepoint pair of the atomic block.
RESULT_QUERIES = 10


@pytest.mark.parametrize("n", [4, 256])
def test_recording_a_result_runs_a_constant_number_of_queries(
    make_user, django_assert_num_queries, n
):
    from matches.services import match_report, tournament_start

    organizer = make_user()
    tournament = tournament_create(
        organizer=organizer, name=f"Big {n}", format="single_elimination", max_participants=n
    )
    for _ in range(n):
        tournament_join(tournament_id=tournament.pk, user=make_user())
    tournament_start(tournament_id=tournament.pk, user=organizer)
    match = (
        Match.objects.filter(tournament=tournament, round=1, status="ready")
        .select_related("participant_a__captain", "participant_b__captain")
        .first()
    )
    match_report(
        match_id=match.pk, user=match.participant_a.captain, winner_id=match.participant_a_id
    )

    with django_assert_num_queries(RESULT_QUERIES):
        match_report(
            match_id=match.pk, user=match.participant_b.captain, winner_id=match.participant_a_id
        )

    assert Match.objects.get(pk=match.pk).status == "completed"
    assert Match.objects.get(pk=match.next_match_id).participant_a_id == match.participant_a_id


def test_money_is_conserved_over_every_format(cup):
    for fmt in ("single_elimination", "double_elimination", "round_robin", "swiss"):
        driver = cup(5, format=fmt, prize_split=(50, 30, 20))
        for _ in itertools.count():
            playable = driver.playable()
            if not playable:
                break
            for match in playable:
                driver.play(match, match["participant_b"])
        assert driver.refreshed().status == Tournament.Status.COMPLETED, fmt
        paid = Account.objects.filter(user__in=driver.players).aggregate(s=Sum("balance"))["s"]
        assert paid == 5 * FEE, fmt
    assert_invariants()
