"""Batch writes for one source table, in the database's own value forms.

A delivery can carry millions of rows, so per-row ORM or Core parameter handling would dominate
its cost. Rows are converted once with the column types' own bind processors (the same conversions
SQLAlchemy applies) and the stored rows are read back raw, so comparing "is this row unchanged?"
happens on identical forms, and inserts/updates go to the driver's executemany directly.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa


class TableWriter:
    def __init__(self, connection: sa.Connection, table: sa.Table, key: tuple[str, ...], values: tuple[str, ...]):
        self.connection = connection
        self.table = table
        self.key, self.values = key, values
        dialect = connection.dialect
        columns = (*key, *values, "delivery_id")
        self._processors = [table.c[name].type._cached_bind_processor(dialect) for name in columns]
        self._insert = self._compile(table.insert().values({n: sa.bindparam(n) for n in columns}), columns)
        self._update = self._compile(
            table.update()
            .where(*(table.c[n] == sa.bindparam(f"key_{n}") for n in key))
            .values({n: sa.bindparam(n) for n in (*values, "delivery_id")}),
            (*values, "delivery_id", *(f"key_{n}" for n in key)),
        )

    def _compile(self, statement, names: tuple[str, ...]):
        compiled = statement.compile(dialect=self.connection.dialect)
        if compiled.positional:
            order = [names.index(name) for name in compiled.positiontup]
            return compiled.string, lambda row: tuple(row[i] for i in order)
        return compiled.string, lambda row: dict(zip(names, row, strict=True))

    def stored_form(self, row: dict, delivery_id: int) -> tuple:
        """(key..., values..., delivery_id) as the driver stores them."""
        names = (*self.key, *self.values)
        raw = [row[n] for n in names] + [delivery_id]
        return tuple(p(v) if p else v for p, v in zip(self._processors, raw, strict=True))

    def existing(self, keys_in_stored_form: list[tuple], key_values: list[tuple]) -> dict[tuple, tuple]:
        """Stored (values...) by key, in the driver's forms, for the rows these keys name.

        Filtering on each key column's distinct values (a range for many months) keeps the statement to
        a few hundred parameters; the result may hold a few rows more than asked for, which the caller's
        lookup ignores.
        """
        table = self.table
        conditions = []
        for position, name in enumerate(self.key):
            column = table.c[name]
            distinct = {key[position] for key in key_values}
            if len(distinct) > 64 and isinstance(next(iter(distinct)), date):
                conditions.append(column.between(min(distinct), max(distinct)))
            else:
                conditions.append(column.in_(distinct))
        statement = sa.select(*(table.c[n] for n in (*self.key, *self.values))).where(*conditions)
        width = len(self.key)
        cursor = self.connection.execute(statement).cursor  # raw rows: no per-value result processing
        return {tuple(found[:width]): tuple(found[width:]) for found in cursor.fetchall()}

    def insert(self, stored_rows: list[tuple]) -> None:
        if stored_rows:
            sql, shape = self._insert
            self.connection.exec_driver_sql(sql, [shape(row) for row in stored_rows])

    def update(self, stored_rows: list[tuple]) -> None:
        """Rows as (values..., delivery_id, key...)."""
        if stored_rows:
            sql, shape = self._update
            self.connection.exec_driver_sql(sql, [shape(row) for row in stored_rows])
