"""project.errors: the one mapping from an error to its answer, the same for a REST view
and for a live socket's reply."""

import pytest
from django.http import Http404
from rest_framework import exceptions as drf_exceptions

from matches.errors import MatchClosed
from project.domain_errors import DomainError, InvalidInput, NotFound
from project.errors import api_exception_handler, error_answer, socket_error_body
from tournaments.errors import EventsPruned
from users.errors import LockedOut

CASES = [
    (
        InvalidInput("Bad.", code="invalid_x", fields={"x": ["No."]}),
        400,
        {"code": "invalid_x", "detail": "Bad.", "fields": {"x": ["No."]}},
        {},
    ),
    (NotFound("No such thing."), 404, {"code": "not_found", "detail": "No such thing."}, {}),
    (MatchClosed("Closed."), 409, {"code": "match_closed", "detail": "Closed."}, {}),
    (EventsPruned("Gone."), 410, {"code": "events_pruned", "detail": "Gone."}, {}),
    (LockedOut("Wait."), 429, {"code": "locked_out", "detail": "Wait."}, {}),
    (
        drf_exceptions.ValidationError({"winner": ["Required."]}),
        400,
        {
            "code": "invalid",
            "detail": "The request is not valid.",
            "fields": {"winner": ["Required."]},
        },
        {},
    ),
    (
        drf_exceptions.ValidationError(["Not both."]),
        400,
        {
            "code": "invalid",
            "detail": "The request is not valid.",
            "fields": {"non_field_errors": ["Not both."]},
        },
        {},
    ),
    (
        drf_exceptions.ParseError("Expecting value"),
        400,
        {"code": "malformed_json", "detail": "The request body is not valid JSON: Expecting value"},
        {},
    ),
    (Http404(), 404, {"code": "not_found", "detail": "Not found."}, {}),
    (
        drf_exceptions.Throttled(wait=13),
        429,
        {
            "code": "rate_limited",
            "detail": "Request was throttled. Expected available in 13 seconds.",
        },
        {"Retry-After": "13"},
    ),
]


@pytest.mark.parametrize(("error", "status", "body", "headers"), CASES)
def test_the_rest_answer_and_the_socket_body_come_from_one_mapping(error, status, body, headers):
    answer = error_answer(error)
    assert (answer.status, answer.body, answer.headers) == (status, body, headers)

    response = api_exception_handler(error, {})
    assert response.status_code == status
    assert response.data == body
    assert {name: response[name] for name in headers} == headers
    assert socket_error_body(error) == body


def test_a_domain_error_without_fields_has_no_fields_key():
    assert "fields" not in error_answer(DomainError("No.")).body
    assert error_answer(DomainError("No.")).body == {"code": "invalid", "detail": "No."}


@pytest.mark.parametrize("error", [ValueError("a bug"), KeyError("k"), RuntimeError()])
def test_anything_else_is_a_bug_left_to_the_500_handler(error):
    assert error_answer(error) is None
    assert api_exception_handler(error, {}) is None
    assert socket_error_body(error) is None
