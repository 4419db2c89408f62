"""The domain's errors: a business rule said no.

Services raise these; they know nothing of the REST framework, Channels or HTTP objects.
``project.errors`` is the one place that turns them (and the REST framework's own errors)
into answers: the HTTP response of a view and the error body of a live socket's reply.

Each error carries what every answer is built from: ``code``, the machine code clients
switch on (API.md lists them); ``detail``, a sentence for people; ``fields``, the input
fields at fault, if any; and ``status``, the number API.md gives the error. The status is a
plain number on the class, beside the code, because API.md fixes the two together for
every error and every edge answers with that pair: the REST views, the pages, and the
replay of an ``Idempotency-Key``. Each app's ``errors.py`` subclasses the four kinds below.
"""

from __future__ import annotations


class DomainError(Exception):
    """A business rule said no. ``code`` is the machine code clients switch on."""

    status = 400
    code = "invalid"

    def __init__(self, detail: str, *, code: str | None = None, fields: dict | None = None):
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        self.fields = fields


class InvalidInput(DomainError):
    status = 400


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"
