"""Notifications: one task per event, every message of it over one connection."""

import io

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.db import transaction

from matches.models import Match
from notifications import services, sms
from notifications.sms import (
    BaseSmsBackend,
    ConsoleSmsBackend,
    InMemorySmsBackend,
    SmsMessage,
    get_sms_connection,
)
from tournaments.models import TeamMember
from tournaments.services import team_create, tournament_create, tournament_join
from wallets.errors import InsufficientFunds

pytestmark = pytest.mark.django_db

FEE = 250


class CountingEmailBackend(EmailBackend):
    """Django's locmem backend, counting the connections made and the batches sent."""

    connections = 0
    batches: list[int] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        type(self).connections += 1

    def send_messages(self, messages):
        type(self).batches.append(len(messages))
        return super().send_messages(messages)


class CountingSmsBackend(InMemorySmsBackend):
    connections = 0
    batches: list[int] = []

    def open(self):
        type(self).connections += 1
        return True

    def send_messages(self, messages):
        type(self).batches.append(len(messages))
        return super().send_messages(messages)


@pytest.fixture(autouse=True)
def backends(settings):
    settings.EMAIL_BACKEND = "tests.notifications.test_delivery.CountingEmailBackend"
    settings.SMS_BACKEND = "tests.notifications.test_delivery.CountingSmsBackend"
    for backend in (CountingEmailBackend, CountingSmsBackend):
        backend.connections = 0
        backend.batches = []
    mail.outbox = []
    sms.outbox.clear()
    yield
    sms.outbox.clear()


def roster(make_user, size, *, contact=lambda i: {}, funds=FEE):
    return [make_user(f"member{i:02d}", funds=funds, **contact(i)) for i in range(size)]


def team_with(members, name="Sixteen"):
    team = team_create(user=members[0], name=name)
    TeamMember.objects.bulk_create(TeamMember(team=team, user=m) for m in members[1:])
    return team


def cup_for(make_user, team_size, **fields):
    return tournament_create(
        organizer=make_user("organizer", email="org@example.com"), name="Major", format="swiss",
        max_participants=8, team_size=team_size, entry_fee=FEE, **fields,
    )  # fmt: skip


def test_a_16_member_team_joining_sends_16_emails_over_one_connection(
    make_user, django_capture_on_commit_callbacks
):
    members = roster(make_user, 16, contact=lambda i: {"email": f"m{i}@example.com"})
    cup = cup_for(make_user, 16)

    with django_capture_on_commit_callbacks(execute=True):
        tournament_join(tournament_id=cup.pk, user=members[0], team_id=team_with(members).pk)

    assert CountingEmailBackend.connections == 1
    assert CountingEmailBackend.batches == [16]
    assert sorted(m.to[0] for m in mail.outbox) == sorted(u.email for u in members)
    assert all(len(m.to) == 1 and not m.cc and not m.bcc for m in mail.outbox)
    assert "Sixteen joined the tournament Major" in mail.outbox[0].body
    assert "2.50 USD" in mail.outbox[0].body
    assert mail.outbox[0].from_email == "Atom Tournament <noreply@localhost>"


def test_members_without_email_or_phone_are_skipped(make_user, django_capture_on_commit_callbacks):
    contacts = [
        {"email": "both@example.com", "phone": "+15550001"},
        {"email": "mail@example.com"},
        {"phone": "+15550003"},
        {},
    ]
    members = roster(make_user, 4, contact=lambda i: contacts[i])
    cup = cup_for(make_user, 4)

    with django_capture_on_commit_callbacks(execute=True):
        tournament_join(tournament_id=cup.pk, user=members[0], team_id=team_with(members).pk)

    assert sorted(m.to[0] for m in mail.outbox) == ["both@example.com", "mail@example.com"]
    assert sorted(m.to for m in sms.outbox) == ["+15550001", "+15550003"]
    assert (CountingSmsBackend.connections, CountingSmsBackend.batches) == (1, [2])
    assert "Sixteen joined Major" in sms.outbox[0].body


def test_a_refused_join_tells_nobody(make_user, django_capture_on_commit_callbacks):
    members = roster(make_user, 3, contact=lambda i: {"email": f"m{i}@example.com"})
    members.append(make_user("broke", email="broke@example.com", phone="+1555"))  # no funds
    cup = cup_for(make_user, 4)

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(InsufficientFunds):
        tournament_join(tournament_id=cup.pk, user=members[0], team_id=team_with(members).pk)

    assert mail.outbox == [] and sms.outbox == []


def test_a_solo_join_enqueues_no_notification(make_user, django_capture_on_commit_callbacks):
    player = make_user(email="solo@example.com", funds=FEE)
    cup = cup_for(make_user, 1)
    with django_capture_on_commit_callbacks(execute=True):
        tournament_join(tournament_id=cup.pk, user=player)
    assert mail.outbox == []


def test_the_notice_is_enqueued_only_when_the_transaction_commits(
    make_user, django_capture_on_commit_callbacks
):
    match = a_match(make_user)
    mail.outbox = []
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.match_ready_notify(match_ids=[match.pk])
        raise RuntimeError("rolled back")
    assert callbacks == [] and mail.outbox == []


# --- Matches (called by the matches code) ------------------------------------------------------


def a_match(make_user, *, status=Match.Status.READY, **fields):
    organizer = make_user("boss", email="boss@example.com")
    cup = tournament_create(organizer=organizer, name="Finals", format="single_elimination",
                            max_participants=4, team_size=2)  # fmt: skip
    sides = []
    for side in "ab":
        players = [
            make_user(f"{side}{i}", email=f"{side}{i}@example.com", phone=f"+1{i}") for i in (1, 2)
        ]
        team = team_with(players, name=f"Team {side.upper()}")
        sides.append(tournament_join(tournament_id=cup.pk, user=players[0], team_id=team.pk))
    return Match.objects.create(
        tournament=cup, bracket=Match.Bracket.WINNERS, round=1, position=1,
        participant_a=sides[0], participant_b=sides[1], status=status, **fields,
    )  # fmt: skip


def sent_to():
    return sorted(m.to[0] for m in mail.outbox)


PLAYERS = ["a1@example.com", "a2@example.com", "b1@example.com", "b2@example.com"]


def test_match_ready_tells_the_players_of_both_sides(make_user, django_capture_on_commit_callbacks):
    match = a_match(make_user)
    mail.outbox = []
    with django_capture_on_commit_callbacks(execute=True):
        services.match_ready_notify(match_ids=[match.pk])
    assert sent_to() == PLAYERS
    assert mail.outbox[0].subject == "Finals: Team A vs Team B: your match is ready"
    assert (CountingEmailBackend.batches[-1], CountingSmsBackend.batches[-1]) == (4, 4)


def test_result_confirmed_tells_both_sides_the_result(
    make_user, django_capture_on_commit_callbacks
):
    match = a_match(make_user, status=Match.Status.COMPLETED, scores=[3, 1])
    Match.objects.filter(pk=match.pk).update(winner=match.participant_a)
    mail.outbox = []
    with django_capture_on_commit_callbacks(execute=True):
        services.match_result_confirmed_notify(match_id=match.pk)
    assert sent_to() == PLAYERS
    assert "is confirmed: Team A won (3-1)." in mail.outbox[0].body


def test_result_disputed_tells_both_sides_and_the_organizer(
    make_user, django_capture_on_commit_callbacks
):
    match = a_match(make_user, status=Match.Status.DISPUTED)
    mail.outbox = []
    with django_capture_on_commit_callbacks(execute=True):
        services.match_result_disputed_notify(match_id=match.pk)
    assert sent_to() == sorted([*PLAYERS, "boss@example.com"])
    assert CountingEmailBackend.batches[-1] == 5


def test_a_notice_for_a_match_that_is_gone_sends_nothing(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.match_ready_notify(match_ids=[987654321])
    assert mail.outbox == []


def test_playing_a_bracket_tells_the_players_at_each_step(
    make_user, django_capture_on_commit_callbacks
):
    from matches.services import match_report, tournament_start

    organizer = make_user("host", email="host@example.com")
    cup = tournament_create(
        organizer=organizer, name="Cup", format="single_elimination", max_participants=4
    )
    players = [make_user(f"p{i}", email=f"p{i}@example.com") for i in range(4)]
    for player in players:
        tournament_join(tournament_id=cup.pk, user=player)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        tournament_start(tournament_id=cup.pk, user=organizer)
    assert [m.subject.endswith("your match is ready") for m in mail.outbox] == [True] * 4
    # Both semifinals' notices: one task, one connection.
    assert [c.args for c in callbacks if getattr(c, "args", None)] == [
        (sorted(Match.objects.filter(tournament=cup, round=1).values_list("pk", flat=True)),)
    ]
    assert CountingEmailBackend.batches == [4]

    semi_1, semi_2 = Match.objects.filter(tournament=cup, round=1).select_related(
        "participant_a__captain", "participant_b__captain"
    )
    for semi, winner_side in ((semi_1, "participant_a"), (semi_2, "participant_b")):
        winner = getattr(semi, winner_side)
        for side in (semi.participant_a, semi.participant_b):
            mail.outbox = []
            with django_capture_on_commit_callbacks(execute=True):
                match_report(match_id=semi.pk, user=side.captain, winner_id=winner.pk)
    # The second semifinal's confirmation: its result to its two players, and the final
    # ready for the two winners.
    subjects = sorted(m.subject for m in mail.outbox)
    assert len(subjects) == 4 and sum("ready" in s for s in subjects) == 2

    final = Match.objects.select_related("participant_a__captain").get(tournament=cup, round=2)
    mail.outbox = []
    with django_capture_on_commit_callbacks(execute=True):
        match_report(
            match_id=final.pk, user=final.participant_a.captain, winner_id=final.participant_b_id
        )
        match_report(
            match_id=final.pk,
            user=final.participant_b.captain,
            winner_id=final.participant_a_id,
        )
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [final.participant_a.captain.email, final.participant_b.captain.email, "host@example.com"]
    )


# --- SMS backends ------------------------------------------------------------------------------


def test_sms_backend_is_chosen_by_the_setting(settings):
    settings.SMS_BACKEND = "notifications.sms.InMemorySmsBackend"
    connection = get_sms_connection()
    assert type(connection) is InMemorySmsBackend
    assert connection.send_messages([SmsMessage(to="+1", body="hi")]) == 1
    assert sms.outbox == [SmsMessage(to="+1", body="hi")]


def test_console_sms_backend_writes_every_message():
    stream = io.StringIO()
    with ConsoleSmsBackend(stream=stream) as connection:
        sent = connection.send_messages(
            [SmsMessage(to="+1", body="one"), SmsMessage(to="+2", body="two")]
        )
    assert sent == 2
    assert "SMS to +1\none" in stream.getvalue() and "SMS to +2\ntwo" in stream.getvalue()


def test_a_backend_must_implement_send_messages():
    with pytest.raises(NotImplementedError):
        BaseSmsBackend().send_messages([SmsMessage(to="+1", body="x")])
