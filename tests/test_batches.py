"""`storage.db.Batches`: work handed in a piece at a time and done a batch at a time (group
commit), each piece answered alone; a bad piece fails alone; work that can wait gives way;
work that comes in bursts waits a moment for company."""

from __future__ import annotations

import asyncio

import pytest

from storage.db import QUIET, Batches, DatabaseUnavailable


class Doubler:
    """A batch runner that records the batches it was given."""

    def __init__(self, hold: asyncio.Event | None = None) -> None:
        self.batches: list[list[int]] = []
        self.hold = hold

    async def __call__(self, pieces: list[int]) -> list[int]:
        self.batches.append(list(pieces))
        if self.hold is not None:
            await self.hold.wait()
        if 13 in pieces:
            raise ValueError("13 is refused")
        return [piece * 2 for piece in pieces]


async def test_pieces_that_arrive_while_a_batch_runs_go_together_in_the_next() -> None:
    hold = asyncio.Event()
    run = Doubler(hold)
    batches = Batches(run, limit=10)
    first = asyncio.create_task(batches.submit(1))
    await asyncio.sleep(0)  # the first batch starts with the only piece there is
    rest = [asyncio.create_task(batches.submit(n)) for n in range(2, 7)]
    await asyncio.sleep(0)
    hold.set()
    assert await first == 2
    assert [await task for task in rest] == [4, 6, 8, 10, 12]
    assert run.batches == [[1], [2, 3, 4, 5, 6]]


async def test_a_batch_holds_at_most_its_limit_in_arrival_order() -> None:
    hold = asyncio.Event()
    run = Doubler(hold)
    batches = Batches(run, limit=2)
    tasks = [asyncio.create_task(batches.submit(n)) for n in range(1, 6)]
    await asyncio.sleep(0)
    hold.set()
    assert await asyncio.gather(*tasks) == [2, 4, 6, 8, 10]
    assert run.batches == [[1, 2], [3, 4], [5]]


async def test_a_bad_piece_fails_alone_and_the_others_are_answered() -> None:
    run = Doubler()
    batches = Batches(run, limit=10)
    tasks = [asyncio.create_task(batches.submit(n)) for n in (5, 13, 7)]
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert results[0] == 10 and results[2] == 14
    assert isinstance(results[1], ValueError)
    # The batch failed as a whole, then each piece ran alone.
    assert run.batches == [[5, 13, 7], [5], [13], [7]]


async def test_an_awaiter_that_gives_up_does_not_stop_the_others() -> None:
    hold = asyncio.Event()
    batches = Batches(Doubler(hold), limit=10)
    leaving = asyncio.create_task(batches.submit(1))
    staying = asyncio.create_task(batches.submit(2))
    await asyncio.sleep(0)
    leaving.cancel()
    hold.set()
    assert await staying == 4
    with pytest.raises(asyncio.CancelledError):
        await leaving
    assert batches.idle.is_set()


async def test_work_that_can_wait_starts_once_the_work_ahead_has_been_quiet() -> None:
    hold = asyncio.Event()
    ahead = Batches(Doubler(hold), limit=10)
    behind_run = Doubler()
    behind = Batches(behind_run, limit=10, behind=ahead, patience=5.0)
    busy = asyncio.create_task(ahead.submit(1))
    await asyncio.sleep(0)
    later = asyncio.create_task(behind.submit(3))
    await asyncio.sleep(0.05)
    assert behind_run.batches == []  # the work ahead is still running
    hold.set()
    await busy
    began = asyncio.get_running_loop().time()
    assert await later == 6
    # It waited for the quiet moment after the work ahead ended, not more.
    assert QUIET * 0.9 <= asyncio.get_running_loop().time() - began < QUIET + 1.0


async def test_work_that_can_wait_goes_after_its_patience_even_in_a_long_burst() -> None:
    hold = asyncio.Event()
    ahead = Batches(Doubler(hold), limit=10)
    behind = Batches(Doubler(), limit=10, behind=ahead, patience=0.2)
    busy = asyncio.create_task(ahead.submit(1))
    await asyncio.sleep(0)
    assert await asyncio.wait_for(behind.submit(3), timeout=2) == 6
    assert not busy.done()  # it did not wait for the burst to end
    hold.set()
    await busy


async def test_a_burst_that_finds_nothing_running_waits_for_its_rest() -> None:
    """The first pieces of a burst go with the ones right behind them, not in a batch alone."""
    run = Doubler()
    batches = Batches(run, limit=10, gather=0.5, gather_most=5.0)
    first = asyncio.create_task(batches.submit(1))
    await asyncio.sleep(0.01)  # well within `gather`: the same burst
    rest = [asyncio.create_task(batches.submit(n)) for n in (2, 3, 4)]
    assert await asyncio.gather(first, *rest) == [2, 4, 6, 8]
    assert run.batches == [[1, 2, 3, 4]]


async def test_a_lone_piece_waits_for_the_quiet_moment_only() -> None:
    run = Doubler()
    batches = Batches(run, limit=10, gather=0.05, gather_most=30.0)
    assert await asyncio.wait_for(batches.submit(1), timeout=5) == 2
    assert run.batches == [[1]]


async def test_a_full_batch_does_not_wait_for_company() -> None:
    run = Doubler()
    batches = Batches(run, limit=3, gather=30.0, gather_most=30.0)
    tasks = [batches.submit(n) for n in (1, 2, 3)]
    assert await asyncio.wait_for(asyncio.gather(*tasks), timeout=5) == [2, 4, 6]
    assert run.batches == [[1, 2, 3]]


async def test_a_steady_trickle_is_not_held_past_gather_most() -> None:
    run = Doubler()
    batches = Batches(run, limit=100, gather=30.0, gather_most=0.1)
    tasks = []
    pieces = list(range(100, 140))
    for n in pieces:  # one piece every 20 ms: never quiet for `gather`
        tasks.append(asyncio.create_task(batches.submit(n)))
        await asyncio.sleep(0.02)
    await asyncio.gather(*tasks)
    assert len(run.batches[0]) < len(pieces)  # the first batch ran while pieces still came
    assert [piece for batch in run.batches for piece in batch] == pieces


async def test_a_database_that_fails_the_batch_is_told_to_every_piece_at_once() -> None:
    """No piece would fare better alone when the database itself is away: each hears so at
    once, instead of after one more round of retries each."""
    calls: list[list[int]] = []

    async def unavailable(pieces: list[int]) -> list[int]:
        calls.append(list(pieces))
        raise DatabaseUnavailable("the database did not answer")

    batches = Batches(unavailable, limit=10)
    results = await asyncio.gather(*(batches.submit(n) for n in (1, 2, 3)), return_exceptions=True)
    assert all(isinstance(result, DatabaseUnavailable) for result in results)
    assert calls == [[1, 2, 3]]
