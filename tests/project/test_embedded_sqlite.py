"""The embedded default (SQLite, no other service) runs the write path's ORM versions of the
statements that PostgreSQL takes by hand (project/statements.py): a paid team join, a
refused second join and a leave; a round robin played to the end (the match lock, the
matches' update, the round's end); each in a fresh process on a SQLite file of its own."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SETUP = """
import json, sys
import django
from django.conf import settings

django.setup()
settings.DATABASES["default"]["NAME"] = sys.argv[1]  # before the first connection
from django.core.management import call_command
from django.db import connection

call_command("migrate", verbosity=0)
"""

SCRIPT = (
    SETUP
    + """
from tournaments.errors import AlreadyRegistered
from tournaments.models import TeamMember
from tournaments.selectors import team_get
from tournaments.services import team_create, tournament_create, tournament_join, tournament_leave
from users.models import User
from wallets.models import Account, Entry
from wallets.services import deposit_create

players = [User.objects.create_user(f"player{i}") for i in range(3)]
for player in players:
    deposit_create(user_id=player.pk, amount=100)
team = team_create(user=players[0], name="Embedded")
TeamMember.objects.bulk_create(TeamMember(team=team, user=p) for p in players[1:])
cup = tournament_create(organizer=User.objects.create_user("organizer"), name="Cup",
                        format="round_robin", max_participants=4, entry_fee=10, team_size=3)

def balances():
    return [Account.objects.get(user=p).balance for p in players]

joined = tournament_join(tournament_id=cup.pk, user=players[0], team_id=team.pk)
after_join = balances()
try:
    tournament_join(tournament_id=cup.pk, user=players[0], team_id=team.pk)
    second = "admitted"
except AlreadyRegistered:
    second = "already_registered"
left = tournament_leave(tournament_id=cup.pk, user=players[0])
print(json.dumps({
    "vendor": connection.vendor,
    "roster": sorted(m.user_id for m in joined.loaded_roster),
    "roster_ids_saved": all(m.pk for m in joined.loaded_roster),
    "team": [m.user.username for m in team_get(team_id=team.pk).loaded_memberships],
    "entries": Entry.objects.filter(posting__reference=joined.ledger_reference,
                                    posting__kind="entry_fee").count(),
    "after_join": after_join,
    "second": second,
    "left": left.status,
    "after_leave": balances(),
    "players": [p.pk for p in players],
}))
"""
)


def run_on_sqlite(script: str, tmp_path) -> dict:
    """Run ``script`` in a fresh process on the embedded default; its last line, as JSON."""
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "db.sqlite3")],
        cwd=ROOT,
        env={
            "PATH": os.environ["PATH"],
            "DJANGO_SETTINGS_MODULE": "project.settings",
            "DEBUG": "1",
            "PYTHONPATH": str(ROOT),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_a_paid_team_join_and_leave_on_sqlite(tmp_path):
    outcome = run_on_sqlite(SCRIPT, tmp_path)
    assert outcome["vendor"] == "sqlite"
    assert outcome["roster"] == sorted(outcome["players"]) and outcome["roster_ids_saved"]
    assert outcome["team"] == ["player0", "player1", "player2"]
    assert outcome["entries"] == 4  # three wallets and the escrow
    assert outcome["after_join"] == [90, 90, 90]
    assert outcome["second"] == "already_registered"
    assert (outcome["left"], outcome["after_leave"]) == ("left", [100, 100, 100])


PLAYED = (
    SETUP
    + """
from matches.models import Match
from matches.services import match_report, tournament_start
from tournaments.models import Participant
from tournaments.services import tournament_create, tournament_join
from users.models import User

organizer = User.objects.create_user("organizer")
league = tournament_create(organizer=organizer, name="League", format="round_robin",
                           max_participants=4)
players = [User.objects.create_user(f"player{i}") for i in range(4)]
for player in players:
    tournament_join(tournament_id=league.pk, user=player)
tournament_start(tournament_id=league.pk, user=organizer)
captains = dict(Participant.objects.filter(tournament=league).values_list("pk", "captain_id"))
played = []
while (match := Match.objects.filter(tournament=league, status="ready", is_bye=False)
       .order_by("round", "position").first()):
    side_a, side_b = match.participant_a_id, match.participant_b_id
    first = match_report(match_id=match.pk, user=User.objects.get(pk=captains[side_a]),
                         winner_id=side_a, scores=[2, 1])
    second = match_report(match_id=match.pk, user=User.objects.get(pk=captains[side_b]),
                          winner_id=side_a, scores=[2, 1])
    played.append([first.status, second.status])
league.refresh_from_db()
print(json.dumps({
    "vendor": connection.vendor,
    "played": played,
    "stored": [[status, scores] for status, scores in Match.objects.filter(
        tournament=league, is_bye=False).values_list("status", "scores")],
    "status": league.status,
}))
"""
)


def test_a_round_robin_played_to_the_end_on_sqlite(tmp_path):
    outcome = run_on_sqlite(PLAYED, tmp_path)
    assert outcome["vendor"] == "sqlite"
    assert outcome["played"] == [["awaiting_confirmation", "completed"]] * 6
    assert outcome["stored"] == [["completed", [2, 1]]] * 6
    assert outcome["status"] == "completed"
