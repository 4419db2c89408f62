"""WebSocket authentication by ``Authorization: Token <key>`` (API.md), beside the session
cookie that Channels' ``AuthMiddlewareStack`` reads. A browser holding a token sends it in
its first frame instead (``consumers.live.MatchConsumer.first_frame``)."""

from __future__ import annotations

from channels.middleware import BaseMiddleware
from django.contrib.auth.models import AnonymousUser

from consumers.hub import db_call
from consumers.selectors import token_user


class TokenAuthMiddleware(BaseMiddleware):
    """Sets ``scope["user"]`` from a token header; a bad token means anonymous (like no
    credentials: the match socket then closes with 4401). Without the header the session's
    user, set by the middleware around this one, stays."""

    async def __call__(self, scope, receive, send):
        key = _token_from_headers(scope.get("headers") or [])
        if key is not None:
            scope = dict(scope)
            user = await db_call(token_user, key=key) if key else None
            scope["user"] = user or AnonymousUser()
        return await super().__call__(scope, receive, send)


def _token_from_headers(headers) -> str | None:
    """The key of ``Authorization: Token <key>`` ("" if malformed), or None without one."""
    for name, value in headers:
        if name.lower() == b"authorization":
            parts = value.decode("latin-1").split()
            if len(parts) == 2 and parts[0].lower() == "token" and len(parts[1]) <= 64:
                return parts[1]
            return ""
    return None
