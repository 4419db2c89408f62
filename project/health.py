import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        return False


def _channel_layer_ok() -> bool:
    """A message sent to a fresh channel comes back: the layer (Redis) works end to end."""
    try:
        layer = get_channel_layer()
        channel = f"healthz.{uuid.uuid4().hex}"
        probe = {"type": "healthz.probe"}
        async_to_sync(layer.send)(channel, probe)
        return async_to_sync(layer.receive)(channel) == probe
    except Exception:
        return False


@require_GET
def healthz(request):
    checks = {
        "database": "ok" if _database_ok() else "failed",
        "channel_layer": "ok" if _channel_layer_ok() else "failed",
    }
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse(checks, status=200 if healthy else 503)
