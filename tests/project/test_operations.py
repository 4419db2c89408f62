"""Operations: health, schema and docs, production settings, admin."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from project.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[2]


def python(*args, **env):
    """Run Python in a fresh process with exactly the given environment (plus PATH)."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def manage(*args, **env):
    return python("manage.py", *args, **env)


PRODUCTION = {
    "SECRET_KEY": "a-production-secret-key-long-and-random-enough-0123456789-abcdefghij",
    "DATABASE_URL": os.environ.get("DATABASE_URL", ""),
    "REDIS_URL": os.environ.get("REDIS_URL", ""),
    "ALLOWED_HOSTS": "tournaments.example.com",
}


def test_production_refuses_to_start_without_secret_key():
    result = manage("check", **{**PRODUCTION, "SECRET_KEY": ""})
    assert result.returncode != 0
    assert "refuses to start: SECRET_KEY is not set" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("database_url", ["", "sqlite:///tmp/x.sqlite3", "mysql://x@y/z"])
def test_production_refuses_a_database_that_is_not_postgresql(database_url):
    result = manage("check", **{**PRODUCTION, "DATABASE_URL": database_url})
    assert result.returncode != 0
    assert "must name a PostgreSQL database" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_deploy_reports_only_what_the_readme_justifies():
    result = manage("check", "--deploy", **PRODUCTION)
    assert result.returncode == 0, result.stderr
    reported = {line.split()[1] for line in result.stderr.splitlines() if line.startswith("?:")}
    # HSTS for subdomains and preload lists are the operator's call (README, check --deploy).
    assert reported <= {"(security.W005)", "(security.W021)"}
    readme = (ROOT / "README.md").read_text()
    for code in reported:
        assert code.strip("()") in readme


def test_production_settings_shape():
    """The suite itself runs on the production shape: PostgreSQL, Redis, DEBUG off."""
    assert settings.DEBUG is False
    assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    assert settings.CHANNEL_LAYERS["default"]["BACKEND"].startswith("channels_redis")
    assert settings.CACHES["default"]["BACKEND"].endswith("RedisCache")
    assert settings.AXES_HANDLER == "axes.handlers.cache.AxesCacheHandler"
    assert not any("profil" in m.lower() or "silk" in m.lower() for m in settings.MIDDLEWARE)


def test_celery_never_stores_results_in_the_database():
    assert celery_app.conf.task_ignore_result is True
    assert celery_app.conf.result_backend is None
    assert "django_celery_results" not in settings.INSTALLED_APPS
    assert celery_app.conf.broker_url.startswith("redis://")


@pytest.mark.django_db
def test_healthz_reports_database_and_channel_layer(anon):
    response = anon.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "channel_layer": "ok"}


@pytest.mark.django_db
def test_healthz_names_what_failed(anon, settings):
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},  # nothing listens there
        }
    }
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    try:
        response = anon.get("/healthz")
    finally:
        channel_layers.backends.clear()
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "channel_layer": "failed"}


@pytest.mark.django_db
def test_openapi_schema_is_served_and_describes_the_rest_api(anon):
    response = anon.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    for path in [
        "/api/auth/register", "/api/auth/token", "/api/me", "/api/wallet",
        "/api/wallet/entries", "/api/wallets/{user_id}/deposits", "/api/teams",
        "/api/teams/{team_id}", "/api/teams/{team_id}/invites", "/api/teams/{team_id}/accept",
        "/api/teams/{team_id}/members/{user_id}", "/api/tournaments",
        "/api/tournaments/{tournament_id}", "/api/tournaments/{tournament_id}/join",
        "/api/tournaments/{tournament_id}/leave", "/api/tournaments/{tournament_id}/cancel",
        "/api/tournaments/{tournament_id}/events", "/api/tournaments/{tournament_id}/start",
        "/api/tournaments/{tournament_id}/bracket", "/api/tournaments/{tournament_id}/standings",
        "/api/matches/{match_id}", "/api/matches/{match_id}/report",
        "/api/matches/{match_id}/resolve", "/api/matches/{match_id}/reset",
    ]:  # fmt: skip
        assert path in schema["paths"], path
    # Every operation documents the one error shape as its default answer.
    error = {"$ref": "#/components/schemas/Error"}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            default = operation["responses"]["default"]["content"]["application/json"]
            assert default["schema"] == error, (method, path)
    assert schema["components"]["schemas"]["Error"]["required"] == ["code", "detail"]


def test_openapi_schema_validates_without_warnings():
    result = manage("spectacular", "--validate", "--fail-on-warn", "--file", os.devnull,
                    **PRODUCTION)  # fmt: skip
    assert result.returncode == 0, result.stderr


@pytest.mark.django_db
def test_api_docs_page_works_offline(anon):
    response = anon.get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "swagger-ui" in page
    assert "cdn" not in page.lower() and "https://" not in page
    # Its assets are served by the application itself (collected static files).
    assert (
        anon.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css").status_code
        == 200
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "page",
    [
        "tournaments/tournament", "tournaments/team", "tournaments/participant",
        "wallets/account", "wallets/posting", "wallets/entry", "matches/match",
        "matches/prizeaward",
    ],
)  # fmt: skip
def test_admin_pages_render_for_staff(client, admin_user, page):
    client.force_login(admin_user)
    response = client.get(f"/admin/{page}/", secure=True)
    assert response.status_code == 200


@pytest.mark.django_db
def test_ledger_is_read_only_in_the_admin(client, admin_user):
    client.force_login(admin_user)
    assert client.get("/admin/wallets/entry/add/", secure=True).status_code == 403
    assert client.get("/admin/wallets/posting/add/", secure=True).status_code == 403


@pytest.mark.django_db
def test_admin_login_is_locked_out_after_five_failures(client, admin_user):
    for _ in range(5):
        response = client.post(
            "/admin/login/", {"username": admin_user.username, "password": "wrong"}, secure=True
        )
        assert response.status_code in (200, 429)
    response = client.post(
        "/admin/login/", {"username": admin_user.username, "password": "password"}, secure=True
    )
    assert response.status_code == 429
    assert response.json()["code"] == "locked_out"


@pytest.mark.django_db
def test_match_admin_shows_a_match_with_its_reports_read_only(client, admin_user, make_user):
    from matches.models import Match
    from matches.services import match_report, tournament_start
    from tournaments.services import tournament_create, tournament_join

    organizer = make_user()
    cup = tournament_create(organizer=organizer, name="Admin", format="swiss", max_participants=2)
    players = [make_user() for _ in range(2)]
    for player in players:
        tournament_join(tournament_id=cup.pk, user=player)
    tournament_start(tournament_id=cup.pk, user=organizer)
    match = Match.objects.get(tournament=cup)
    match_report(match_id=match.pk, user=players[0], winner_id=None)
    client.force_login(admin_user)

    response = client.get(f"/admin/matches/match/{match.pk}/change/", secure=True)

    assert response.status_code == 200
    assert b"awaiting_confirmation" in response.content or b"Awaiting" in response.content
    assert client.get("/admin/matches/match/add/", secure=True).status_code == 403


def test_a_full_collection_after_start_up_walks_almost_nothing_start_up_loaded():
    # A fresh process: what the server imports (views included), then what a full
    # collection of the garbage collector would walk (~144,000 objects if nothing were done).
    probe = (
        "import gc, sys; import project.asgi; "
        "print(len(gc.get_objects()), 'matches.views' in sys.modules)"
    )
    result = python("-c", probe, **PRODUCTION)
    assert result.returncode == 0, result.stderr
    walked, views_loaded = result.stdout.split()
    assert int(walked) < 5_000 and views_loaded == "True"


# Libraries whose internals the code touches, not only their documented API: pyproject.toml
# must bound each to the range the suite runs on (see the comment there).
INTERNALS_TOUCHED = [
    "Django",
    "asgiref",
    "channels",
    "channels-redis",
    "daphne",
    "Twisted",
    "autobahn",
    "uvicorn",
    "websockets",
]


def test_dependencies_whose_internals_are_used_are_bounded_to_the_tested_range():
    import tomllib
    from importlib.metadata import version

    from packaging.requirements import Requirement

    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    declared = [*project["project"]["dependencies"]]
    for extra in project["project"]["optional-dependencies"].values():
        declared += extra
    requirements = {}
    for line in declared:
        requirement = Requirement(line)
        requirements.setdefault(requirement.name.lower(), []).append(requirement)
    for name in INTERNALS_TOUCHED:
        assert name.lower() in requirements, f"{name} is not declared"
        for requirement in requirements[name.lower()]:
            upper = [s for s in requirement.specifier if s.operator in ("<", "<=", "==", "~=")]
            assert upper, f"{requirement} has no upper bound"
            assert requirement.specifier.contains(version(name)), (
                f"installed {name} {version(name)} is outside {requirement}"
            )
