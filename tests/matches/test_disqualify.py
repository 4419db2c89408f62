"""POST /api/tournaments/{id}/participants/{pid}/disqualify (API.md, "Match play")."""

import pytest
from django.db.models import Q

from matches.models import Match
from tests.matches.test_forfeit import captain, cup, events_of, match_of, state_of
from tournaments.models import Participant, Tournament
from tournaments.services import tournament_create, tournament_join, tournament_refunds_chunk
from wallets.models import Account, Posting

pytestmark = pytest.mark.django_db

FEE = 100


def disqualify(client, tournament, participant_id):
    return client.post(f"/api/tournaments/{tournament.pk}/participants/{participant_id}/disqualify")


def play(client_for, match, winner_id):
    """Both sides report ``winner_id``: the match completes."""
    match = Match.objects.get(pk=match.pk)
    for side in (match.participant_a_id, match.participant_b_id):
        response = client_for(captain(side)).post(
            f"/api/matches/{match.pk}/report", {"winner": winner_id}, format="json"
        )
        assert response.status_code == 200, response.json()


def open_matches_of(tournament, participant_id):
    return list(
        Match.objects.filter(tournament=tournament)
        .filter(Q(participant_a_id=participant_id) | Q(participant_b_id=participant_id))
        .exclude(status="completed")
        .order_by("pk")
    )


def balance(participant_id):
    return Account.objects.get(user=captain(participant_id)).balance


def test_disqualifying_forfeits_the_current_match_at_once(make_user, client_for):
    tournament, organizer = cup(make_user)
    match = match_of(tournament)
    cheat, opponent = match.participant_a_id, match.participant_b_id
    version = Tournament.objects.get(pk=tournament.pk).version

    response = disqualify(client_for(organizer), tournament, cheat)

    assert response.status_code == 200, response.json()
    assert (response.json()["id"], response.json()["status"]) == (cheat, "disqualified")
    assert Participant.objects.get(pk=cheat).status == "disqualified"
    stored = Match.objects.get(pk=match.pk)
    assert (stored.status, stored.winner_id, stored.forfeit_id, stored.scores) == (
        "completed",
        opponent,
        cheat,
        None,
    )
    events = [e for e in events_of(tournament) if e.version > version]
    assert [e.name for e in events] == [
        "participant.disqualified",
        "match.forfeited",
        "match.completed",
        "match.updated",  # the final, where the opponent moves on
    ]
    assert events[0].data["participant"] == response.json()
    assert [e.version for e in events] == list(range(version + 1, version + 5))


def test_a_disqualified_winner_to_be_forfeits_the_final_as_it_becomes_ready_and_takes_nothing(
    make_user, client_for
):
    tournament, organizer = cup(make_user, prize_split=(50, 30, 20))
    first, second = match_of(tournament), match_of(tournament, position=2)
    favourite = first.participant_a_id
    play(client_for, first, favourite)
    final = match_of(tournament, round=2)
    assert final.status == "pending"

    assert disqualify(client_for(organizer), tournament, favourite).status_code == 200
    final.refresh_from_db()
    assert (final.status, final.forfeit_id) == ("pending", None)  # nobody to forfeit to yet

    play(client_for, second, second.participant_a_id)

    final.refresh_from_db()
    champion = second.participant_a_id
    assert (final.status, final.winner_id, final.forfeit_id) == ("completed", champion, favourite)
    tournament.refresh_from_db()
    assert tournament.status == Tournament.Status.COMPLETED
    # The favourite would have been 2nd: skipped, the two semifinal losers move up to 2nd-3rd.
    semifinal_losers = sorted([first.participant_b_id, second.participant_b_id])
    completed = events_of(tournament)[-1]
    assert completed.name == "tournament.completed"
    assert completed.data["placements"] == [[champion], semifinal_losers]
    pool = 4 * FEE
    assert balance(champion) == pool * 50 // 100
    for loser in semifinal_losers:
        assert balance(loser) == pool * (30 + 20) // 200
    assert balance(favourite) == 0  # the fee is kept and no prize is paid
    prized = set(
        Posting.objects.filter(kind="prize", tournament_id=tournament.pk).values_list(
            "reference", flat=True
        )
    )
    assert f"participant:{favourite}" not in prized
    assert Account.objects.get(pk=tournament.escrow_id).balance == 0
    names = [e.name for e in events_of(tournament)]
    assert names[-4:] == [
        "match.completed",  # the semifinal
        "match.forfeited",  # the final, at once
        "match.completed",
        "tournament.completed",
    ]


def test_round_robin_forfeits_every_ready_match_and_skips_the_placement(make_user, client_for):
    tournament, organizer = cup(make_user, n=4, format="round_robin", prize_split=(60, 40))
    cheat = Participant.objects.filter(tournament=tournament).order_by("seed").first().pk
    assert len(open_matches_of(tournament, cheat)) == 3

    assert disqualify(client_for(organizer), tournament, cheat).status_code == 200

    forfeited = Match.objects.filter(tournament=tournament, forfeit_id=cheat)
    assert forfeited.count() == 3
    assert all(m.status == "completed" and m.winner_id != cheat for m in forfeited)
    assert events_of(tournament)[-1].name == "match.completed"
    for match in Match.objects.filter(tournament=tournament).exclude(status="completed"):
        play(client_for, match, match.participant_a_id)
    tournament.refresh_from_db()
    assert tournament.status == Tournament.Status.COMPLETED
    placements = events_of(tournament)[-1].data["placements"]
    assert cheat not in [p for group in placements for p in group]
    assert len(placements) == 3
    assert balance(cheat) == 0


def test_swiss_pairs_the_disqualified_and_forfeits_their_matches_as_rounds_are_paired(
    make_user, client_for
):
    """Two disqualified in round 1 both lose it, meet in round 2, and side b forfeits."""
    tournament, organizer = cup(make_user, n=4, format="swiss")
    first, second = (
        match_of(tournament, bracket="group"),
        match_of(tournament, bracket="group", position=2),
    )
    cheats = {first.participant_a_id, second.participant_a_id}
    for cheat in sorted(cheats):
        assert disqualify(client_for(organizer), tournament, cheat).status_code == 200

    round_two = list(Match.objects.filter(tournament=tournament, round=2).order_by("position"))
    assert len(round_two) == 2
    both = [m for m in round_two if {m.participant_a_id, m.participant_b_id} == cheats]
    assert len(both) == 1
    assert (both[0].status, both[0].forfeit_id) == ("completed", both[0].participant_b_id)
    assert both[0].winner_id == both[0].participant_a_id
    (real,) = [m for m in round_two if m is not both[0]]
    assert real.status == "ready"
    play(client_for, real, real.participant_a_id)
    tournament.refresh_from_db()
    assert tournament.status == Tournament.Status.COMPLETED
    placements = events_of(tournament)[-1].data["placements"]
    assert sorted(p for group in placements for p in group) == sorted(
        {first.participant_b_id, second.participant_b_id}
    )


def test_a_disqualified_participant_is_not_refunded_when_the_tournament_is_cancelled(
    make_user, client_for
):
    tournament, organizer = cup(make_user)
    cheat = match_of(tournament).participant_a_id
    disqualify(client_for(organizer), tournament, cheat)

    assert client_for(organizer).post(f"/api/tournaments/{tournament.pk}/cancel").status_code == 202
    tournament.refresh_from_db()
    assert tournament.refunds_pending == 3
    while tournament_refunds_chunk(tournament_id=tournament.pk):
        pass

    assert balance(cheat) == 0
    others = Participant.objects.filter(tournament=tournament).exclude(pk=cheat)
    assert all(balance(p.pk) == FEE for p in others)
    assert Participant.objects.get(pk=cheat).status == "disqualified"


def test_an_eliminated_participant_can_be_disqualified_and_loses_its_place(make_user, client_for):
    tournament, organizer = cup(make_user, n=2)
    final = match_of(tournament)
    before = Tournament.objects.get(pk=tournament.pk).version

    response = disqualify(client_for(organizer), tournament, final.participant_b_id)

    assert response.status_code == 200
    assert Match.objects.get(pk=final.pk).forfeit_id == final.participant_b_id
    assert [e.name for e in events_of(tournament) if e.version > before][-1] == (
        "tournament.completed"
    )
    assert events_of(tournament)[-1].data["placements"] == [[final.participant_a_id]]


def test_a_reset_match_of_a_disqualified_side_is_the_organizers_to_settle(make_user, client_for):
    tournament, organizer = cup(make_user)
    match = match_of(tournament)
    cheat, opponent = match.participant_a_id, match.participant_b_id
    disqualify(client_for(organizer), tournament, cheat)
    reset = client_for(organizer).post(f"/api/matches/{match.pk}/reset")
    assert (reset.status_code, reset.json()["status"]) == (200, "ready")
    before = state_of(tournament)

    # The disqualified captain can neither report it nor give it up.
    report = client_for(captain(cheat)).post(
        f"/api/matches/{match.pk}/report", {"winner": cheat}, format="json"
    )
    forfeit = client_for(captain(cheat)).post(f"/api/matches/{match.pk}/forfeit", {}, format="json")

    for refused in (report, forfeit):
        assert refused.status_code == 403, refused.json()
        assert refused.json()["code"] == "not_a_player"
        assert "disqualified" in refused.json()["detail"]
    assert state_of(tournament) == before
    resolved = client_for(organizer).post(
        f"/api/matches/{match.pk}/resolve", {"winner": opponent}, format="json"
    )
    assert (resolved.status_code, resolved.json()["winner"]) == (200, opponent)


# --- Refusals, each changing nothing ---------------------------------------------------------


def test_only_the_organizer_disqualifies(make_user, client_for):
    tournament, _ = cup(make_user)
    match = match_of(tournament)
    before = state_of(tournament)

    response = disqualify(
        client_for(captain(match.participant_b_id)), tournament, match.participant_a_id
    )

    assert (response.status_code, response.json()["code"]) == (403, "not_organizer")
    assert state_of(tournament) == before
    assert Participant.objects.get(pk=match.participant_a_id).status == "registered"


def test_a_tournament_not_in_progress_refuses(make_user, client_for):
    organizer = make_user()
    tournament = tournament_create(
        organizer=organizer, name="Open", format="single_elimination", max_participants=4
    )
    participant = tournament_join(tournament_id=tournament.pk, user=make_user())
    before = state_of(tournament)

    response = disqualify(client_for(organizer), tournament, participant.pk)

    assert (response.status_code, response.json()["code"]) == (409, "invalid_status")
    assert state_of(tournament) == before
    assert Participant.objects.get(pk=participant.pk).status == "registered"


def test_a_completed_tournament_refuses(make_user, client_for):
    tournament, organizer = cup(make_user, n=2)
    final = match_of(tournament)
    play(client_for, final, final.participant_a_id)
    before = state_of(tournament)

    response = disqualify(client_for(organizer), tournament, final.participant_a_id)

    assert (response.status_code, response.json()["code"]) == (409, "invalid_status")
    assert state_of(tournament) == before


def test_twice_is_refused(make_user, client_for):
    tournament, organizer = cup(make_user)
    cheat = match_of(tournament).participant_a_id
    disqualify(client_for(organizer), tournament, cheat)
    before = state_of(tournament)

    response = disqualify(client_for(organizer), tournament, cheat)

    assert (response.status_code, response.json()["code"]) == (409, "already_disqualified")
    assert state_of(tournament) == before


def test_unknown_and_foreign_participants_are_not_found(make_user, client_for, anon):
    tournament, organizer = cup(make_user)
    elsewhere, _ = cup(make_user)
    foreign = match_of(elsewhere).participant_a_id
    before = state_of(tournament)

    for participant_id in (foreign, 999999):
        response = disqualify(client_for(organizer), tournament, participant_id)
        assert response.status_code == 404
    response = client_for(organizer).post("/api/tournaments/999999/participants/1/disqualify")
    assert response.status_code == 404
    assert disqualify(anon, tournament, match_of(tournament).participant_a_id).status_code == 401
    assert state_of(tournament) == before
    assert Participant.objects.get(pk=foreign).status == "registered"


def test_a_participant_that_left_is_not_registered(make_user, client_for):
    organizer = make_user()
    tournament = tournament_create(
        organizer=organizer, name="Leavers", format="single_elimination", max_participants=4
    )
    players = [make_user() for _ in range(3)]
    for player in players:
        tournament_join(tournament_id=tournament.pk, user=player)
    client_for(players[0]).post(f"/api/tournaments/{tournament.pk}/leave")
    left = Participant.objects.get(tournament=tournament, captain=players[0])
    assert client_for(organizer).post(f"/api/tournaments/{tournament.pk}/start").status_code == 200
    before = state_of(tournament)

    response = disqualify(client_for(organizer), tournament, left.pk)

    assert (response.status_code, response.json()["code"]) == (409, "not_registered")
    assert state_of(tournament) == before


# --- The console's Disqualify button, and the live page ------------------------------------------


def test_the_console_disqualifies_after_confirmation_and_the_live_page_marks_it(make_user):
    from tests.web.clients import signed_in

    tournament, organizer = cup(make_user)
    cheat = match_of(tournament).participant_a_id
    client = signed_in(organizer)
    path = f"/tournaments/{tournament.pk}/manage/participants/{cheat}/disqualify"
    assert f'action="{path}"' in client.get(f"/tournaments/{tournament.pk}/manage").content.decode()

    before = state_of(tournament)
    assert client.post(path, {}).status_code == 400
    assert state_of(tournament) == before
    assert Participant.objects.get(pk=cheat).status == "registered"

    assert client.post(path, {"confirm": "yes"}).status_code == 303
    assert Participant.objects.get(pk=cheat).status == "disqualified"
    console = client.get(f"/tournaments/{tournament.pk}/manage").content.decode()
    assert f'action="{path}"' not in console
    assert 'data-status="disqualified"' in console
    live = client.get(f"/tournaments/{tournament.pk}/live").content.decode()
    assert 'data-status="disqualified"' in live
    assert "forfeited" in live


def test_the_console_refuses_a_player(make_user):
    from tests.web.clients import signed_in

    tournament, _ = cup(make_user)
    match = match_of(tournament)
    path = f"/tournaments/{tournament.pk}/manage/participants/{match.participant_a_id}/disqualify"

    response = signed_in(captain(match.participant_b_id)).post(path, {"confirm": "yes"})

    assert response.status_code == 403
    assert Participant.objects.get(pk=match.participant_a_id).status == "registered"


# --- Every format, played out around a disqualification ------------------------------------


@pytest.mark.parametrize(
    "format", ["single_elimination", "double_elimination", "round_robin", "swiss"]
)
def test_every_format_plays_out_around_a_disqualification(make_user, client_for, format):
    """Five players (byes in elimination), the top seed disqualified after the first result:
    the tournament still completes, every match it meets later is forfeited by it as it
    becomes ready, it takes no place and no money, and the pool is paid out whole."""
    tournament, organizer = cup(make_user, n=5, format=format, prize_split=(50, 30, 20))
    cheat = Participant.objects.get(tournament=tournament, seed=1).pk
    first = Match.objects.filter(tournament=tournament, status="ready").order_by("pk").first()
    play(client_for, first, first.participant_a_id)
    decided = set(
        Match.objects.filter(tournament=tournament, status="completed").values_list("pk", flat=True)
    )
    assert disqualify(client_for(organizer), tournament, cheat).status_code == 200

    for _ in range(100):
        ready = Match.objects.filter(tournament=tournament, status="ready").order_by("pk")
        if not ready:
            break
        for match in ready:
            assert cheat not in (match.participant_a_id, match.participant_b_id)
            play(client_for, match, match.participant_a_id)

    tournament.refresh_from_db()
    assert tournament.status == Tournament.Status.COMPLETED
    after = (
        Match.objects.filter(tournament=tournament)
        .filter(Q(participant_a_id=cheat) | Q(participant_b_id=cheat))
        .exclude(pk__in=decided)
        .order_by("pk")
    )
    assert after.exists()
    # A bye it reaches still passes it on (nobody plays a bye): the next match forfeits.
    assert all(m.forfeit_id == cheat and m.winner_id != cheat for m in after if not m.is_bye)
    placements = events_of(tournament)[-1].data["placements"]
    assert cheat not in [p for group in placements for p in group]
    assert balance(cheat) == 0
    assert Account.objects.get(pk=tournament.escrow_id).balance == 0


def test_placements_skipping_moves_those_below_up():
    from matches.formats.progress import placements_skipping

    groups = [[1], [2], [3, 4], [5, 6, 7, 8]]
    assert placements_skipping(groups, skipped=set()) == groups
    assert placements_skipping(groups, skipped={2}) == [[1], [3, 4], [5, 6, 7, 8]]
    assert placements_skipping(groups, skipped={1, 3}) == [[2], [4], [5, 6, 7, 8]]
    assert placements_skipping(groups, skipped={5, 6, 7, 8}) == [[1], [2], [3, 4]]
