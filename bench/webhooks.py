"""Webhooks (SPEC §9, issue #10 item 5): what the outbox costs `/okr update`, and how fast the
sender empties it.

1. `/okr update` answered one after another through the signed endpoint (in-process app and
   stand-in), in rounds alternating three set-ups so drift in a shared machine's load hits each
   alike: the outbox switched off (the code before webhooks), no webhook subscribed (one extra
   indexed read per update), and one subscribed (that read, and one outbox row).
2. `--events` events queued, then one sender posting them to a local receiver answering 200:
   deliveries a second, and every one accepted once.

    .venv/bin/python -m bench.webhooks [--updates 300] [--events 1000] [--backend both]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench.common import for_each_backend, machine, percentile, postgres_version
from bot.sandbox import Sandbox, sandbox
from bot.seed import load_seed
from bot.services import updates, webhooks
from scheduler.webhooks import WebhookSender
from tests.support.receiver import Receiver, receiver

MODES = ("outbox off", "no webhook", "one webhook")
WS = "T0DEMO"


@contextmanager
def outbox_off() -> Iterator[None]:
    """`kr.updated` not recorded at all: the update path as it was before webhooks."""
    saved = updates.record_event

    async def nothing(*args: Any, **kwargs: Any) -> None:
        return None

    updates.record_event = nothing  # type: ignore[assignment]
    try:
        yield
    finally:
        updates.record_event = saved


async def timed_updates(box: Sandbox, count: int, start: int) -> list[float]:
    took = []
    for value in range(start, start + count):
        began = time.perf_counter()
        await box.command("/okr", f"update KR-1 {value}", user_id="U0ALICE")
        took.append(time.perf_counter() - began)
    return took


async def update_latency(box: Sandbox, total: int, url: str) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {mode: [] for mode in MODES}
    rounds = 10
    per_round = max(1, total // rounds)
    hook = None
    for number in range(rounds):
        for mode in MODES:
            if mode == "one webhook" and hook is None:
                hook = await webhooks.add_webhook(
                    database=box.database, workspace_id=WS, url=url, events=("kr.updated",)
                )
            if mode != "one webhook" and hook is not None:
                await webhooks.remove_webhook(
                    database=box.database, workspace_id=WS, ref=str(hook.id)
                )
                hook = None
            start = number * 1000 + MODES.index(mode) * 100
            if mode == "outbox off":
                with outbox_off():
                    times[mode] += await timed_updates(box, per_round, start)
            else:
                times[mode] += await timed_updates(box, per_round, start)
    if hook is not None:
        await webhooks.remove_webhook(database=box.database, workspace_id=WS, ref=str(hook.id))
    return times


async def delivery_rate(box: Sandbox, count: int, hooks: Receiver) -> tuple[float, int, int]:
    """Seconds for one sender to deliver `count` queued events; accepted and distinct ids."""
    await webhooks.add_webhook(
        database=box.database, workspace_id=WS, url=hooks.url(), events=("kpi.alert",)
    )
    for start in range(0, count, 100):
        async with box.database.session() as session:
            for number in range(start, min(count, start + 100)):
                await webhooks.record_event(
                    session, workspace_id=WS, event="kpi.alert", data={"n": number}
                )
    sender = WebhookSender(box.services)
    began = time.perf_counter()
    sender.start()
    try:
        await hooks.wait_accepted(count)
        took = time.perf_counter() - began
    finally:
        await sender.stop()
    return took, len(hooks.accepted), len({r.delivery for r in hooks.accepted})


async def run_backend(args: argparse.Namespace, name: str, url: str) -> None:
    async with sandbox(url) as box, receiver() as hooks:
        await load_seed(box)
        times = await update_latency(box, args.updates, hooks.url())
        for mode in MODES:
            values = times[mode]
            print(
                f"{name:10} /okr update, {mode:11}: {len(values)} answers, "
                f"p50 {percentile(values, 50) * 1000:.1f} ms, "
                f"p99 {percentile(values, 99) * 1000:.1f} ms"
            )
        took, accepted, distinct = await delivery_rate(box, args.events, hooks)
        print(
            f"{name:10} delivery: {accepted} of {args.events} accepted ({distinct} distinct ids) "
            f"in {took:.2f} s = {accepted / took:.0f} a second"
        )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    return parser.parse_args()


async def main() -> None:
    args = parse_args()
    print(f"machine: {machine()}; {postgres_version()}")
    await for_each_backend(args.backend, lambda name, url: run_backend(args, name, url))


if __name__ == "__main__":
    asyncio.run(main())
