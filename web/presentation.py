"""How the pages word the service's values: money, statuses, formats.

The words are the live page's (consumers/static/live/live.js), so a tournament reads the
same on every page.
"""

from django.conf import settings

from tournaments.models import Tournament

STATUS_LABELS = {
    Tournament.Status.REGISTRATION: "Registration open",
    Tournament.Status.IN_PROGRESS: "In progress",
    Tournament.Status.COMPLETED: "Completed",
    Tournament.Status.CANCELLED: "Cancelled",
}

FORMAT_LABELS = {
    Tournament.Format.SINGLE_ELIMINATION: "Single elimination",
    Tournament.Format.DOUBLE_ELIMINATION: "Double elimination",
    Tournament.Format.ROUND_ROBIN: "Round robin",
    Tournament.Format.SWISS: "Swiss",
}


def money_text(amount: int, currency: str | None = None) -> str:
    """An amount of minor units as the currency: 123456 -> "1,234.56 USD".

    API.md stores money as integer cents of the deployment's one currency
    (``settings.CURRENCY``); like the notifications' wording (notifications/services.py),
    a hundredth is the minor unit whatever the currency.
    """
    currency = settings.CURRENCY if currency is None else currency
    sign = "-" if amount < 0 else ""
    units, cents = divmod(abs(amount), 100)
    return f"{sign}{units:,}.{cents:02d} {currency}"
