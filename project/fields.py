"""Serializer fields shared by every app's input serializers, and the one way views read
their input through them (``validated_input``)."""

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


def validated_input(serializer_class: type[serializers.Serializer], request) -> dict:
    """The request body as ``serializer_class`` validates it; a bad body raises the REST
    framework's ValidationError (a 400 with ``fields``, ``project.errors``)."""
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
