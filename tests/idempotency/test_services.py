"""idempotency.services: one action per (user, key), its answer replayed, refusals too."""

import json

import pytest

from idempotency.errors import IdempotencyKeyReused, InvalidIdempotencyKey
from idempotency.models import IdempotencyRecord
from idempotency.services import MAX_KEY_LENGTH, idempotent_call, request_fingerprint
from project.domain_errors import Conflict

pytestmark = pytest.mark.django_db


class Action:
    """Counts its runs; answers ``answer`` or raises ``error``."""

    def __init__(self, answer=(201, {"done": True}), error=None):
        self.answer, self.error, self.runs = answer, error, 0

    def __call__(self):
        self.runs += 1
        if self.error is not None:
            raise self.error
        return self.answer


def refusal_answer(error):
    return error.status, {"code": error.code, "detail": error.detail}


def call(user, key, action, *, fingerprint="a" * 64):
    return idempotent_call(
        user_id=user.pk,
        key=key,
        fingerprint=fingerprint,
        action=action,
        refusal_answer=refusal_answer,
    )


def test_the_first_answer_is_stored_and_replayed_without_running_again(make_user):
    user = make_user()
    first = Action()
    assert call(user, "k", first) == (201, {"done": True})

    again = Action(answer=(201, {"done": "twice"}))
    assert call(user, "k", again) == (201, {"done": True})

    assert (first.runs, again.runs) == (1, 0)
    record = IdempotencyRecord.objects.get(user=user, key="k")
    assert (record.response_status, json.loads(record.response_body)) == (201, {"done": True})


def test_a_refusal_is_an_answer_too_and_a_retry_does_not_succeed(make_user):
    user = make_user()
    refused = Action(error=Conflict("Not now.", code="busy"))
    assert call(user, "k", refused) == (409, {"code": "busy", "detail": "Not now."})

    would_succeed = Action()
    assert call(user, "k", would_succeed) == (409, {"code": "busy", "detail": "Not now."})
    assert would_succeed.runs == 0


def test_without_a_key_the_action_runs_and_its_refusal_propagates(make_user):
    user = make_user()
    with pytest.raises(Conflict):
        call(user, None, Action(error=Conflict("Not now.")))
    action = Action()
    assert call(user, None, action) == call(user, None, action) == (201, {"done": True})
    assert action.runs == 2
    assert not IdempotencyRecord.objects.exists()


def test_the_same_key_for_another_request_is_refused_and_changes_nothing(make_user):
    user = make_user()
    call(user, "k", Action())
    other = Action()

    with pytest.raises(IdempotencyKeyReused) as refused:
        call(user, "k", other, fingerprint="b" * 64)

    assert refused.value.code == "idempotency_key_reused" and refused.value.status == 409
    assert other.runs == 0
    record = IdempotencyRecord.objects.get()
    assert (record.request_fingerprint, record.response_status) == ("a" * 64, 201)


def test_keys_are_per_user(make_user):
    alice, bob = make_user(), make_user()
    call(alice, "k", Action())
    assert call(bob, "k", Action(answer=(200, {"bob": 1}))) == (200, {"bob": 1})
    assert IdempotencyRecord.objects.count() == 2


@pytest.mark.parametrize("key", ["", "k" * (MAX_KEY_LENGTH + 1)])
def test_an_empty_or_too_long_key_is_refused_before_anything_runs(make_user, key):
    action = Action()
    with pytest.raises(InvalidIdempotencyKey) as refused:
        call(make_user(), key, action)
    assert refused.value.code == "invalid_idempotency_key" and refused.value.status == 400
    assert action.runs == 0
    assert not IdempotencyRecord.objects.exists()


def test_a_key_of_the_longest_length_is_accepted(make_user):
    assert call(make_user(), "k" * MAX_KEY_LENGTH, Action()) == (201, {"done": True})


def test_the_fingerprint_covers_method_path_and_body_whatever_the_key_order():
    fingerprint = request_fingerprint(method="POST", path="/a", body={"x": 1, "y": 2})
    assert fingerprint == request_fingerprint(method="POST", path="/a", body={"y": 2, "x": 1})
    assert (
        len(
            {
                fingerprint,
                request_fingerprint(method="PUT", path="/a", body={"x": 1, "y": 2}),
                request_fingerprint(method="POST", path="/b", body={"x": 1, "y": 2}),
                request_fingerprint(method="POST", path="/a", body={"x": 1, "y": 3}),
            }
        )
        == 4
    )
