"""Create a demo organizer and funded demo players, once (``make run`` calls this)."""

from django.core.management.base import BaseCommand

from users.models import User
from users.services import token_for_user, user_register
from wallets.services import deposit_create

DEMO_PASSWORD = "atom-demo-password"
DEMO_PLAYERS = 8
DEMO_FUNDS = 10_000


class Command(BaseCommand):
    help = "Create the demo organizer and funded demo players if they do not exist."

    def handle(self, *args, **options):
        lines = []
        for username in ["organizer", *[f"player{i}" for i in range(1, DEMO_PLAYERS + 1)]]:
            user = User.objects.filter(username=username).first()
            if user is None:
                user, _ = user_register(username=username, password=DEMO_PASSWORD)
                if username != "organizer":
                    deposit_create(user_id=user.pk, amount=DEMO_FUNDS)
            lines.append(f"  {username:<10} token {token_for_user(user=user)}")
        self.stdout.write(
            f"Demo accounts (password {DEMO_PASSWORD!r}; players start with {DEMO_FUNDS}):\n"
            + "\n".join(lines)
        )
