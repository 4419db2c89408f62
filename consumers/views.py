"""The live bracket page for spectators (API.md, Operations: ``GET /tournaments/{id}/live``).

The page arrives with the tournament's current state, twice over:

- the socket's own ``snapshot`` frame, embedded as JSON with its version: live.js draws
  the bracket from it at once and opens the socket with ``?since=<version>``, so the
  server sends only what changed after it (no second snapshot, no "Loading…");
- the same state as plain HTML (participants, matches by round, standings), which is what
  a client without JavaScript, or one whose scripts have not run yet, shows. live.js
  replaces it with the drawn bracket.

Standings (round robin, swiss) and a completed tournament's placements are the server's
(``consumers.selectors.tournament_live_page``), never ranked again here or in the page:
ties are broken by the server's tiebreaks (Buchholz), which only it computes.

A page of one version is the same for every spectator (nothing in it depends on the
request or the user), so the process keeps the last few it rendered, by tournament and
version: a crowd opening the page of a big tournament costs one rendering (and one read of
its standings) per version, then one query each, the version's.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, defaultdict
from html import escape  # the standard library's: Django's lazy-aware one costs 4x more

import orjson
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.safestring import SafeString
from django.views.decorators.http import require_safe

from consumers.selectors import LivePage, tournament_live_page
from tournaments.errors import TournamentNotFound
from tournaments.selectors import tournament_version
from web.presentation import FORMAT_LABELS, STATUS_LABELS, games_text, money_text

GROUP_FORMATS = ("round_robin", "swiss")

# Inside <script type="application/json">, only "</script" (or "<!--") could end the
# element early; these characters can occur in JSON only inside strings, where their
# \u escapes mean the same. (What Django's json_script does, on text already encoded.)
_SCRIPT_ESCAPES = str.maketrans({"<": "\\u003C", ">": "\\u003E", "&": "\\u0026"})


# Rendered pages kept per process (a 1,024-player bracket's page is about 0.75 MB).
PAGES_KEPT = 8


class RenderedPages:
    """The newest rendered pages, ``(tournament id, version) -> body``, least recently used
    out first. A body kept under version V shows V or a later version (its snapshot may be
    newer than its results), never an older one."""

    def __init__(self, size: int):
        self._size = size
        self._lock = threading.Lock()  # sync views run in several threads
        self._pages: OrderedDict[tuple[int, int], bytes] = OrderedDict()

    def get(self, tournament_id: int, version: int) -> bytes | None:
        with self._lock:
            body = self._pages.get((tournament_id, version))
            if body is not None:
                self._pages.move_to_end((tournament_id, version))
            return body

    def put(self, tournament_id: int, version: int, body: bytes) -> None:
        with self._lock:
            self._pages[(tournament_id, version)] = body
            self._pages.move_to_end((tournament_id, version))
            while len(self._pages) > self._size:
                self._pages.popitem(last=False)

    def clear(self) -> None:
        """Forget every page (tests: a test's database is not the next one's)."""
        with self._lock:
            self._pages.clear()


pages = RenderedPages(PAGES_KEPT)


@require_safe
def tournament_live(request: HttpRequest, tournament_id: int) -> HttpResponse:
    try:
        kept = pages.get(tournament_id, tournament_version(tournament_id=tournament_id))
        if kept is not None:
            return HttpResponse(kept)
        page = tournament_live_page(tournament_id=tournament_id)
    except TournamentNotFound as error:
        raise Http404(error.detail) from error
    response = _page_render(request, page)
    pages.put(tournament_id, page.results_version, response.content)
    return response


def _page_render(request: HttpRequest, page: LivePage) -> HttpResponse:
    snapshot = orjson.loads(page.frame)
    tournament = snapshot["tournament"]
    results = {
        "version": page.results_version,
        "standings": page.standings,
        "placements": page.placements,
    }
    return render(
        request,
        "live/tournament.html",
        {
            "tournament": tournament,
            "version": page.version,
            "currency": settings.CURRENCY,
            "snapshot_json": _script_json(page.frame),
            "results_json": _script_json(orjson.dumps(results).decode()),
            "board": board_view(snapshot, page),
        },
    )


def _script_json(text: str) -> SafeString:
    return SafeString(text.translate(_SCRIPT_ESCAPES))


# --- The board as HTML (the words and order of live.js) -----------------------------------


def board_view(snapshot: dict, page: LivePage) -> dict:
    """What the template draws: the header's lines, a banner, the participants, the matches
    by bracket and round (byes left out: nobody plays them), the standings.

    The long lists (a match, a participant, a standings row per line: thousands at 1,024
    players) arrive as HTML made here, each name escaped: the template engine spent about
    55 ms on a 1,024-player bracket's lines, these f-strings a few.
    """
    tournament = snapshot["tournament"]
    participants = {p["id"]: p for p in snapshot["participants"]}
    # Waiting entries are not in the count nor the bracket (the script lists them apart).
    active = [p for p in snapshot["participants"] if p["status"] not in ("left", "waitlisted")]
    check_in = tournament["status"] == "registration" and tournament["check_in_opens_minutes"] > 0
    matches = snapshot["matches"]
    names = _Names(participants)
    group = tournament["format"] in GROUP_FORMATS
    return {
        "status_label": STATUS_LABELS.get(tournament["status"], tournament["status"]),
        "meta": _meta_line(tournament, len(active)),
        "prizes": _prizes_line(tournament),
        "banner": _banner(tournament, page.placements, names),
        "participants": len(active),
        "roster_html": _roster_html(active, check_in=check_in),
        "participants_heading": (
            "Registered so far" if tournament["status"] == "registration" else "Participants"
        ),
        "sections": (
            _group_sections(tournament, matches, names)
            if group
            else _elimination_sections(tournament, matches, names)
        ),
        "standings_html": (
            _standings_html(page.standings, names, buchholz=tournament["format"] == "swiss")
            if page.standings
            else None
        ),
        "buchholz": tournament["format"] == "swiss",
    }


class _Names:
    def __init__(self, participants: dict[int, dict]):
        self.participants = participants

    def __call__(self, participant_id: int | None) -> str:
        if participant_id is None:
            return "—"
        participant = self.participants.get(participant_id)
        return participant["name"] if participant else f"#{participant_id}"

    def seed(self, participant_id: int | None):
        participant = self.participants.get(participant_id)
        return participant["seed"] if participant else None


def _meta_line(tournament: dict, count: int) -> str:
    teams = tournament["team_size"] > 1
    places = (
        f"{count} of {tournament['max_participants']} registered"
        if tournament["status"] == "registration"
        else f"{count} {'teams' if teams else 'players'}"
    )
    parts = [
        tournament["game"],
        FORMAT_LABELS.get(tournament["format"], tournament["format"]),
        f"teams of {tournament['team_size']}" if teams else None,
        places,
        f"entry fee {money_text(tournament['entry_fee'])}"
        if tournament["entry_fee"]
        else "free entry",
        f"prize pool {money_text(tournament['prize_pool'])}" if tournament["prize_pool"] else None,
    ]
    return " · ".join(part for part in parts if part)


def _prizes_line(tournament: dict) -> str:
    """Each place's share as API.md splits it: percentages rounded down, the rest to 1st."""
    pool, split = tournament["prize_pool"], tournament["prize_split"] or []
    if not pool or not split:
        return ""
    shares = [pool * percent // 100 for percent in split]
    shares[0] += pool - sum(shares)
    places = [f"{_ordinal(i + 1)} {money_text(share)}" for i, share in enumerate(shares) if share]
    return f"Prizes: {' · '.join(places)}" if places else ""


def _ordinal(n: int) -> str:
    if 11 <= n % 100 <= 13:
        return f"{n}th"
    return f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th') }"


def _banner(tournament: dict, placements: list[list[int]] | None, names: _Names) -> dict | None:
    status = tournament["status"]
    if status == "cancelled":
        pending = tournament["refunds_pending"]
        refunds = (
            f"Entry fees are being refunded ({pending} to go)."
            if pending
            else "Entry fees have been refunded."
        )
        return {"kind": "cancelled", "text": f"This tournament was cancelled. {refunds}"}
    if status != "completed" or not placements:
        return None
    champion = placements[0][0] if len(placements[0]) == 1 else None
    runner_up = placements[1][0] if len(placements) > 1 and len(placements[1]) == 1 else None
    return {
        "kind": "champion",
        "champion": champion,
        "champion_name": names(champion),
        "runner_up_name": names(runner_up) if runner_up is not None else None,
    }


def _seed_html(seed) -> str:
    return f'<span class="seed">{seed}</span>' if seed else ""


def _roster_html(participants: list[dict], *, check_in: bool = False) -> SafeString:
    return SafeString(
        "".join(
            f"<li{_disqualified_attrs(p)}>{_seed_html(p['seed'])}{' ' if p['seed'] else ''}"
            f"{escape(p['name'])}{_disqualified_tag(p)}"
            f"{_check_in_tag(p) if check_in else ''}</li>"
            for p in participants
        )
    )


def _check_in_tag(participant: dict) -> str:
    # Before the start of a tournament with check-in: who has checked in (as live.js draws).
    if participant["checked_in"]:
        return ' <span class="tag" data-check-in="yes">checked in</span>'
    return ' <span class="tag" data-check-in="no">not checked in</span>'


def _disqualified_attrs(participant: dict) -> str:
    return ' class="disqualified"' if participant["status"] == "disqualified" else ""


def _disqualified_tag(participant: dict) -> str:
    # Still listed (its results stand), marked: it takes no place.
    if participant["status"] != "disqualified":
        return ""
    return ' <span class="tag" data-status="disqualified">disqualified</span>'


def _standings_html(standings: list[dict], names: _Names, *, buchholz: bool) -> SafeString:
    lines = []
    for row in standings:
        bh = (
            f'<td class="num muted">{escape(str(row["tiebreaks"].get("buchholz", "")))}</td>'
            if buchholz
            else ""
        )
        lines.append(
            f'<tr data-participant="{row["participant"]}"><td class="num">{row["rank"]}</td>'
            f"<td>{escape(names(row['participant']))}</td>"
            f'<td class="num">{row["wins"]}</td><td class="num">{row["draws"]}</td>'
            f'<td class="num">{row["losses"]}</td>'
            f'<td class="num strong">{row["points"]}</td>{bh}</tr>'
        )
    return SafeString("".join(lines))


def _is_bye(match: dict) -> bool:
    return match["status"] == "completed" and (
        (match["participant_a"] is None) != (match["participant_b"] is None)
    )


def _match_html(match: dict, names: _Names) -> str:
    """One line: both sides (seed, name, score; the winner marked), a link to the match
    room (``/matches/{id}``, issue 12's path), the state in words."""
    a, b, winner = match["participant_a"], match["participant_b"], match["winner"]
    done = match["status"] == "completed"
    scores = match["scores"] or [None, None]

    def side(participant_id, score) -> tuple[str, str, str, str]:
        """(result class, seed HTML, name HTML, score) of one side."""
        result = ""
        if done and participant_id is not None and winner is not None:
            result = "winner" if winner == participant_id else "loser"
        if score is None:
            score = {"winner": "W", "loser": "L"}.get(result, "")
        name = escape(names(participant_id)) if participant_id is not None else "to be decided"
        seed = _seed_html(names.seed(participant_id))
        return result, seed, name, score

    result_a, seed_a, name_a, score_a = side(a, scores[0])
    result_b, seed_b, name_b, score_b = side(b, scores[1])
    pk = match["id"]
    # Side b mirrors side a: "1 alice 2 vs 1 bob 4" reads as "seed name score vs score name seed".
    return (
        f'<li data-match-id="{pk}" data-status="{escape(match["status"])}">'
        f'<a href="/matches/{pk}">'
        f'<span class="{result_a}">{seed_a}{" " if seed_a else ""}{name_a} <b>{score_a}</b></span>'
        f' <span class="muted">vs</span> '
        f'<span class="{result_b}"><b>{score_b}</b> {name_b}{" " if seed_b else ""}{seed_b}</span>'
        f'</a> <span class="muted">· {escape(_caption(match, names))}</span>'
        f"{_series_html(match)}</li>"
    )


def _series_html(match: dict) -> str:
    """A best-of series: its length, and each game's score once the result listed them
    (``live.js`` ``seriesText`` words it alike); nothing for a match of one game."""
    if match.get("best_of", 1) <= 1:
        return ""
    games = match.get("games") or []
    listed = f" · {games_text(games)}" if games else ""
    return f' <span class="muted series">· Best of {match["best_of"]}{listed}</span>'


def _caption(match: dict, names: _Names) -> str:
    status = match["status"]
    if status == "completed":
        if match.get("forfeit"):
            return f"{names(match['forfeit'])} forfeited"
        return "Draw" if match["winner"] is None else "Finished"
    if status == "awaiting_confirmation":
        reports = match["reports"]
        by = reports[0]["participant"] if reports else None
        return f"{names(by)} reported · awaiting confirmation" if by else "Awaiting confirmation"
    return {
        "ready": "Ready to play",
        "disputed": "Disputed · the organizer will decide",
        "pending": "Waiting for players",
    }.get(status, status)


def _rounds(matches: list[dict], names: _Names, title) -> list[dict]:
    by_round = defaultdict(list)
    for match in matches:
        by_round[match["round"]].append(match)
    rounds = []
    for number in sorted(by_round):
        played = sorted(by_round[number], key=lambda m: m["position"])
        byes = [m for m in played if _is_bye(m)]
        rounds.append(
            {
                "title": title(number),
                "matches_html": SafeString(
                    "".join(_match_html(m, names) for m in played if not _is_bye(m))
                ),
                "byes": [names(m["participant_a"] or m["participant_b"]) for m in byes],
            }
        )
    return rounds


def _elimination_sections(tournament: dict, matches: list[dict], names: _Names) -> list[dict]:
    double = tournament["format"] == "double_elimination"
    of = defaultdict(list)
    for match in matches:
        of[match["bracket"]].append(match)
    last_winners = max((m["round"] for m in of["winners"]), default=0)

    def winners_title(r: int) -> str:
        from_end = last_winners - r
        finals = (
            ["Winners final", "Winners semifinals", "Winners quarterfinals"]
            if double
            else ["Final", "Semifinals", "Quarterfinals"]
        )
        if from_end < len(finals):
            return finals[from_end]
        return f"Winners round {r}" if double else f"Round {r}"

    sections = []
    if of["winners"]:
        sections.append(
            {
                "title": "Winners bracket" if double else "Bracket",
                "rounds": _rounds(of["winners"], names, winners_title),
            }
        )
    if of["losers"]:
        last_losers = max(m["round"] for m in of["losers"])
        sections.append(
            {
                "title": "Losers bracket",
                "rounds": _rounds(
                    of["losers"],
                    names,
                    lambda j: "Losers final" if j == last_losers else f"Losers round {j}",
                ),
            }
        )
    finals = sorted(of["grand_final"], key=lambda m: m["round"])
    first = next((m for m in finals if m["round"] == 1), None)
    # The reset is shown only while the first grand final still points at it (live.js).
    deciding = [m for m in finals if m["round"] == 1 or (first and first["next_match"] == m["id"])]
    if deciding:
        sections.append(
            {
                "title": "Grand final",
                "rounds": _rounds(
                    deciding, names, lambda r: "Grand final" if r == 1 else "Grand final reset"
                ),
            }
        )
    return sections


def _group_sections(tournament: dict, matches: list[dict], names: _Names) -> list[dict]:
    if not matches:
        return []
    played_rounds = max(m["round"] for m in matches)
    total = tournament.get("swiss_rounds") if tournament["format"] == "swiss" else None
    total = total or played_rounds
    return [
        {
            "title": "Rounds",
            "rounds": _rounds(matches, names, lambda r: f"Round {r} of {total}"),
        }
    ]
