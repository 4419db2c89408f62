"""Serializer fields shared by every app's input serializers."""

from __future__ import annotations

from rest_framework import serializers


class StrictIntegerField(serializers.IntegerField):
    """An integer that must arrive as a JSON integer.

    DRF's ``IntegerField`` coerces ``100.0``, ``"100"`` and ``true`` to an int. Money is a
    whole count of minor units and never a float or a string (API.md, Conventions), so a
    client that sends one has a bug we should report, not guess around. ``bool`` is a
    subclass of ``int`` in Python, hence the explicit check.
    """

    default_error_messages = {
        "invalid": "A whole number is required (a JSON integer, not a string or a float).",
    }

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)
