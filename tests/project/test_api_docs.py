"""docs/api.md against the served OpenAPI schema: the same REST operations, both ways.

The contract (docs/api.md) lists every REST operation as ``METHOD /api/path``, in its
tables and in a few sentences (``PATCH /api/tournaments/{id}``); the schema at
``/api/schema/`` is generated from the code. An operation in one and not the other is a
contract the code does not keep, or code the contract does not describe.

REST paths are the ``/api/`` paths without a trailing slash (docs/api.md, Conventions):
``/api/schema/`` and ``/api/docs/``, which end with one, are the schema's own pages.
Path parameters are compared by position, not name (``{id}`` in the contract is
``{tournament_id}`` in the schema).
"""

import re
from pathlib import Path

import pytest

API_DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
OPERATION = re.compile(rf"\b({'|'.join(METHODS)}) (/api/[^\s`|?]*)")

# In docs/api.md ("Match play", from the shared API.md) but not served yet: issue 13 builds
# them. Each one is expected to fail until it is served; once it is, its test passes
# unexpectedly, which fails the run (strict): then take it off this list.
NOT_YET_SERVED = {}

Operation = tuple[str, str]


def normalised(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


def documented_operations(text: str) -> set[Operation]:
    """Every ``METHOD /api/path`` the contract names, REST paths only."""
    return {
        (method, normalised(path))
        for method, path in OPERATION.findall(text)
        if not path.endswith("/")
    }


def served_operations(schema: dict) -> set[Operation]:
    return {
        (method.upper(), normalised(path))
        for path, operations in schema["paths"].items()
        for method in operations
        if method.upper() in METHODS
    }


DOCUMENTED = documented_operations(API_DOC.read_text())


@pytest.fixture
def served(anon) -> set[Operation]:
    response = anon.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return served_operations(response.json())


def _documented_params() -> list:
    return [
        pytest.param(
            *operation,
            marks=[pytest.mark.xfail(strict=True, reason=NOT_YET_SERVED[operation])]
            if operation in NOT_YET_SERVED
            else [],
            id=" ".join(operation),
        )
        for operation in sorted(DOCUMENTED)
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path"), _documented_params())
def test_a_documented_operation_is_served(served, method, path):
    assert (method, path) in served, f"docs/api.md names {method} {path}; the schema has not"


@pytest.mark.django_db
def test_every_served_operation_is_documented(served):
    undocumented = sorted(served - DOCUMENTED)
    assert not undocumented, f"served but not in docs/api.md: {undocumented}"


def test_the_operations_waiting_for_issue_13_are_still_in_the_contract():
    """An entry of NOT_YET_SERVED that left the contract would excuse nothing any more."""
    assert set(NOT_YET_SERVED) <= DOCUMENTED


def test_the_contract_is_read_from_its_tables_and_sentences():
    text = """
| method and path | who |
|---|---|
| GET /api/tournaments/{id} | anyone |
| DELETE /api/teams/{id}/members/{user_id} | captain |

Editable with `PATCH /api/tournaments/{id}` by the organizer; `GET /api/schema/` and
`GET /api/docs/` are pages; `GET /healthz` and `GET /tournaments/{id}/live` are not REST.
`GET /api/tournaments/{id}/events?since=V` reads the log.
"""
    assert documented_operations(text) == {
        ("GET", "/api/tournaments/{}"),
        ("DELETE", "/api/teams/{}/members/{}"),
        ("PATCH", "/api/tournaments/{}"),
        ("GET", "/api/tournaments/{}/events"),
    }
