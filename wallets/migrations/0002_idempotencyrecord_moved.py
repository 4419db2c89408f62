"""IdempotencyRecord leaves the ledger for the idempotency app (idempotency 0001).

State only: the table and its rows stay where they are, now owned by the new app.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("idempotency", "0001_initial"),
        ("wallets", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="IdempotencyRecord")],
            database_operations=[],
        ),
    ]
