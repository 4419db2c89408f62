"""``Idempotency-Key`` for money-moving POSTs (Stripe's semantics).

The first response for a (user, key) is stored in the same transaction as the action it
answers, and every repeat gets it back without running the action again. Concurrent
repeats queue on the record's row lock, so however many arrive at once, the action runs
once and all of them answer the same. The same key with another request (another body or
another endpoint) is refused with 409 ``idempotency_key_reused``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from django.db import IntegrityError, transaction

from project.errors import DomainError, InvalidInput
from wallets.errors import IdempotencyKeyReused
from wallets.models import IdempotencyRecord

MAX_KEY_LENGTH = 255

# An action returns the HTTP status and the JSON body of its answer.
Action = Callable[[], tuple[int, dict]]


def request_fingerprint(*, method: str, path: str, body: object) -> str:
    canonical = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotent_call(*, user_id: int, key: str | None, fingerprint: str, action: Action):
    """Run ``action`` once per (user, key); replay its answer for repeats."""
    if key is None:
        return action()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters.",
            code="invalid_idempotency_key",
        )

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
            # A refusal is an answer too: a retry must not succeed where the first failed
            # (the state may have changed since, and the client asked for "once").
            status, body = error.status, error.as_body()
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
