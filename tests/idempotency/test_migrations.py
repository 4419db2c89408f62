"""The records moved from the ledger app to idempotency without touching the database: the
table, its constraint and its rows stay; only Django's idea of who owns them changes."""

import json

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from idempotency.models import IdempotencyRecord

pytestmark = pytest.mark.django_db

TABLE = "wallets_idempotencyrecord"


def migrate(targets) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor


def test_a_record_written_before_the_move_is_read_after_it(make_user):
    user = make_user()
    # Back to before the move: the model is the ledger's again (wallets 0002 is undone with
    # idempotency 0001, which it depends on).
    before = migrate([("idempotency", None)]).loader.project_state(("wallets", "0001_initial"))
    assert ("wallets", "idempotencyrecord") in before.models
    assert ContentType.objects.filter(app_label="wallets", model="idempotencyrecord").exists()
    OldRecord = before.apps.get_model("wallets", "IdempotencyRecord")
    OldRecord.objects.create(
        user_id=user.pk,
        key="before-the-move",
        request_fingerprint="f" * 64,
        response_status=201,
        response_body=json.dumps({"balance": 5}),
    )

    executor = MigrationExecutor(connection)
    migrate(executor.loader.graph.leaf_nodes())

    record = IdempotencyRecord.objects.get(user=user, key="before-the-move")
    assert (record.response_status, json.loads(record.response_body)) == (201, {"balance": 5})
    assert IdempotencyRecord._meta.db_table == TABLE
    assert not ContentType.objects.filter(app_label="wallets", model="idempotencyrecord").exists()
    assert ContentType.objects.filter(app_label="idempotency", model="idempotencyrecord").exists()
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, TABLE)
    assert constraints["idempotency_key_per_user"]["unique"]
    assert constraints["idempotency_key_per_user"]["columns"] == ["user_id", "key"]


def test_the_move_is_state_only():
    """Neither migration runs SQL on the table: the move is free on any database size."""
    executor = MigrationExecutor(connection)
    for node in [("idempotency", "0001_initial"), ("wallets", "0002_idempotencyrecord_moved")]:
        migration = executor.loader.graph.nodes[node]
        state = executor.loader.project_state(node, at_end=False)
        with connection.schema_editor(collect_sql=True, atomic=False) as editor:
            for operation in migration.operations:
                if operation.__class__.__name__ == "RunPython":
                    continue  # data only: the content type's app label
                new_state = state.clone()
                operation.state_forwards(node[0], new_state)
                operation.database_forwards(node[0], editor, state, new_state)
                state = new_state
            assert editor.collected_sql == [], (node, editor.collected_sql)
