"""Events carry only what changed: their size does not grow with the bracket.

The same actions (reports, an organizer's resolve, a reset), on the same places of a
16-player and a 1,024-player bracket, append the same events, and each event's frame (the
bytes every spectator receives, ``tournaments.events.event_frame``) is the same text but
for its numbers: ids and versions have more digits in the bigger database, nothing else
differs. Round 1 and the deep end of the bracket (semifinal and final; losers final and
both grand finals) are both played.

Left out on purpose: ``tournament.started`` and ``tournament.completed`` carry the whole
bracket and the final placements (API.md: "data carries the changed objects in full"; a
start creates every match, a completion places every participant). The test checks that
each appears once, where it should (the start; the result of the last match), and
compares the match events beside it.
"""

import re

import pytest

from matches.models import Match
from matches.services import match_report, match_reset, match_resolve
from tests.brackets import free_cup_started, results_fast_forward
from tournaments.events import event_frame
from tournaments.models import Participant, Tournament, TournamentEvent

pytestmark = pytest.mark.django_db

SMALL, BIG = 16, 1024
# Ids and versions of the big bracket may have a digit more (a handful of them per frame).
DIGITS_SLACK = 24
# A match event is a few hundred bytes; a frame naming every match of a 1,024-player
# bracket would be hundreds of kilobytes.
FRAME_MAX = 1024
WHOLE_OBJECT_EVENTS = {"tournament.started", "tournament.completed"}


class Recorder:
    """Plays actions on one tournament and keeps the frames each action appended."""

    def __init__(self, tournament: Tournament):
        self.tournament = tournament
        self.organizer = tournament.organizer
        self.frames: dict[str, list[tuple[str, str]]] = {}

    def act(self, label: str, action, /, **kwargs) -> None:
        before = Tournament.objects.get(pk=self.tournament.pk).version
        action(**kwargs)
        self.frames[label] = [
            (e.name, event_frame(version=e.version, name=e.name, data=e.data))
            for e in TournamentEvent.objects.filter(
                tournament=self.tournament, version__gt=before
            ).order_by("version")
        ]

    def report(self, label: str, match: Match, *, side: str, winner: str) -> None:
        match.refresh_from_db()
        reporter = Participant.objects.get(pk=getattr(match, f"participant_{side}_id"))
        self.act(
            label,
            match_report,
            match_id=match.pk,
            user=reporter.captain,
            winner_id=getattr(match, f"participant_{winner}_id"),
            scores=[2, 1] if winner == "a" else [1, 2],
        )

    def play(self, label: str, match: Match, *, winner: str = "a") -> None:
        self.report(f"{label}: first report", match, side="a", winner=winner)
        self.report(f"{label}: agreeing second report", match, side="b", winner=winner)

    def resolve(self, label: str, match: Match, *, winner: str) -> None:
        match.refresh_from_db()
        self.act(
            label,
            match_resolve,
            match_id=match.pk,
            user=self.organizer,
            winner_id=getattr(match, f"participant_{winner}_id"),
            scores=None,
        )

    def reset(self, label: str, match: Match) -> None:
        self.act(label, match_reset, match_id=match.pk, user=self.organizer)


def match_at(tournament, bracket, round_number, position=1) -> Match:
    return Match.objects.get(
        tournament=tournament, bracket=bracket, round=round_number, position=position
    )


def last_round(tournament, bracket) -> int:
    return max(
        Match.objects.filter(tournament=tournament, bracket=bracket).values_list("round", flat=True)
    )


def round_one_actions(recorder: Recorder) -> None:
    tournament = recorder.tournament
    first = match_at(tournament, "winners", 1, 1)
    recorder.play("round 1", first)
    recorder.resolve("round 1: organizer override", first, winner="b")
    recorder.reset("round 1: reset", first)
    recorder.report("round 1: first report after the reset", first, side="b", winner="b")
    recorder.report("round 1: disagreeing report", first, side="a", winner="a")
    recorder.resolve("round 1: organizer settles the dispute", first, winner="b")


def single_elimination_actions(recorder: Recorder) -> None:
    tournament = recorder.tournament
    round_one_actions(recorder)
    final_round = last_round(tournament, "winners")
    semifinal = match_at(tournament, "winners", final_round - 1, 1)
    results_fast_forward(tournament=tournament, keep={semifinal.pk})
    recorder.play("semifinal", semifinal)
    recorder.reset("semifinal: reset", semifinal)
    recorder.resolve("semifinal: organizer resolve", semifinal, winner="b")
    recorder.play("final", match_at(tournament, "winners", final_round))


def double_elimination_actions(recorder: Recorder) -> None:
    tournament = recorder.tournament
    round_one_actions(recorder)
    losers_final = match_at(tournament, "losers", last_round(tournament, "losers"))
    results_fast_forward(tournament=tournament, keep={losers_final.pk})
    recorder.play("losers final", losers_final)
    recorder.reset("losers final: reset", losers_final)
    recorder.resolve("losers final: organizer resolve", losers_final, winner="a")
    grand_final = match_at(tournament, "grand_final", 1)
    # The losers-bracket side (b) wins the first grand final: the second one is created.
    recorder.play("grand final", grand_final, winner="b")
    recorder.reset("grand final: reset (the second one is removed)", grand_final)
    recorder.resolve("grand final: organizer resolve", grand_final, winner="b")
    recorder.play("grand final reset", match_at(tournament, "grand_final", 2))


def frames_compared(format, actions, make_user):
    recorded = {}
    for players in (SMALL, BIG):
        tournament = free_cup_started(
            organizer=make_user(f"organizer-{players}"), format=format, players=players
        )
        started = TournamentEvent.objects.filter(tournament=tournament)
        assert [e.name for e in started] == ["tournament.started"]  # the one whole-bracket event
        recorder = Recorder(tournament)
        actions(recorder)
        recorded[players] = recorder.frames
    return recorded[SMALL], recorded[BIG]


def without_numbers(frame: str) -> str:
    return re.sub(r"[0-9]+", "0", frame)


def assert_constant_size(small, big, *, completing_action):
    assert list(small) == list(big)
    for label in small:
        names_small = [name for name, _ in small[label]]
        names_big = [name for name, _ in big[label]]
        assert names_small == names_big, label
        assert names_small, f"{label}: no event"
        if label == completing_action:
            assert names_small[-1] == "tournament.completed", label
        for (name, frame_small), (_, frame_big) in zip(small[label], big[label], strict=True):
            if name in WHOLE_OBJECT_EVENTS:
                continue
            assert without_numbers(frame_small) == without_numbers(frame_big), (label, name)
            assert abs(len(frame_big) - len(frame_small)) <= DIGITS_SLACK, (label, name)
            assert len(frame_big) < FRAME_MAX, (label, name, len(frame_big))
    completions = [
        label
        for label, frames in big.items()
        if any(name in WHOLE_OBJECT_EVENTS for name, _ in frames)
    ]
    assert completions == [completing_action]


def test_single_elimination_events_do_not_grow_with_the_bracket(make_user):
    small, big = frames_compared("single_elimination", single_elimination_actions, make_user)

    assert [name for name, _ in big["round 1: agreeing second report"]] == [
        "match.completed",  # the match
        "match.updated",  # the round 2 match its winner moved into
    ]
    assert_constant_size(small, big, completing_action="final: agreeing second report")


def test_double_elimination_events_do_not_grow_with_the_bracket(make_user):
    small, big = frames_compared("double_elimination", double_elimination_actions, make_user)

    assert [name for name, _ in big["round 1: agreeing second report"]] == [
        "match.completed",  # the match
        "match.updated",  # where the winner went
        "match.updated",  # where the loser dropped to, in the losers bracket
    ]
    assert [name for name, _ in big["grand final: reset (the second one is removed)"]] == [
        "match.removed",
        "match.reset",
    ]
    assert_constant_size(small, big, completing_action="grand final reset: agreeing second report")
