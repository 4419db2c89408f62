"""The match room's forms (web/views/matches.py): a result, as a side reports it (report,
confirm, dispute) or as the organizer settles it (resolve).

The form checks what it can say in the sides' names before the service is called: a
winner chosen, both scores or neither, scores that tell the same story as the winner, and
a dispute that differs from the report it disputes. The service checks the result again
under its lock (``matches.services``); what it refuses is shown in words by the view.
"""

from __future__ import annotations

import re

from django import forms

from matches.models import Match

DRAW = "draw"
SCORE_MAX = 1_000_000  # as the API's result input (matches.serializers.ResultInput)
# One game of a series as people write it: "3-1" (also with an en dash or a colon).
GAME_PATTERN = re.compile(r"\s*(\d{1,7})\s*[-–:]\s*(\d{1,7})\s*")


class ResultForm(forms.Form):
    """``winner`` (a side's participant id, or ``draw`` where draws exist), and the two
    scores, both or neither. ``result()`` gives what the services take."""

    winner = forms.ChoiceField(
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose the winner.",
            "invalid_choice": "Choose one of the two sides as the winner.",
        },
    )
    score_a = forms.IntegerField(required=False, min_value=0, max_value=SCORE_MAX)
    score_b = forms.IntegerField(required=False, min_value=0, max_value=SCORE_MAX)
    # A best-of series only (the match's best_of > 1): each game's score, in order.
    games = forms.CharField(
        required=False,
        max_length=200,
        label="Games (optional)",
        help_text="Each game's score in order, side a first, e.g. 3-1, 0-2, 5-4.",
    )

    def __init__(
        self,
        *args,
        match: Match,
        names: dict[int, str],
        disputes: tuple[int | None, list[int] | None] | None = None,
        **kwargs,
    ):
        """``names``: the sides' names by participant id. ``disputes``: the other side's
        reported result (winner, scores) that this form must differ from."""
        super().__init__(*args, **kwargs)
        self.match = match
        self.names = names
        self.disputes = disputes
        name_a = names.get(match.participant_a_id, "")
        name_b = names.get(match.participant_b_id, "")
        # A side still to be decided cannot win: a pending match offers who is there.
        choices = [
            (str(pk), name)
            for pk, name in ((match.participant_a_id, name_a), (match.participant_b_id, name_b))
            if pk is not None
        ]
        # A series always has a winner (matches.services); in a series the scores are
        # games won, required, and the games may be listed.
        self.series = match.best_of > 1
        if match.bracket == Match.Bracket.GROUP and not self.series:
            choices.append((DRAW, "Draw"))  # draws exist in round robin and swiss only
        self.fields["winner"].choices = choices
        scored = "Games won by" if self.series else "Score of"
        self.fields["score_a"].label = f"{scored} {name_a}"
        self.fields["score_b"].label = f"{scored} {name_b}"
        if not self.series:
            del self.fields["games"]
        for field in ("score_a", "score_b"):
            self.fields[field].widget.attrs.update({"inputmode": "numeric", "class": "score-input"})

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        score_a, score_b = data.get("score_a"), data.get("score_b")
        if self.series and (score_a is None or score_b is None):
            raise forms.ValidationError(
                f"Give the series score: the games each side won (best of {self.match.best_of}).",
                code="series_score_missing",
            )
        if (score_a is None) != (score_b is None):
            raise forms.ValidationError(
                "Give both scores, or leave both empty.", code="scores_incomplete"
            )
        if self.series:
            data["games"] = _games_parse(data.get("games") or "")
        winner_id, scores = self._result(data)
        if scores is not None:
            if winner_id is None and score_a != score_b:
                raise forms.ValidationError(
                    f"A draw has level scores, not {score_a}–{score_b}.", code="draw_not_level"
                )
            if winner_id is not None:
                won, lost = (score_a, score_b)
                if winner_id != self.match.participant_a_id:
                    won, lost = lost, won
                if won <= lost:
                    raise forms.ValidationError(
                        f"{self.names.get(winner_id, 'The winner')} won, so their score must "
                        f"be the higher one, not {score_a}–{score_b}.",
                        code="winner_score_not_higher",
                    )
        if self.disputes is not None and _agrees((winner_id, scores), self.disputes):
            raise forms.ValidationError(
                "That is the result the other side reported: press “Confirm” to agree with "
                "it, or change the winner or the scores to dispute it.",
                code="dispute_agrees",
            )
        return data

    def result(self) -> tuple[int | None, list[int] | None]:
        """(winner participant id or None for a draw, [score a, score b] or None)."""
        return self._result(self.cleaned_data)

    def games_listed(self) -> list[list[int]] | None:
        """Each game's score ``[a, b]`` as the form listed them; None if it listed none
        (or the match is one game)."""
        return self.cleaned_data.get("games") if self.series else None

    def _result(self, data) -> tuple[int | None, list[int] | None]:
        winner = data["winner"]
        winner_id = None if winner == DRAW else int(winner)
        if data.get("score_a") is None:
            return winner_id, None
        return winner_id, [data["score_a"], data["score_b"]]


def _games_parse(text: str) -> list[list[int]] | None:
    """Games as people write them, "3-1, 0-2", as [[3, 1], [0, 2]]; None for no text. The
    series rules (the games add up to the score, none drawn) are the service's."""
    if not text.strip():
        return None
    games = []
    for part in text.split(","):
        found = GAME_PATTERN.fullmatch(part)
        if found is None:
            raise forms.ValidationError(
                f"“{part.strip()}” is not a game's score: write them like 3-1, 0-2, 5-4.",
                code="games_unreadable",
            )
        games.append([int(found[1]), int(found[2])])
    return games


def _agrees(
    mine: tuple[int | None, list[int] | None], theirs: tuple[int | None, list[int] | None]
) -> bool:
    """Whether two results agree as ``matches.services.match_report`` decides it: the same
    winner, and the same scores where both gave scores."""
    (winner, scores), (other_winner, other_scores) = mine, theirs
    return winner == other_winner and (not scores or not other_scores or scores == other_scores)
