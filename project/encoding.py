"""JSON out of the hot paths: one fast encoder (orjson) and the REST framework's text for
the values JSON has no type for.

The hand-built renderers (``tournaments.payloads``, ``matches.payloads``) put datetimes in
as the text the REST serializers give them (``datetime_text``), so a payload encodes the
same whichever path built it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from django.db.models import Func, TextField


def json_bytes(payload) -> bytes:
    return orjson.dumps(payload)


def json_text(payload) -> str:
    return orjson.dumps(payload).decode()


def datetime_text(value: datetime | str | None) -> str | None:
    """As DRF's ``DateTimeField`` renders it (ISO 8601, UTC as ``Z``; TIME_ZONE is UTC).
    A string is taken to be that text already (``UtcText`` read it so)."""
    if value is None or isinstance(value, str):
        return value
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


# --- Reading values as their JSON text ------------------------------------------------------
# For the row reads of the snapshot: Django turns every datetime and JSON value of a row
# into a Python object through its own per-value converters (most of the CPU of reading a
# 2,016-match bracket, bench/snapshot.py); these let the database hand over the text the
# payload needs instead.


class UtcText(Func):
    """A datetime column as ``datetime_text`` renders it: ``2026-12-02T21:45:00.123456Z``,
    without the fraction when it is zero (as ``datetime.isoformat``)."""

    output_field = TextField()
    template = (
        "regexp_replace(to_char(%(expressions)s AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS.US'), '\\.000000$', '') || 'Z'"
    )

    def as_sqlite(self, compiler, connection, **extra):
        # SQLite holds a UTC datetime as str(datetime): "2026-12-02 21:45:00[.123456]".
        return self.as_sql(
            compiler, connection, template="replace(%(expressions)s, ' ', 'T') || 'Z'"
        )


class JsonText(Func):
    """A JSON column as its text (``json_fragment`` embeds it without parsing)."""

    output_field = TextField()
    template = "(%(expressions)s)::text"

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="%(expressions)s")


def json_fragment(text: str | None):
    """JSON text the encoder copies as it is (``None`` for SQL NULL)."""
    return None if text is None else orjson.Fragment(text)
