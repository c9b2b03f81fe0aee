"""What SQL a database's pool runs while a block runs: for tests that hold a path to the
statements it needs (or to none)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from storage.db import Database


@contextmanager
def statements(database: Database) -> Iterator[list[str]]:
    """The SQL statements `database`'s pool runs meanwhile, in order."""
    seen: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        seen.append(statement)

    event.listen(database.engine.sync_engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", note)
