"""The 404 and 500 answers (web/views/errors.py): a page for people, JSON under ``/api/``."""

import json

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

API_404 = {"code": "not_found", "detail": "No such resource."}
API_500 = {"code": "server_error", "detail": "Internal error; it has been logged."}


@pytest.fixture
def client():
    client = Client()
    client.raise_request_exception = False  # as a real server answers a bug: a 500
    return client


@pytest.mark.parametrize(
    "path",
    [
        "/nope",
        "/tournaments/abc",
        "/tournaments/987654321",
        "/teams/987654321",
        "/wallet/x",
    ],
)
def test_an_unknown_page_is_a_styled_html_404(client, path):
    response = client.get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert "<h1>There is nothing here</h1>" in response.text
    assert 'href="/">See the tournaments</a>' in response.text
    assert '<link rel="stylesheet" href="/static/web/web.' in response.text  # the site's layout


def test_the_404_page_shows_who_is_signed_in_and_escapes_the_path(client, make_user):
    client.force_login(make_user("alice"))
    response = client.get("/<script>alert(1)</script>")
    assert response.status_code == 404
    assert "Signed in as <strong>alice</strong>" in response.text
    assert "<script>alert" not in response.text


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE"])
@pytest.mark.parametrize("path", ["/api/nope", "/api/", "/api/tournaments/1/nope"])
def test_api_paths_keep_their_json_404(client, method, path):
    response = client.generic(method, path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == API_404


def test_an_unknown_api_id_keeps_its_json_404(client):
    response = client.get("/api/tournaments/987654321")

    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "There is no tournament 987654321."}


def test_a_bug_in_a_page_is_an_html_500(client, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("web.views.tournaments.tournament_list", broken)

    response = client.get("/")

    assert response.status_code == 500
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert "<h1>Something went wrong</h1>" in response.text
    assert "a bug" not in response.text


def test_a_bug_in_the_api_is_its_json_500(client, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("tournaments.views.selectors.tournament_list", broken)

    response = client.get("/api/tournaments")

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == API_500


def test_the_500_page_falls_back_to_plain_html_when_it_cannot_render(client, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("a bug")

    def no_template(name):
        raise OSError("the templates are gone")

    monkeypatch.setattr("web.views.tournaments.tournament_list", broken)
    monkeypatch.setattr("web.views.errors.loader.get_template", no_template)

    response = client.get("/")

    assert response.status_code == 500
    assert "<h1>Something went wrong</h1>" in response.text
