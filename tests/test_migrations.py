"""The schema Alembic builds is exactly the one the models describe, on both databases."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from storage.db import Database
from storage.migrate import upgrade


def _diff(connection: Connection) -> list:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, SQLModel.metadata)


async def test_migrated_schema_equals_models(empty_db_url: str) -> None:
    database = Database.connect(empty_db_url)
    try:
        await upgrade(database)
        async with database.engine.connect() as connection:
            diff = await connection.run_sync(_diff)
            tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
    finally:
        await database.dispose()
    assert diff == []
    assert set(SQLModel.metadata.tables) <= tables


async def test_upgrade_twice_is_a_no_op(empty_db_url: str) -> None:
    database = Database.connect(empty_db_url)
    try:
        await upgrade(database)
        await upgrade(database)
        async with database.engine.connect() as connection:
            diff = await connection.run_sync(_diff)
    finally:
        await database.dispose()
    assert diff == []
