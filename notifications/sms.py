"""SMS through a small pluggable backend, shaped like Django's email backends.

``settings.SMS_BACKEND`` names the class; ``get_sms_connection()`` returns an instance.
Shipped: ``ConsoleSmsBackend`` (prints each message, like Django's console email backend)
and ``InMemorySmsBackend`` (keeps them in ``outbox``, for tests). A provider is plugged in
by subclassing ``BaseSmsBackend`` and naming the subclass in ``SMS_BACKEND``.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class SmsMessage:
    to: str  # the phone number as the user gave it (users.User.phone)
    body: str


class BaseSmsBackend:
    """The interface of an SMS backend.

    ``send_messages(messages)`` sends a batch and returns how many were sent. It opens the
    connection to the provider itself if the caller has not, and then closes it again; as a
    context manager the backend keeps one connection open for the whole block. With
    ``fail_silently`` a backend swallows provider errors instead of raising them.

    Subclasses implement ``send_messages``; a backend that holds a connection (an HTTP
    session, a socket) also implements ``open`` (return True if it opened one now) and
    ``close``.
    """

    def __init__(self, *, fail_silently: bool = False, **kwargs) -> None:
        self.fail_silently = fail_silently

    def open(self) -> bool:
        return False

    def close(self) -> None:
        return None

    def __enter__(self) -> BaseSmsBackend:
        try:
            self.open()
        except Exception:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def send_messages(self, messages: Sequence[SmsMessage]) -> int:
        raise NotImplementedError("an SMS backend must implement send_messages()")


class ConsoleSmsBackend(BaseSmsBackend):
    """Writes every message to a stream (stdout unless given): for development."""

    def __init__(self, *, stream: IO[str] | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.stream = stream or sys.stdout
        self._lock = threading.Lock()

    def send_messages(self, messages: Sequence[SmsMessage]) -> int:
        if not messages:
            return 0
        with self._lock:
            for message in messages:
                self.stream.write(f"SMS to {message.to}\n{message.body}\n{'-' * 79}\n")
            self.stream.flush()
        return len(messages)


# What InMemorySmsBackend sent, in order, in this process (tests empty it between tests).
outbox: list[SmsMessage] = []


class InMemorySmsBackend(BaseSmsBackend):
    """Appends every message to ``notifications.sms.outbox``: for tests."""

    def send_messages(self, messages: Sequence[SmsMessage]) -> int:
        outbox.extend(messages)
        return len(messages)


def get_sms_connection(
    backend: str | None = None, *, fail_silently: bool = False, **kwargs
) -> BaseSmsBackend:
    """An instance of ``backend`` (a dotted path; default ``settings.SMS_BACKEND``)."""
    backend_class = import_string(backend or settings.SMS_BACKEND)
    return backend_class(fail_silently=fail_silently, **kwargs)
