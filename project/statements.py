"""The pieces of the few statements the write path builds by hand instead of the ORM.

Why by hand at all: on the paths of a join and of a result, the ORM's version of each
took 1.3 to 16 times the CPU of the same statement written by hand (``bench/statements.py``
measures each hand-built statement against the ORM version it replaces; figures in
bench/README.md).
Each place that does it says so, and ``tests/project/test_statements.py`` holds it to the
ORM version. Columns and values always come from the models, so a field added to a model
is read and written too.
"""

from __future__ import annotations

import functools

from django.db import connection
from django.db.models import Model


def for_update() -> str:
    """`` FOR UPDATE`` where the database locks rows (PostgreSQL); nothing on SQLite,
    which locks the whole database for a write transaction instead (as the ORM's
    ``select_for_update()`` does there)."""
    return " FOR UPDATE" if connection.features.has_select_for_update else ""


def placeholders(count: int) -> str:
    """``%s, %s, ...``: ``count`` parameters, for ``IN (...)`` or ``VALUES (...)``."""
    return ", ".join(["%s"] * count)


def select_list(model: type[Model], alias: str) -> str:
    """Every column of ``model`` (in the order of its fields), qualified by ``alias``: one
    part of the select list that ``instances_of_row`` reads back."""
    qn = connection.ops.quote_name
    return ", ".join(f"{alias}.{qn(f.column)}" for f in model._meta.concrete_fields)


def instances_of_row(row: tuple, models: list[type[Model]]) -> list[Model | None]:
    """The instances of ``models`` in a row selected with their ``select_list`` in turn,
    each value passed through its field's converters as the ORM does (a JSON column's
    text is decoded). A model whose primary key is null in the row (the empty side of a
    ``LEFT JOIN``) gives None.
    """
    instances, start = [], 0
    for model in models:
        names, pk_index, converters = _row_reading(model)
        values = row[start : start + len(names)]
        start += len(names)
        if values[pk_index] is None:
            instances.append(None)
            continue
        if converters:
            values = list(values)
            for index, expression, functions in converters:
                for convert in functions:
                    values[index] = convert(values[index], expression, connection)
        instances.append(model.from_db(connection.alias, names, values))
    return instances


@functools.cache
def _row_reading(model: type[Model]) -> tuple[list[str], int, list[tuple]]:
    """``model``'s attribute names in ``select_list`` order, the index of its primary
    key among them, and the converters the ORM would apply to the values read (``(index,
    column expression, functions)``, only for the fields that have any: on PostgreSQL,
    the JSON fields)."""
    fields = model._meta.concrete_fields
    converters = []
    for index, field in enumerate(fields):
        expression = field.get_col(model._meta.db_table)
        functions = [
            *connection.ops.get_db_converters(expression),
            *expression.get_db_converters(connection),
        ]
        if functions:
            converters.append((index, expression, functions))
    names = [f.attname for f in fields]
    return names, names.index(model._meta.pk.attname), converters


def insert_with_children(parent: Model, children: list[Model], *, link: str, key: str) -> None:
    """Save a new ``parent`` and its new ``children`` (whose foreign key ``link`` points to
    it), as ``parent.save()`` and ``bulk_create(children)`` would, in one statement on
    PostgreSQL: ``WITH p AS (INSERT parent RETURNING id) INSERT children ... FROM p``.

    ``key`` is a field whose value tells the children apart (the roster's users, a
    posting's accounts): the ids the statement returns are matched to the children by it.
    Every instance is then marked saved, as ``bulk_create`` marks its own. SQLite (the
    embedded default) has no data-modifying ``WITH``: there it is the ORM's two statements.
    """
    if not children:
        raise ValueError("insert_with_children() needs a child; save() a parent alone")
    child_model = type(children[0])
    if connection.vendor != "postgresql":
        parent.save()
        for child in children:
            setattr(child, link, parent)
        child_model._default_manager.bulk_create(children)
        return

    parent_fields = [f for f in parent._meta.concrete_fields if not f.primary_key]
    link_field = child_model._meta.get_field(link)
    key_field = child_model._meta.get_field(key)
    child_fields = [
        f for f in child_model._meta.concrete_fields if not f.primary_key and f != link_field
    ]
    parent_values = [_db_value(f, parent) for f in parent_fields]
    child_rows = [[_db_value(f, child) for f in child_fields] for child in children]
    qn = connection.ops.quote_name
    row = f"({placeholders(len(child_fields))})"
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH p AS (INSERT INTO {qn(parent._meta.db_table)} "
            f"({', '.join(qn(f.column) for f in parent_fields)}) "
            f"VALUES ({placeholders(len(parent_fields))}) RETURNING {qn(parent._meta.pk.column)}) "
            f"INSERT INTO {qn(child_model._meta.db_table)} "
            f"({qn(link_field.column)}, {', '.join(qn(f.column) for f in child_fields)}) "
            f"SELECT p.*, v.* FROM p, (VALUES {', '.join([row] * len(children))}) AS v "
            f"RETURNING {qn(link_field.column)}, {qn(key_field.column)}, "
            f"{qn(child_model._meta.pk.column)}",
            [*parent_values, *(value for row in child_rows for value in row)],
        )
        returned = cursor.fetchall()
    parent.pk = returned[0][0]
    _mark_saved(parent)
    child_ids = {key_value: pk for _, key_value, pk in returned}
    for child in children:
        setattr(child, link, parent)
        child.pk = child_ids[getattr(child, key_field.attname)]
        _mark_saved(child)


def _db_value(field, instance: Model):
    """The value ``Model.save`` would write for ``field`` of a new ``instance``."""
    return field.get_db_prep_save(field.pre_save(instance, True), connection)


def _mark_saved(instance: Model) -> None:
    instance._state.adding, instance._state.db = False, connection.alias


# Rows per UPDATE: PostgreSQL takes at most 65,535 parameters in a statement.
ROWS_UPDATE_BATCH = 1000


def rows_update(instances: list[Model], fields: list[str]) -> None:
    """Write ``fields`` of these saved instances (one model), as
    ``bulk_update(instances, fields)`` would, in one statement per 1,000 rows on
    PostgreSQL: ``UPDATE t SET f = v.f, ... FROM (VALUES (pk, f, ...), ...) AS v WHERE
    t.pk = v.pk``.

    Every result writes its matches this way: the ORM's ``bulk_update`` builds a ``CASE
    WHEN pk = ... THEN ...`` per field per row, and took 7-9x the CPU of this for one
    match, 12-16x for three (``bench/statements.py``).
    Values are the ones ``save()`` writes (``get_db_prep_save``): a None in a JSON field
    is SQL NULL, as ``save()`` stores it (``bulk_update`` stores JSON ``null`` there).
    SQLite (the embedded default) takes ``bulk_update`` itself.
    """
    if not instances:
        return
    model = type(instances[0])
    if connection.vendor != "postgresql":
        model._default_manager.bulk_update(instances, fields)
        return
    pk = model._meta.pk
    columns = [pk, *(model._meta.get_field(name) for name in fields)]
    qn = connection.ops.quote_name
    # The first row names each column's type; the others' values take it from there.
    typed_row = ", ".join(f"CAST(%s AS {f.cast_db_type(connection)})" for f in columns)
    row = f"({placeholders(len(columns))})"
    assignments = ", ".join(f"{qn(f.column)} = v.{qn(f.column)}" for f in columns[1:])
    with connection.cursor() as cursor:
        for start in range(0, len(instances), ROWS_UPDATE_BATCH):
            batch = instances[start : start + ROWS_UPDATE_BATCH]
            cursor.execute(
                f"UPDATE {qn(model._meta.db_table)} AS t SET {assignments} "
                f"FROM (VALUES ({typed_row}){f', {row}' * (len(batch) - 1)}) "
                f"AS v({', '.join(qn(f.column) for f in columns)}) "
                f"WHERE t.{qn(pk.column)} = v.{qn(pk.column)}",
                [
                    f.get_db_prep_save(getattr(instance, f.attname), connection)
                    for instance in batch
                    for f in columns
                ],
            )
