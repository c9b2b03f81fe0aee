"""The schema Alembic builds is exactly the one the models describe, on both databases."""

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from storage.db import Database
from storage.migrate import alembic_config, upgrade


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


async def downgrade(database: Database, revision: str) -> None:
    def _downgrade(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, revision)

    async with database.engine.begin() as connection:
        await connection.run_sync(_downgrade)


async def _columns(database: Database, table: str) -> set[str]:
    async with database.engine.connect() as connection:
        return await connection.run_sync(
            lambda c: {column["name"] for column in inspect(c).get_columns(table)}
        )


async def _diff_and_count(database: Database, table: str) -> tuple[list, int]:
    """How the schema differs from the models (nothing, as a rule), and `table`'s rows."""
    async with database.engine.connect() as connection:
        diff = await connection.run_sync(_diff)
        count = (await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar()
    return diff, count or 0


async def _insert_flat_workspace(database: Database) -> None:
    """Rows as revision 0004 knew them: a team, a cycle, an objective and its KR."""
    statements = [
        "INSERT INTO workspace (id, name, created_at) VALUES ('T0', 'Acme', '2026-10-01')",
        'INSERT INTO cycle (id, workspace_id, name, start, "end")'
        " VALUES (1, 'T0', '2026-Q4', '2026-10-01', '2026-12-31')",
        "INSERT INTO team (id, workspace_id, name, channel_id, remind_after_minutes,"
        " close_after_minutes) VALUES (1, 'T0', 'Support', 'C0SUP', 240, 1440)",
        "INSERT INTO objective (id, workspace_id, team_id, cycle_id, title, owner_id, position)"
        " VALUES (1, 'T0', 1, 1, 'Answer faster', 'U0M', 0)",
        "INSERT INTO keyresult (id, workspace_id, number, objective_id, title, owner_id, start,"
        " target, \"current\", unit, weight, aliases, position, updated_at) VALUES (1, 'T0', 7,"
        " 1, 'Reply time', 'U0A', 6, 4, 5, 'h', 1, '[]', 0, '2026-10-02')",
    ]
    await _execute(database, *statements)


async def _execute(database: Database, *statements: str) -> None:
    """Run these SQL statements in one transaction: rows as an older revision knew them."""
    async with database.engine.begin() as connection:
        for statement in statements:
            await connection.execute(text(statement))


async def test_alignment_upgrade_keeps_a_populated_database(empty_db_url: str) -> None:
    """Revisions 0005 and 0006 on data from 0004: teams become level `team` with no parent;
    objectives serve nothing, weigh 1 and roll up from their KRs; nothing else moves."""
    database = Database.connect(empty_db_url)
    try:
        await upgrade(database, "0004")
        await _insert_flat_workspace(database)
        await upgrade(database)
        async with database.engine.connect() as connection:
            team = (await connection.execute(text("SELECT * FROM team"))).mappings().one()
            objective = (await connection.execute(text("SELECT * FROM objective"))).mappings().one()
            kr = (await connection.execute(text("SELECT * FROM keyresult"))).mappings().one()
            cycle = (await connection.execute(text("SELECT * FROM cycle"))).mappings().one()
            diff = await connection.run_sync(_diff)
    finally:
        await database.dispose()
    assert (team["level"], team["parent_id"], team["name"], team["channel_id"]) == (
        "team",
        None,
        "Support",
        "C0SUP",
    )
    assert (objective["parent_id"], objective["weight"], objective["progress_from"]) == (
        None,
        1.0,
        "krs",
    )
    assert (objective["title"], objective["team_id"], objective["cycle_id"]) == (
        "Answer faster",
        1,
        1,
    )
    assert (kr["number"], kr["objective_id"], kr["current"]) == (7, 1, 5.0)
    assert (cycle["name"], cycle["scoring_days"]) == ("2026-Q4", 7)
    assert diff == []


async def test_alignment_downgrade_and_upgrade_again(empty_db_url: str) -> None:
    """PostgreSQL undoes 0006 and redoes it; SQLite refuses plainly and keeps everything."""
    database = Database.connect(empty_db_url)
    try:
        await upgrade(database)
        await _insert_flat_workspace(database)
        if database.engine.dialect.name == "sqlite":
            with pytest.raises(NotImplementedError, match="cannot be undone on SQLite"):
                await downgrade(database, "0005")
        else:
            await downgrade(database, "0005")
            columns = await _columns(database, "objective")
            assert "parent_id" not in columns and "weight" not in columns
            await upgrade(database)
        diff, count = await _diff_and_count(database, "objective")
    finally:
        await database.dispose()
    assert diff == [] and count == 1


async def test_webhooks_upgrade_and_downgrade_keep_everything_else(empty_db_url: str) -> None:
    """Revision 0007 adds the webhook tables to a populated database; undone, it drops only
    them; redone, the schema matches the models again."""
    database = Database.connect(empty_db_url)
    try:
        await upgrade(database, "0006")
        await _insert_flat_workspace(database)
        await upgrade(database, "0007")
        await _execute(
            database,
            (
                "INSERT INTO webhook (id, workspace_id, url, events, secret, created_at)"
                " VALUES (1, 'T0', 'https://example.com/h', '[\"kr.updated\"]', 's',"
                " '2026-11-30')"
            ),
        )
        await downgrade(database, "0006")
        async with database.engine.connect() as connection:
            tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
            count = (await connection.execute(text("SELECT count(*) FROM keyresult"))).scalar()
        assert {"webhook", "webhookdelivery"}.isdisjoint(tables) and count == 1
        await upgrade(database)
        async with database.engine.connect() as connection:
            diff = await connection.run_sync(_diff)
    finally:
        await database.dispose()
    assert diff == []


async def test_close_and_carry_upgrade_keeps_a_populated_database(empty_db_url: str) -> None:
    """Revision 0008 on data from before it: the cycle stays open, objectives and KRs unscored
    and unfrozen, no KR carries another, no scoring claim; every value already stored is kept."""
    database = Database.connect(empty_db_url)
    try:
        await upgrade(database, "0007")
        await _insert_flat_workspace(database)
        await upgrade(database)
        async with database.engine.connect() as connection:
            cycle = (await connection.execute(text("SELECT * FROM cycle"))).mappings().one()
            objective = (await connection.execute(text("SELECT * FROM objective"))).mappings().one()
            kr = (await connection.execute(text("SELECT * FROM keyresult"))).mappings().one()
            claims = (await connection.execute(text("SELECT count(*) FROM scoringprompt"))).scalar()
            diff = await connection.run_sync(_diff)
    finally:
        await database.dispose()
    assert claims == 0  # no scoring DM is owed by the upgrade itself
    assert (cycle["name"], cycle["closed_at"]) == ("2026-Q4", None)
    assert (objective["final_progress"], objective["final_status"], objective["score"]) == (
        None,
        None,
        None,
    )
    assert (objective["title"], objective["weight"]) == ("Answer faster", 1.0)
    assert not kr["score_suggested"]
    frozen = ("score", "score_note", "closed_at", "final_progress", "final_status")
    assert [kr[name] for name in frozen] == [None] * len(frozen)
    assert kr["carried_from_id"] is None
    assert (kr["number"], kr["start"], kr["target"], kr["current"]) == (7, 6.0, 4.0, 5.0)
    assert diff == []


async def test_pull_sources_upgrade_keeps_kpis_and_undoes_cleanly(empty_db_url: str) -> None:
    """Revision 0009 on data from 0008: KPIs keep everything and have no source; undone and
    redone on both databases, the schema still equals the models."""
    database = Database.connect(empty_db_url)
    try:
        await upgrade(database, "0008")
        await _insert_flat_workspace(database)
        await _execute(
            database,
            (
                "INSERT INTO kpi (id, workspace_id, team_id, name, unit, direction, target,"
                " period, aliases) VALUES (1, 'T0', 1, 'Tickets', '', 'lower_is_better',"
                " 1000, 'monthly', '[]')"
            ),
        )
        await upgrade(database)
        async with database.engine.connect() as connection:
            kpi = (await connection.execute(text("SELECT * FROM kpi"))).mappings().one()
            states = (await connection.execute(text("SELECT count(*) FROM sourcestate"))).scalar()
        assert (kpi["name"], kpi["target"], kpi["source"], states) == ("Tickets", 1000, None, 0)
        await downgrade(database, "0008")
        async with database.engine.connect() as connection:
            tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert "sourcestate" not in tables and "source" not in await _columns(database, "kpi")
        await upgrade(database)
        diff, count = await _diff_and_count(database, "kpi")
    finally:
        await database.dispose()
    assert diff == [] and count == 1


async def test_retrospective_upgrade_owes_nothing_for_cycles_closed_before_it(
    empty_db_url: str,
) -> None:
    """Revision 0010 on a populated database from 0009 with a cycle already closed: every row
    is kept and no retrospective digest is owed for it; undone and redone on both databases,
    the schema still equals the models."""
    database = Database.connect(empty_db_url)
    try:
        await upgrade(database, "0009")
        await _insert_flat_workspace(database)
        await _execute(
            database,
            "UPDATE cycle SET closed_at = '2027-01-02 10:00:00'",
            (
                "INSERT INTO membership (id, workspace_id, team_id, user_id, role)"
                " VALUES (1, 'T0', 1, 'U0M', 'manager')"
            ),
        )
        await upgrade(database)
        async with database.engine.connect() as connection:
            owed = (await connection.execute(text("SELECT count(*) FROM retrodelivery"))).scalar()
            cycle = (await connection.execute(text("SELECT * FROM cycle"))).mappings().one()
            kr = (await connection.execute(text("SELECT * FROM keyresult"))).mappings().one()
        assert owed == 0 and cycle["closed_at"] is not None
        assert (kr["number"], kr["current"], cycle["name"]) == (7, 5.0, "2026-Q4")
        await downgrade(database, "0009")
        async with database.engine.connect() as connection:
            tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert "retrodelivery" not in tables and "cycle" in tables
        await upgrade(database)
        diff, count = await _diff_and_count(database, "membership")
    finally:
        await database.dispose()
    assert diff == [] and count == 1


async def _keyresult_options(database: Database) -> list[str]:
    """`keyresult`'s storage parameters on PostgreSQL; SQLite has none to tell."""
    if database.engine.dialect.name != "postgresql":
        return []
    query = text("SELECT reloptions FROM pg_class WHERE relname = 'keyresult'")
    async with database.engine.connect() as connection:
        return list((await connection.execute(query)).scalar() or [])


async def test_key_results_keep_room_to_be_updated_in_place(empty_db_url: str) -> None:
    """Revision 0011 on a populated database: on PostgreSQL `keyresult` keeps half of each
    page free (reset by the downgrade), on SQLite nothing changes; no row moves either way."""
    database = Database.connect(empty_db_url)
    postgres = database.engine.dialect.name == "postgresql"
    try:
        await upgrade(database, "0010")
        await _insert_flat_workspace(database)
        assert await _keyresult_options(database) == []
        await upgrade(database)
        assert await _keyresult_options(database) == (["fillfactor=50"] if postgres else [])
        async with database.engine.connect() as connection:
            kr = (await connection.execute(text("SELECT * FROM keyresult"))).mappings().one()
            diff = await connection.run_sync(_diff)
        assert (kr["number"], kr["current"], kr["title"]) == (7, 5.0, "Reply time")
        assert diff == []
        await downgrade(database, "0010")
        assert await _keyresult_options(database) == []
        await upgrade(database)
        assert await _keyresult_options(database) == (["fillfactor=50"] if postgres else [])
    finally:
        await database.dispose()


async def test_prompts_from_before_listings_keep_everything_and_list_nothing(
    empty_db_url: str,
) -> None:
    """Revision 0012 on a round sent under 0011: the prompt keeps every value and has no
    listing (its replies are read against the items as numbered now); undone and redone on
    both databases, the schema still equals the models."""
    database = Database.connect(empty_db_url)
    try:
        await upgrade(database, "0011")
        await _insert_flat_workspace(database)
        await _execute(
            database,
            (
                "INSERT INTO checkinround (id, workspace_id, team_id, scheduled_for,"
                " opened_at, closes_at) VALUES (1, 'T0', 1, '2026-11-16 09:00:00',"
                " '2026-11-16 09:00:00', '2026-11-17 09:00:00')"
            ),
            (
                "INSERT INTO checkinprompt (id, workspace_id, round_id, user_id, state,"
                " channel_id, message_ts, claimed_at, reminder_attempts) VALUES (1, 'T0', 1,"
                " 'U0A', 'sent', 'D0A', '1795000000.000100', '2026-11-16 09:00:01', 0)"
            ),
        )
        await upgrade(database)
        async with database.engine.connect() as connection:
            found = await connection.execute(text("SELECT * FROM checkinprompt"))
            prompt = found.mappings().one()
        assert (prompt["state"], prompt["message_ts"], prompt["listing"]) == (
            "sent",
            "1795000000.000100",
            None,
        )
        await downgrade(database, "0011")
        columns = await _columns(database, "checkinprompt")
        assert "listing" not in columns and "message_ts" in columns
        await upgrade(database)
        diff, count = await _diff_and_count(database, "checkinprompt")
    finally:
        await database.dispose()
    assert diff == [] and count == 1
