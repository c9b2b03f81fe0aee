"""SPEC §6: `/okr status` on the bench workspace (`bench/workspace.py`), 20 requests at
once: p50/p95/p99 from sending the signed request to its answer: the HTTP acknowledgement when
the app answers in it (as it does when the answer is ready within its budget), else the post
to the response URL reaching the Slack stand-in.

The app runs as `okrbot run --http` in its own process, as in production; this process plays
Slack (the stand-in and the signed requests).

    .venv/bin/python -m bench.status_latency [--requests 400] [--concurrency 20] [--backend both]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time

from bench.common import (
    SECRET,
    WORKSPACE,
    Answers,
    for_each_backend,
    machine,
    percentile,
    start_app,
    stop_process,
)
from bench.workspace import populate
from bot.standin.sender import SignedSender
from bot.standin.server import SlackStandin
from storage.db import Database
from storage.migrate import upgrade


async def measure(
    sender: SignedSender,
    answers: Answers,
    callers: list[tuple[str, str]],
    total: int,
    concurrency: int,
) -> list[float]:
    """Latencies in ms, `concurrency` requests in flight at a time."""
    latencies: list[float] = []
    gate = asyncio.Semaphore(concurrency)

    async def one(index: int) -> None:
        user, channel = callers[index % len(callers)]
        url, _tag, answered = answers.expect()
        async with gate:
            started = time.monotonic()
            reply = await sender.slash_command(
                "/okr", "status", user_id=user, channel_id=channel, response_url=url
            )
            assert reply.status == 200, reply.body
            if isinstance(reply.json, dict) and reply.json.get("response_type"):
                latencies.append((time.monotonic() - started) * 1000)
                assert "Objective" in str(reply.json.get("blocks")), reply.body
                return
            call = await asyncio.wait_for(answered, timeout=30)
            latencies.append((call.at - started) * 1000)
            assert call.status == 200 and "Objective" in str(call.params["blocks"]), call.response

    await asyncio.gather(*(one(i) for i in range(total)))
    return latencies


async def run_backend(name: str, url: str, total: int, concurrency: int) -> None:
    database = Database.connect(url)
    await upgrade(database)
    began = time.perf_counter()
    workspace = await populate(database)
    await database.dispose()
    print(
        f"{name}: workspace built in {time.perf_counter() - began:.1f} s ({workspace.describe()})"
    )
    callers = workspace.callers()
    async with SlackStandin(team_id=WORKSPACE) as standin:
        for user in workspace.people:
            standin.add_user(user, name=user.lower())
        process, base = await start_app(url, standin.api_url)
        gc.freeze()  # the stand-in plays Slack: keep its own collector pauses out of the figures
        try:
            async with SignedSender(base + "/slack/events", SECRET, team_id=WORKSPACE) as sender:
                answers = Answers(standin)
                await measure(sender, answers, callers, 2 * len(callers), concurrency)  # warm-up
                latencies = await measure(sender, answers, callers, total, concurrency)
        finally:
            await stop_process(process)
    p50, p95, p99 = (percentile(latencies, q) for q in (50, 95, 99))
    verdict = "meets" if p99 < 100 else "MISSES"
    print(
        f"{name}: {total} requests, {concurrency} at once: p50 {p50:.1f} ms, p95 {p95:.1f} ms, "
        f"p99 {p99:.1f} ms, max {max(latencies):.1f} ms ({verdict} p99 < 100 ms)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    await for_each_backend(
        args.backend, lambda name, url: run_backend(name, url, args.requests, args.concurrency)
    )


if __name__ == "__main__":
    asyncio.run(main())
