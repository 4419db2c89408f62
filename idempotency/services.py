"""``Idempotency-Key`` for POSTs that must happen once (Stripe's semantics).

The first answer for a (user, key) is stored in the same transaction as the action it
answers, and every repeat gets it back without running the action again. Concurrent
repeats queue on the record's row lock, so however many arrive at once, the action runs
once and all of them answer the same. The same key with another request (another body or
another endpoint) is refused with ``IdempotencyKeyReused``.

An answer is what the client got: a status and a JSON body. A refusal (a domain error the
action raises) is an answer too, stored and replayed like a success: the client asked for
"once", and the state may have changed since, so a retry must not succeed where the first
attempt failed. The caller says how a refusal is answered (``idempotency.http`` answers as
the REST API does), so this module knows no HTTP framework.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from django.db import IntegrityError, transaction

from idempotency.errors import IdempotencyKeyReused, InvalidIdempotencyKey
from idempotency.models import IdempotencyRecord
from project.domain_errors import DomainError

MAX_KEY_LENGTH = 255

# An answer: the HTTP status and the JSON body.
Answer = tuple[int, dict]
Action = Callable[[], Answer]


def request_fingerprint(*, method: str, path: str, body: object) -> str:
    canonical = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotent_call(
    *,
    user_id: int,
    key: str | None,
    fingerprint: str,
    action: Action,
    refusal_answer: Callable[[DomainError], Answer],
) -> Answer:
    """Run ``action`` once per (user, key); replay its answer for repeats.

    Without a key the action just runs (and its domain errors propagate). A key that is
    empty or longer than ``MAX_KEY_LENGTH`` raises ``InvalidIdempotencyKey`` before
    anything is written; a key already used for another request, ``IdempotencyKeyReused``.
    """
    if key is None:
        return action()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidIdempotencyKey(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters.")

    record = _record_get_or_create(user_id=user_id, key=key, fingerprint=fingerprint)
    with transaction.atomic():
        record = IdempotencyRecord.objects.select_for_update().get(pk=record.pk)
        if record.request_fingerprint != fingerprint:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was already used for a different request."
            )
        if record.response_status is not None:
            return record.response_status, json.loads(record.response_body)
        try:
            status, body = action()
        except DomainError as error:
            status, body = refusal_answer(error)
        record.response_status, record.response_body = status, json.dumps(body)
        record.save(update_fields=["response_status", "response_body"])
        return status, body


def _record_get_or_create(*, user_id: int, key: str, fingerprint: str) -> IdempotencyRecord:
    try:
        # Committed at once: a concurrent twin blocks on the unique index until this
        # commits, then fails and reads the row instead.
        with transaction.atomic():
            return IdempotencyRecord.objects.create(
                user_id=user_id, key=key, request_fingerprint=fingerprint
            )
    except IntegrityError:
        return IdempotencyRecord.objects.get(user_id=user_id, key=key)
