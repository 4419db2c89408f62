"""The prize split is checked by the database too (PostgreSQL).

A split that does not sum to 100 makes the result that completes the tournament fail
(``matches.formats.payouts.prize_shares``), so the tournament could never end; the service,
the REST input and the admin refuse one (``tournaments.models.prize_split_errors``), and this
CHECK refuses any other writer. It calls a function because a CHECK cannot hold a subquery.
Not on SQLite (the embedded default): there only this service writes.
"""

from django.db import migrations, models

import tournaments.models

CREATE = """
CREATE FUNCTION tournament_prize_split_valid(split jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN jsonb_typeof(split) <> 'array' OR jsonb_array_length(split) = 0 THEN false
        ELSE (
            SELECT bool_and(jsonb_typeof(p) = 'number' AND p::text ~ '^[0-9]+$')
                AND sum(CASE WHEN p::text ~ '^[0-9]+$' THEN p::text::numeric END) = 100
            FROM jsonb_array_elements(split) AS p
        )
    END
$$;
ALTER TABLE tournaments_tournament ADD CONSTRAINT tournament_prize_split_valid
    CHECK (tournament_prize_split_valid(prize_split));
"""

DROP = """
ALTER TABLE tournaments_tournament DROP CONSTRAINT tournament_prize_split_valid;
DROP FUNCTION tournament_prize_split_valid(jsonb);
"""


def constraint_add(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def constraint_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("tournaments", "0003_tournament_payouts_pending"),
    ]

    operations = [
        migrations.AlterField(
            model_name="tournament",
            name="prize_split",
            field=models.JSONField(
                default=list, validators=[tournaments.models._prize_split_validate]
            ),
        ),
        migrations.RunPython(constraint_add, constraint_drop),
    ]
