"""Bursts: units of work queue for a slot instead of failing, writers take turns, transient
failures are tried again, and a slash command answers in its ack or says it is queued — on
both databases, through the real HTTP edge where a user would see it."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import exc, func, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import col, select

import storage.db
from bot.sandbox import TEAM_ID, Sandbox, sandbox
from bot.seed import load_seed
from bot.services import checkins
from bot.services.checkins import IncomingReply, ReplyResult
from bot.services.container import WRITING
from storage.db import (
    Database,
    DatabaseUnavailable,
    async_url,
    insert_later,
    is_sqlite,
    is_transient,
    update_later,
)
from storage.models import (
    KeyResult,
    KpiMeasurement,
    KrUpdate,
    ReplyMessage,
    SlackEvent,
    WebhookDelivery,
)
from tests.support.statements import statements
from tests.test_app_http import text_of

NOW = dt.datetime(2026, 11, 16, 3, 0, tzinfo=dt.UTC)


async def _make_counter(database: Database) -> None:
    async with database.session() as session:
        await session.exec(text("CREATE TABLE counter (n INTEGER NOT NULL)"))  # type: ignore[call-overload]
        await session.exec(text("INSERT INTO counter VALUES (0)"))  # type: ignore[call-overload]


async def _count(database: Database) -> int:
    async with database.read() as session:
        return int((await session.exec(text("SELECT n FROM counter"))).one()[0])  # type: ignore[call-overload]


async def test_writers_of_two_processes_take_turns_without_errors(db_url: str) -> None:
    # Two Database objects on one file or server behave as two replicas would. Each unit reads
    # before it writes: on SQLite a deferred transaction doing that fails at once ("database is
    # locked") when the other writer got in first; a write unit that begins IMMEDIATE waits.
    first, second = Database.connect(db_url), Database.connect(db_url)
    try:
        await _make_counter(first)

        async def bump(database: Database) -> None:
            async with database.session() as session:
                await session.exec(text("SELECT n FROM counter"))  # type: ignore[call-overload]
                await asyncio.sleep(0)  # let the other process's writer start meanwhile
                await session.exec(text("UPDATE counter SET n = n + 1"))  # type: ignore[call-overload]

        await asyncio.gather(*(bump(db) for _ in range(40) for db in (first, second)))
        assert await _count(first) == 80
    finally:
        await first.dispose()
        await second.dispose()


async def test_a_sqlite_writer_waits_for_the_lock_while_the_app_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite statements run on the event loop's thread: a writer that waited inside SQLite for
    # another process's lock would freeze every request meanwhile. It must wait asleep, let
    # the loop run, write once the lock is free, and give up (transiently) past its limit.
    path = f"{tmp_path}/shared.db"
    database = Database.connect(f"sqlite:///{path}")
    other_process = sqlite3.connect(path, isolation_level=None)
    try:
        await _make_counter(database)
        other_process.execute("BEGIN IMMEDIATE")
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        async def bump() -> None:
            async with database.session() as session:
                await session.exec(text("UPDATE counter SET n = n + 1"))  # type: ignore[call-overload]

        ticker = asyncio.create_task(tick())
        waiting = asyncio.create_task(bump())
        await asyncio.sleep(0.4)
        assert not waiting.done()
        assert ticks >= 5  # the loop went on meanwhile: a blocked loop would show none
        other_process.execute("UPDATE counter SET n = n + 10")
        other_process.execute("COMMIT")
        await asyncio.wait_for(waiting, 10)
        assert await _count(database) == 11

        monkeypatch.setattr("storage.db.SQLITE_LOCK_WAIT", 0.2)
        other_process.execute("BEGIN IMMEDIATE")
        with pytest.raises(exc.OperationalError, match="locked") as raised:
            await bump()
        assert is_transient(raised.value)  # so `transact()` tries the whole unit again
        other_process.execute("ROLLBACK")
        ticker.cancel()
    finally:
        other_process.close()
        await database.dispose()


async def test_sqlite_commits_leave_the_checkpoint_to_a_thread_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite only: PostgreSQL has no log for the app to tend. A commit past 1,000 pages would
    # copy SQLite's write-ahead log into the file itself, on the event loop's thread; here the
    # commit leaves its pages in the log, and shortly after, a thread moves them to the file.
    monkeypatch.setattr("storage.sqlite_inline.CHECKPOINT_DELAY", 0.2)
    path = tmp_path / "okrbot.db"
    log = tmp_path / "okrbot.db-wal"
    database = Database.connect("sqlite:///okrbot.db")  # relative, as by default (cwd: tmp_path)
    try:
        async with database.session() as session:
            await session.exec(text("CREATE TABLE filler (x TEXT NOT NULL)"))  # type: ignore[call-overload]
        await asyncio.sleep(0.5)
        before = path.stat().st_size
        async with database.session() as session:
            rows = [{"x": f"{n:08}" + "x" * 2000} for n in range(3000)]  # about 1,500 pages
            await session.exec(text("INSERT INTO filler (x) VALUES (:x)"), params=rows)  # type: ignore[call-overload]
        assert path.stat().st_size == before  # the commit did not checkpoint
        assert log.stat().st_size > 6_000_000
        for _ in range(50):
            if path.stat().st_size > before + 6_000_000:
                break
            await asyncio.sleep(0.1)
        assert path.stat().st_size > before + 6_000_000  # the pages reached the file
        async with database.read() as session:
            count = (await session.exec(text("SELECT count(*) FROM filler"))).one()[0]  # type: ignore[call-overload]
        assert count == 3000
    finally:
        await database.dispose()


async def test_a_burst_larger_than_the_pool_waits_for_slots_instead_of_failing(
    db_url: str,
) -> None:
    # A pool of two connections that gives up after 0.3 s: without slots, thirty units holding
    # a connection for 50 ms each would mostly fail with the pool's time-out.
    options = {"pool_size": 2, "max_overflow": 0, "pool_timeout": 0.3}
    engine = create_async_engine(async_url(db_url), **options)
    database = Database(url=db_url, engine=engine, read_slots=1, write_slots=1)
    try:
        if is_sqlite(db_url):
            async with engine.begin() as connection:
                await connection.exec_driver_sql("PRAGMA journal_mode=WAL")
        await _make_counter(database)

        async def write() -> None:
            async with database.session() as session:
                await session.exec(text("UPDATE counter SET n = n + 1"))  # type: ignore[call-overload]
                await asyncio.sleep(0.05)

        async def read() -> int:
            async with database.read() as session:
                await asyncio.sleep(0.05)
                return int((await session.exec(text("SELECT n FROM counter"))).one()[0])  # type: ignore[call-overload]

        results = await asyncio.gather(*(write() for _ in range(15)), *(read() for _ in range(15)))
        assert len(results) == 30
        assert await _count(database) == 15
    finally:
        await engine.dispose()


def _locked() -> exc.OperationalError:
    return exc.OperationalError("UPDATE x", {}, sqlite3.OperationalError("database is locked"))


async def test_one_unit_at_a_time_reuses_the_connection_returned_last(database: Database) -> None:
    # After a burst opened several connections, quiet traffic keeps to the one returned last:
    # its statements are prepared (on PostgreSQL, once a connection) and it needs no ping.
    async def connection_used(hold: float) -> int:
        async with database.read() as session:
            raw = await (await session.connection()).get_raw_connection()
            await asyncio.sleep(hold)
            return id(raw.driver_connection)

    burst = await asyncio.gather(*(connection_used(0.05) for _ in range(3)))
    assert len(set(burst)) == 3
    one_at_a_time = [await connection_used(0) for _ in range(4)]
    assert len(set(one_at_a_time)) == 1 and one_at_a_time[0] in burst


async def test_transact_runs_a_unit_again_after_a_transient_failure(database: Database) -> None:
    attempts: list[int] = []

    async def work(session: object) -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise _locked()
        return "done"

    assert await database.transact(work) == "done"
    assert len(attempts) == 3


async def test_transact_does_not_retry_what_another_attempt_would_repeat(
    database: Database,
) -> None:
    attempts: list[int] = []

    async def work(session: object) -> None:
        attempts.append(1)
        raise ValueError("a bug, not a busy database")

    with pytest.raises(ValueError, match="a bug"):
        await database.transact(work)
    assert attempts == [1]


async def test_transact_gives_up_with_a_clear_error(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("storage.db.RETRY_FIRST_DELAY", 0.001)

    async def work(session: object) -> None:
        raise _locked()

    with pytest.raises(DatabaseUnavailable):
        await database.transact(work)


def test_transient_failures_are_told_apart() -> None:
    assert is_transient(_locked())
    assert is_transient(exc.TimeoutError("QueuePool limit of size 20 overflow 10 reached"))
    assert is_transient(ConnectionRefusedError())
    unique = exc.IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE constraint failed"))
    assert not is_transient(unique)
    assert not is_transient(ValueError())


# -- through the HTTP edge -------------------------------------------------------------------


@pytest.fixture
async def box(db_url: str) -> AsyncIterator[Sandbox]:
    async with sandbox(db_url, clock=lambda: NOW, migrate=False) as box:
        await load_seed(box)
        yield box


async def test_a_burst_of_updates_is_answered_and_kept(box: Sandbox) -> None:
    values = [70.0 + i / 10 for i in range(60)]
    calls = await asyncio.gather(
        *(box.command("/okr", f"update KR-1 {v:g}", user_id="U0ALICE") for v in values)
    )
    texts = [text_of(call) for call in calls]
    assert not [t for t in texts if "went wrong" in t or "can't reach" in t]
    assert all("→" in t for t in texts)
    async with box.database.read() as session:
        rows = (await session.exec(select(func.count()).select_from(KrUpdate))).one()
        kr = (await session.exec(select(KeyResult).where(KeyResult.number == 1))).one()
    assert rows == 60
    assert kr.current in values


async def test_a_burst_of_updates_with_refusals_keeps_the_others(box: Sandbox) -> None:
    """Updates in one write unit: a refused one (not the caller's KR, no value in the words)
    is answered with its reason and loses nothing of the others."""
    asks = [("U0ALICE", f"update KR-1 {70 + n}") for n in range(8)]
    asks += [("U0BOB", "update KR-1 99"), ("U0ALICE", "update KR-1 soon")]
    with statements(box.database) as seen:
        calls = await asyncio.gather(
            *(box.command("/okr", text, user_id=user) for user, text in asks)
        )
    texts = [text_of(call) for call in calls]
    assert all("→" in text for text in texts[:8])
    assert "Hanya pemilik KR-1" in texts[8]  # Bob reads Indonesian
    assert "→" not in texts[9] and "went wrong" not in texts[9]
    async with box.database.read() as session:
        query = select(KrUpdate.new_value).join(KeyResult).where(KeyResult.number == 1)
        stored = sorted((await session.exec(query)).all())
    assert stored == [70.0 + n for n in range(8)]
    inserts = [sql for sql in seen if sql.startswith("INSERT INTO krupdate")]
    assert 1 <= len(inserts) < 8  # several updates a write unit


async def test_many_rows_written_at_commit_are_stored_as_given(
    box: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """History rows and KR changes held for the commit (`insert_later`, `update_later`): on
    PostgreSQL, from `ARRAYS_FROM` rows on, each table's go as arrays in one statement the
    server runs once. What is stored is the same either way: values, NULLs, times."""
    monkeypatch.setattr("storage.db.ARRAYS_FROM", 4)  # the seed's KRs are enough
    when = dt.datetime(2026, 11, 20, 9, 30, 15, tzinfo=dt.UTC)
    with statements(box.database) as seen:
        async with box.database.session() as session:
            krs = (await session.exec(select(KeyResult).order_by(col(KeyResult.id)))).all()
            count = len(krs)
            assert count >= 5
            for n, kr in enumerate(krs[:count]):
                insert_later(
                    session,
                    KrUpdate,
                    workspace_id=kr.workspace_id,
                    kr_id=kr.id or 0,
                    old_value=kr.current,
                    new_value=n + 0.5,
                    confidence=None if n % 2 else n % 10,
                    note=None if n % 3 else f"note {n}",
                    source="api",
                    created_at=when,
                )
                update_later(
                    session,
                    kr,
                    current=n + 0.5,
                    status=None if n % 2 else "at_risk",
                    updated_at=when,
                )
    ids = [kr.id for kr in krs[:count]]
    async with box.database.read() as session:
        query = select(KrUpdate).where(KrUpdate.created_at == when).order_by(col(KrUpdate.kr_id))
        history = (await session.exec(query)).all()
        query = select(KeyResult).where(col(KeyResult.id).in_(ids)).order_by(col(KeyResult.id))
        stored = (await session.exec(query)).all()
    assert [(h.kr_id, h.new_value, h.confidence, h.note, h.reverted) for h in history] == [
        (ids[n], n + 0.5, None if n % 2 else n % 10, None if n % 3 else f"note {n}", False)
        for n in range(count)
    ]
    assert [(kr.current, kr.status, kr.updated_at) for kr in stored] == [
        (n + 0.5, None if n % 2 else "at_risk", when) for n in range(count)
    ]
    inserts = [sql for sql in seen if sql.startswith("INSERT INTO krupdate")]
    updates = [sql for sql in seen if sql.startswith("UPDATE keyresult")]
    assert len(inserts) == len(updates) == 1
    if not is_sqlite(box.database.url):
        assert "unnest" in inserts[0] and "unnest" in updates[0]


async def test_a_late_answer_is_announced_as_queued_then_follows(box: Sandbox) -> None:
    box.standin.slow("users.info", 2.5)  # a newcomer: their language is asked of Slack first
    response_url = box.standin.response_url()
    answer = await box.sender.slash_command(
        "/okr", "status marketing", user_id="U0NEWCOMER", response_url=response_url
    )
    assert answer.status == 200
    assert "your request is queued" in answer.body  # Bolt sends a bare text ack as plain text
    (call,) = await box.standin.wait_for("response_url", timeout=10)
    assert "Marketing" in text_of(call)


async def test_a_reply_takes_its_turn_with_the_commands_that_write(box: Sandbox) -> None:
    """While every writing turn is taken, a check-in reply waits (acknowledged, not lost);
    once a turn frees, it is recorded and confirmed."""
    turns = box.services.writing
    for _ in range(WRITING):
        await turns.__aenter__()
    try:
        answer = await box.sender.message_im("U0ALICE", "1: 76")
        assert answer.status == 200
        ts = answer.payload["event"]["ts"]
        await asyncio.sleep(0.3)
        assert box.standin.calls_to("chat.postMessage") == []
        assert turns.waiting == 1
    finally:
        for _ in range(WRITING):
            await turns.__aexit__(None, None, None)
    (call,) = await box.standin.wait_for(
        "chat.postMessage", where=lambda call: call.params.get("thread_ts") == ts
    )
    assert "76" in json.dumps(call.params)


# Members of the seed with a KR as their item 1.
MEMBERS = ("U0ALICE", "U0BOB", "U0DEWI", "U0EVAN", "U0GITA")


@pytest.mark.parametrize("readers", [0, 1], ids=["read-here", "read-in-a-worker"])
async def test_a_burst_of_replies_is_recorded_a_batch_at_a_time_each_confirmed(
    box: Sandbox, readers: int
) -> None:
    """Ten replies at once (two from each member): each recorded with its own update and
    confirmed in its own thread, in fewer write units than replies; read in the app's
    process, or in a worker process as `okrbot run` reads them."""
    box.services.readers.start(readers)
    writers = MEMBERS * 2
    with statements(box.database) as seen:
        answers = await asyncio.gather(
            *(box.sender.message_im(user, f"1: {70 + n}") for n, user in enumerate(writers))
        )
        sent = {answer.payload["event"]["ts"]: n for n, answer in enumerate(answers)}
        calls = await box.standin.wait_for(
            "chat.postMessage",
            count=len(writers),
            where=lambda call: call.params.get("thread_ts") in sent,
        )
    assert sorted(call.params["thread_ts"] for call in calls) == sorted(sent)
    for call in calls:  # each confirmation tells its own reply's value
        assert f"{70 + sent[call.params['thread_ts']]}" in json.dumps(call.params)
    async with box.database.read() as session:
        query = (
            select(ReplyMessage.ts, KrUpdate.new_value)
            .join(KrUpdate, col(KrUpdate.reply_id) == ReplyMessage.id)
            .where(col(ReplyMessage.ts).in_(list(sent)))
        )
        recorded = dict((await session.exec(query)).all())
    assert recorded == {ts: 70.0 + n for ts, n in sent.items()}
    inserts = [sql for sql in seen if sql.startswith("INSERT INTO replymessage")]
    assert 1 <= len(inserts) < len(writers)


async def test_a_dm_read_ahead_while_its_writers_last_was_recorded_is_read_again(
    box: Sandbox,
) -> None:
    """The next batch of DMs is read while one is recorded. A correction read that way,
    before its writer's first message was recorded, is read again against what that
    recorded: `1.240` after `1,240` means 1,240, not 1.24 (its value before them was 1)."""
    services = box.services

    def dm(ts: str, text: str) -> IncomingReply:
        return IncomingReply(TEAM_ID, "U0ALICE", "D0ALICE", ts, text, event_id=f"Ev{ts}")

    await services.inbox.submit((dm("1763262000.000001", "1: 1"), (None, 0)))
    first, correction = dm("1763262000.000002", "1: 1240"), dm("1763262000.000003", "1: 1.240")
    first_read = await services.reading.submit(first)
    correction_read = await services.reading.submit(correction)  # before `first` is recorded
    assert correction_read[0] is not None
    assert correction_read[0].reading is not None
    assert correction_read[0].reading.updates[0].value == 1.24  # as things stood: near 1
    await services.inbox.submit((first, first_read))
    taken = await services.inbox.submit((correction, correction_read))
    assert isinstance(taken, ReplyResult)
    assert [(change.old, change.new) for change in taken.changes] == [(1240, 1240)]
    async with box.database.read() as session:
        kr = (await session.exec(select(KeyResult).where(KeyResult.number == 1))).one()
    assert kr.current == 1240


async def test_a_rehearsed_reply_changes_nothing_and_a_real_one_follows(box: Sandbox) -> None:
    """`okrbot run` records a member's reply in a rolled-back unit before it serves, so that a
    round's first burst finds its statements compiled: nothing of it is kept, not even the
    statements' effects on KRs, and a real reply after it is recorded and confirmed."""
    tables = (ReplyMessage, KrUpdate, KpiMeasurement, SlackEvent, WebhookDelivery)

    async def state() -> tuple[list[int], list[tuple[int | None, float | None, str | None]]]:
        async with box.database.read() as session:
            counts = [
                (await session.exec(select(func.count()).select_from(table))).one()
                for table in tables
            ]
            krs = (await session.exec(select(KeyResult).order_by(col(KeyResult.id)))).all()
        return counts, [(kr.id, kr.current, kr.status) for kr in krs]

    before = await state()
    with statements(box.database) as seen:
        assert await checkins.rehearse(database=box.database, now=NOW)
    assert any(sql.startswith("INSERT INTO replymessage") for sql in seen)
    assert any(sql.startswith("INSERT INTO krupdate") for sql in seen)
    assert await state() == before
    answer = await box.sender.message_im("U0ALICE", "1: 81")
    ts = answer.payload["event"]["ts"]
    (call,) = await box.standin.wait_for(
        "chat.postMessage", where=lambda call: call.params.get("thread_ts") == ts
    )
    assert "81" in json.dumps(call.params)


async def test_a_retry_in_the_same_batch_as_its_original_is_recorded_once(box: Sandbox) -> None:
    first, retry = await asyncio.gather(
        box.sender.message_im("U0ALICE", "1: 77", ts="1763262000.000100", event_id="EvTWICE"),
        box.sender.message_im(
            "U0ALICE", "1: 77", ts="1763262000.000100", event_id="EvTWICE", retry_num=1
        ),
    )
    assert first.status == retry.status == 200
    await box.standin.wait_for(
        "chat.postMessage", where=lambda call: call.params.get("thread_ts") == "1763262000.000100"
    )
    await asyncio.sleep(0.3)  # time for a second confirmation, were there one
    thread = [
        call
        for call in box.standin.calls_to("chat.postMessage")
        if call.params.get("thread_ts") == "1763262000.000100"
    ]
    assert len(thread) == 1
    async with box.database.read() as session:
        query = (
            select(func.count())
            .select_from(ReplyMessage)
            .where(ReplyMessage.ts == "1763262000.000100")
        )
        assert (await session.exec(query)).one() == 1


@pytest.mark.parametrize("pinged", ["when idle", "always"])
async def test_connections_the_server_dropped_are_replaced_not_failed(
    box: Sandbox,
    db_url: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    pinged: str,
) -> None:
    # A PostgreSQL restart or fail-over drops every pooled connection: the next read and the
    # next write each check one out, find it closed, and get a new one instead of failing;
    # whether the driver saw the server's goodbye (a connection used moments ago), or a ping
    # finds it gone (one idle in the pool for a while).
    if is_sqlite(db_url):
        pytest.skip("a file has no server to drop connections")
    if pinged == "always":
        monkeypatch.setattr(storage.db, "PING_AFTER_IDLE", 0.0)
    server = request.getfixturevalue("postgres_server")
    name = make_url(db_url).database

    def drop_connections() -> None:
        server.psql(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        )

    assert "Customer Success" in text_of(
        await box.command("/okr", "status", user_id="U0ALICE", channel_id="C0CS")
    )
    drop_connections()
    updated = text_of(await box.command("/okr", "update KR-1 76", user_id="U0ALICE"))
    assert "→" in updated and "can't reach" not in updated
    drop_connections()
    status = text_of(await box.command("/okr", "status", user_id="U0ALICE", channel_id="C0CS"))
    assert "Customer Success" in status and "can't reach" not in status
