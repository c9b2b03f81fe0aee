"""`bot.services.readers`: check-in replies read in a worker process read exactly as they do
in the app's process, and a worker that dies loses nothing (no database: nothing to run on
both backends)."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from bot.replies import item_from_dict
from bot.services.readers import Job, Readers, read_all

CASES = Path(__file__).parent / "data" / "reply_cases.jsonl"


def _jobs() -> list[Job]:
    jobs = []
    for line in CASES.read_text(encoding="utf-8").splitlines()[:60]:
        case = json.loads(line)
        items = tuple(item_from_dict(item) for item in case["items"])
        jobs.append((case["text"], items, case.get("locale", "en")))
    return jobs


@pytest.fixture
async def readers() -> AsyncIterator[Readers]:
    started = Readers()
    started.start(1)
    yield started
    await started.close()


def _workers() -> list[multiprocessing.Process]:
    return [child for child in multiprocessing.active_children() if child.pid != os.getpid()]


async def test_replies_read_in_a_worker_process_read_as_they_do_here(readers: Readers) -> None:
    jobs = _jobs()
    assert readers.processes == 1
    assert await readers.read(jobs) == read_all(jobs)
    assert _workers()  # they were read in another process


async def test_a_reader_that_dies_is_replaced_and_its_replies_are_read_here(
    readers: Readers,
) -> None:
    jobs = _jobs()
    await readers.read(jobs[:1])  # the worker is up
    (worker,) = _workers()
    os.kill(worker.pid or 0, signal.SIGKILL)
    worker.join(10)
    assert await readers.read(jobs) == read_all(jobs)  # read here meanwhile
    assert await readers.read(jobs) == read_all(jobs)  # and by the new worker
    assert [child.pid for child in _workers()] != [worker.pid]


async def test_readers_never_started_read_in_the_apps_process() -> None:
    here = Readers()
    jobs = _jobs()
    assert here.processes == 0
    assert await here.read(jobs) == read_all(jobs)
    assert await here.read([]) == []


APP = """
import asyncio, multiprocessing, time
from bot.services.readers import Readers

async def main() -> None:
    readers = Readers()
    readers.start(1)
    await readers.read([("1: 5", (), "en")])
    print(*(child.pid for child in multiprocessing.active_children()), flush=True)
    time.sleep(60)

if __name__ == "__main__":
    asyncio.run(main())
"""


def test_a_reader_ends_with_an_app_killed_without_a_word(tmp_path: Path) -> None:
    # kill -9 gives the pool no chance to stop its workers: each watches the app itself.
    script = tmp_path / "app.py"
    script.write_text(APP, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    with subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env
    ) as app:
        try:
            assert app.stdout is not None
            (worker,) = (int(pid) for pid in app.stdout.readline().split())
        finally:
            app.kill()
    deadline = time.monotonic() + 10
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(worker)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_readers_whose_workers_cannot_start_read_here(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def exiting(processes: int) -> ProcessPoolExecutor:  # every worker ends as it starts
        spawn = multiprocessing.get_context("spawn")
        return ProcessPoolExecutor(processes, mp_context=spawn, initializer=sys.exit)

    monkeypatch.setattr("bot.services.readers._pool", exiting)
    readers = Readers()
    readers.start(1)
    try:
        jobs = _jobs()
        assert await readers.read(jobs) == read_all(jobs)
        assert readers.processes == 0  # given up: no new worker for every batch
        assert "cannot start" in caplog.text
        assert await readers.read(jobs) == read_all(jobs)
    finally:
        await readers.close()
