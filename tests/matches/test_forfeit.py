"""POST /api/matches/{id}/forfeit: a side gives a match up (API.md, "Match play")."""

import pytest

from matches.models import Match
from tests.concurrency import run_concurrently
from tournaments.models import Participant, Tournament, TournamentEvent
from tournaments.services import tournament_create, tournament_join
from wallets.models import Account, Posting

pytestmark = pytest.mark.django_db

FEE = 100


def cup(make_user, *, n=4, format="single_elimination", prize_split=(100,), fee=FEE):
    """A started tournament of ``n`` funded players; returns it and its organizer."""
    from matches.services import tournament_start

    organizer = make_user()
    tournament = tournament_create(
        organizer=organizer,
        name=f"{format} of {n}",
        format=format,
        max_participants=n,
        entry_fee=fee,
        prize_split=list(prize_split),
    )
    for _ in range(n):
        tournament_join(tournament_id=tournament.pk, user=make_user(funds=fee))
    tournament_start(tournament_id=tournament.pk, user=organizer)
    return tournament, organizer


def match_of(tournament, *, round=1, position=1, bracket="winners") -> Match:
    return Match.objects.select_related("participant_a", "participant_b").get(
        tournament=tournament, bracket=bracket, round=round, position=position
    )


def captain(participant_id: int):
    return Participant.objects.select_related("captain").get(pk=participant_id).captain


def events_of(tournament) -> list[TournamentEvent]:
    return list(TournamentEvent.objects.filter(tournament=tournament).order_by("version"))


def state_of(tournament) -> tuple:
    """Everything a refused action must leave as it was."""
    return (
        list(Match.objects.filter(tournament=tournament).order_by("pk").values()),
        len(events_of(tournament)),
        Tournament.objects.get(pk=tournament.pk).version,
        sorted(Account.objects.values_list("pk", "balance")),
        Posting.objects.count(),
    )


def forfeit(client, match, body=None):
    return client.post(
        f"/api/matches/{match.pk}/forfeit", {} if body is None else body, format="json"
    )


def test_a_player_forfeits_their_side_and_the_other_side_moves_on(make_user, client_for):
    tournament, _ = cup(make_user)
    match = match_of(tournament)
    loser, winner = match.participant_a_id, match.participant_b_id
    version = Tournament.objects.get(pk=tournament.pk).version

    response = forfeit(client_for(captain(loser)), match)

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["status"], body["winner"], body["scores"], body["forfeit"]) == (
        "completed",
        winner,
        None,
        loser,
    )
    final = Match.objects.get(pk=match.next_match_id)
    assert winner in (final.participant_a_id, final.participant_b_id)
    assert final.status == "pending"
    events = [e for e in events_of(tournament) if e.version > version]
    assert [e.name for e in events[:2]] == ["match.forfeited", "match.completed"]
    assert events[0].data == events[1].data == {"match": body}
    assert [e.version for e in events] == list(range(version + 1, version + 1 + len(events)))


def test_the_organizer_forfeits_a_named_side(make_user, client_for):
    tournament, organizer = cup(make_user)
    match = match_of(tournament)

    response = forfeit(client_for(organizer), match, {"participant": match.participant_b_id})

    assert response.status_code == 200, response.json()
    assert response.json()["winner"] == match.participant_a_id
    assert response.json()["forfeit"] == match.participant_b_id


@pytest.mark.parametrize("status", ["awaiting_confirmation", "disputed"])
def test_a_reported_or_disputed_match_can_be_forfeited_and_keeps_its_reports(
    make_user, client_for, status
):
    tournament, _ = cup(make_user)
    match = match_of(tournament)
    a, b = match.participant_a_id, match.participant_b_id
    client_for(captain(a)).post(f"/api/matches/{match.pk}/report", {"winner": a}, format="json")
    if status == "disputed":
        client_for(captain(b)).post(f"/api/matches/{match.pk}/report", {"winner": b}, format="json")
    assert Match.objects.get(pk=match.pk).status == status

    response = forfeit(client_for(captain(a)), match)

    assert response.status_code == 200, response.json()
    assert (response.json()["winner"], response.json()["forfeit"]) == (b, a)
    assert len(response.json()["reports"]) == (2 if status == "disputed" else 1)


def test_forfeiting_the_final_completes_the_tournament_and_pays_the_other_side(
    make_user, client_for
):
    tournament, _ = cup(make_user, n=2)
    final = match_of(tournament)
    winner = final.participant_b_id

    response = forfeit(client_for(captain(final.participant_a_id)), final)

    assert response.status_code == 200
    tournament.refresh_from_db()
    assert tournament.status == Tournament.Status.COMPLETED
    assert Account.objects.get(user=captain(winner)).balance == 2 * FEE
    names = [e.name for e in events_of(tournament)]
    assert names[-3:] == ["match.forfeited", "match.completed", "tournament.completed"]
    assert events_of(tournament)[-1].data["placements"] == [[winner], [final.participant_a_id]]


def test_reset_undoes_a_forfeit_like_a_result(make_user, client_for):
    tournament, organizer = cup(make_user)
    match = match_of(tournament)
    forfeit(client_for(captain(match.participant_a_id)), match)

    response = client_for(organizer).post(f"/api/matches/{match.pk}/reset")

    assert response.status_code == 200, response.json()
    assert (response.json()["status"], response.json()["forfeit"]) == ("ready", None)
    final = Match.objects.get(pk=match.next_match_id)
    assert (final.participant_a_id, final.participant_b_id) == (None, None)


def test_a_result_settled_after_a_forfeit_clears_it(make_user, client_for):
    tournament, organizer = cup(make_user)
    match = match_of(tournament)
    forfeit(client_for(captain(match.participant_a_id)), match)

    response = client_for(organizer).post(
        f"/api/matches/{match.pk}/resolve", {"winner": match.participant_a_id}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert (response.json()["winner"], response.json()["forfeit"]) == (match.participant_a_id, None)


def test_the_organizer_must_name_a_side_of_the_match(make_user, client_for):
    tournament, organizer = cup(make_user)
    match, other = match_of(tournament), match_of(tournament, position=2)
    before = state_of(tournament)

    response = forfeit(client_for(organizer), match, {"participant": other.participant_a_id})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "participant" in response.json()["fields"]
    assert state_of(tournament) == before


@pytest.mark.parametrize("body", [{"participant": "x"}, {"participant": 0}, []])
def test_a_malformed_body_is_refused(make_user, client_for, body):
    tournament, organizer = cup(make_user)
    before = state_of(tournament)

    response = forfeit(client_for(organizer), match_of(tournament), body)

    assert response.status_code == 400
    assert state_of(tournament) == before


def test_someone_not_playing_cannot_forfeit(make_user, client_for):
    tournament, _ = cup(make_user)
    match, other = match_of(tournament), match_of(tournament, position=2)
    before = state_of(tournament)

    response = forfeit(client_for(captain(other.participant_a_id)), match)

    assert (response.status_code, response.json()["code"]) == (403, "not_a_player")
    assert state_of(tournament) == before


def test_only_the_organizer_names_the_side(make_user, client_for):
    tournament, _ = cup(make_user)
    match = match_of(tournament)
    before = state_of(tournament)

    response = forfeit(
        client_for(captain(match.participant_a_id)), match, {"participant": match.participant_b_id}
    )

    assert (response.status_code, response.json()["code"]) == (403, "not_organizer")
    assert state_of(tournament) == before


def test_anonymous_and_unknown(make_user, client_for, anon):
    tournament, organizer = cup(make_user)
    assert forfeit(anon, match_of(tournament)).status_code == 401
    response = client_for(organizer).post("/api/matches/999999/forfeit", {}, format="json")
    assert response.status_code == 404


def test_a_completed_match_is_closed(make_user, client_for):
    tournament, organizer = cup(make_user)
    match = match_of(tournament)
    forfeit(client_for(captain(match.participant_a_id)), match)
    before = state_of(tournament)

    for client, body in [
        (client_for(captain(match.participant_b_id)), {}),
        (client_for(organizer), {"participant": match.participant_b_id}),
    ]:
        response = forfeit(client, match, body)
        assert (response.status_code, response.json()["code"]) == (409, "match_closed")
    assert state_of(tournament) == before


def test_a_match_waiting_for_a_side_is_not_ready(make_user, client_for):
    tournament, organizer = cup(make_user)
    first = match_of(tournament)
    forfeit(client_for(captain(first.participant_a_id)), first)
    final = match_of(tournament, round=2)
    before = state_of(tournament)

    response = forfeit(client_for(captain(first.participant_b_id)), final)
    assert (response.status_code, response.json()["code"]) == (409, "match_not_ready")
    response = forfeit(client_for(organizer), final, {"participant": first.participant_b_id})
    assert (response.status_code, response.json()["code"]) == (409, "match_not_ready")
    assert state_of(tournament) == before


def test_a_cancelled_tournament_takes_no_forfeit(make_user, client_for):
    tournament, organizer = cup(make_user, fee=0)
    match = match_of(tournament)
    assert client_for(organizer).post(f"/api/tournaments/{tournament.pk}/cancel").status_code == 202
    before = state_of(tournament)

    response = forfeit(client_for(captain(match.participant_a_id)), match)

    assert (response.status_code, response.json()["code"]) == (409, "match_closed")
    assert state_of(tournament) == before


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempt", range(5))
def test_a_forfeit_racing_the_confirming_report_lands_once(make_user, client_for, attempt):
    """One side reported; the other confirms while the first forfeits, at the same instant.
    Exactly one completes the match; the winner moves on once; the events stay in order."""
    tournament, _ = cup(make_user, fee=0)
    match = match_of(tournament)
    a, b = match.participant_a_id, match.participant_b_id
    reporter, forfeiter = client_for(captain(b)), client_for(captain(a))
    assert reporter.post(
        f"/api/matches/{match.pk}/report", {"winner": a}, format="json"
    ).status_code == 200  # fmt: skip

    report, forfeited = run_concurrently(
        [
            lambda: client_for(captain(a)).post(
                f"/api/matches/{match.pk}/report", {"winner": a}, format="json"
            ),
            lambda: forfeit(forfeiter, match),
        ]
    )

    assert sorted([report.status_code, forfeited.status_code]) == [200, 409]
    loser = report if report.status_code == 409 else forfeited
    assert loser.json()["code"] == "match_closed"
    stored = Match.objects.get(pk=match.pk)
    assert stored.status == "completed"
    assert (stored.winner_id, stored.forfeit_id) == (
        (b, a) if forfeited.status_code == 200 else (a, None)
    )
    final = Match.objects.get(pk=match.next_match_id)
    assert [final.participant_a_id, final.participant_b_id].count(stored.winner_id) == 1
    events = events_of(tournament)
    first = events[0].version
    assert [e.version for e in events] == list(range(first, first + len(events)))
    completed = [
        e for e in events if e.name == "match.completed" and e.data["match"]["id"] == match.pk
    ]
    assert len(completed) == 1
    forfeits = [e.name for e in events if e.name == "match.forfeited"]
    assert len(forfeits) == (1 if forfeited.status_code == 200 else 0)


# --- The match room's Forfeit button -----------------------------------------------------------


def test_the_match_room_offers_a_forfeit_that_asks_for_confirmation(make_user):
    from tests.web.clients import signed_in

    tournament, _ = cup(make_user)
    match = match_of(tournament)
    client = signed_in(captain(match.participant_a_id))

    page = client.get(f"/matches/{match.pk}").content.decode()
    assert f'action="/matches/{match.pk}/forfeit"' in page
    assert 'name="confirm"' in page

    before = state_of(tournament)
    unconfirmed = client.post(f"/matches/{match.pk}/forfeit", {})
    assert unconfirmed.status_code == 400
    assert state_of(tournament) == before

    done = client.post(f"/matches/{match.pk}/forfeit", {"confirm": "yes"})
    assert done.status_code == 303
    stored = Match.objects.get(pk=match.pk)
    assert (stored.status, stored.forfeit_id) == ("completed", match.participant_a_id)
    assert "forfeited" in client.get(f"/tournaments/{tournament.pk}/live").content.decode()


def test_the_match_room_refuses_a_forfeit_from_someone_not_playing(make_user):
    from tests.web.clients import signed_in

    tournament, _ = cup(make_user)
    match, other = match_of(tournament), match_of(tournament, position=2)
    client = signed_in(captain(other.participant_a_id))
    assert (
        f'action="/matches/{match.pk}/forfeit"'
        not in client.get(f"/matches/{match.pk}").content.decode()
    )
    before = state_of(tournament)

    response = client.post(f"/matches/{match.pk}/forfeit", {"confirm": "yes"})

    assert response.status_code == 403
    assert state_of(tournament) == before
