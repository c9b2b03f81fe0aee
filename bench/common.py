"""What the benches share: the machine line, percentiles, the app and the floor as processes of
their own, answers awaited at the stand-in's response URLs, and the two backends.

The app (`okrbot run --http`) and the floor (`bench.floor`) run in processes of their own, as
in production; the bench process plays Slack (the stand-in and the signed requests).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

from bot.standin.server import Call, SlackStandin
from tests.support.postgres import find_bindir, start_server

WORKSPACE = "T0BENCH"
SECRET = "bench-signing-secret"
BOT_TOKEN = "xoxb-bench"
# OKRBOT_BENCH_PROFILE=FILE profiles the app process with cProfile into FILE.
_PROFILE = os.environ.get("OKRBOT_BENCH_PROFILE")
APP_COMMAND = [
    sys.executable,
    *(["-m", "cProfile", "-o", _PROFILE] if _PROFILE else []),
    "-m",
    "bot.cli",
    "run",
    "--http",
]
FLOOR_COMMAND = [sys.executable, "-m", "bench.floor"]
Process = asyncio.subprocess.Process


def machine() -> str:
    """CPU count and model, system and Python, for the figures' context."""
    cpu = platform.processor() or platform.machine()
    info = Path("/proc/cpuinfo")
    for line in info.read_text().splitlines() if info.exists() else []:
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return (
        f"{os.cpu_count()} CPUs ({cpu}, {platform.machine()}), "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def postgres_version() -> str:
    """`PostgreSQL 15.x` of the server binaries the benches start, or why there is none."""
    bindir = find_bindir()
    if bindir is None:
        return "PostgreSQL not installed"
    found = subprocess.run(
        [str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=False
    )
    version = re.search(r"\d+(\.\d+)+", found.stdout)  # "postgres (PostgreSQL) 15.8 (Debian …)"
    return f"PostgreSQL {version.group(0) if version else '?'}"


def percentile(values: list[float], q: int) -> float:
    """The q-th percentile; the value itself for a single one (quantiles needs two)."""
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _healthy(base: str, process: Process) -> bool:
    """Polls `/healthz` for up to 30 s; False when it never answered 200 or the process died."""
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            if process.returncode is not None:
                return False
            try:
                async with session.get(base + "/healthz") as response:
                    if response.status == 200:
                        return True
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)
    return False


async def start_server_process(
    argv: list[str], env: dict[str, str], log: Path | None = None
) -> tuple[Process, str]:
    """`argv --port N` on a free loopback port, once its `/healthz` answers; its stderr goes to
    `log` when given."""
    port = free_port()
    errors = log.open("ab") if log else None
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            "--port",
            str(port),
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=errors or asyncio.subprocess.DEVNULL,
        )
    finally:
        if errors:
            errors.close()
    base = f"http://127.0.0.1:{port}"
    if not await _healthy(base, process):
        await stop_process(process)
        raise RuntimeError(f"{' '.join(argv)} did not become healthy")
    return process, base


def app_env(database_url: str, api_url: str) -> dict[str, str]:
    """The environment `okrbot run --http` gets: the stand-in as Slack, the bench's secret."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SLACK_API_URL": api_url,
        "HOST": "127.0.0.1",
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
    }
    env.pop("SLACK_APP_TOKEN", None)
    return env


async def start_app(
    database_url: str, api_url: str, log: Path | None = None
) -> tuple[Process, str]:
    """`okrbot run --http` against the stand-in; returns the process and its base URL."""
    return await start_server_process(APP_COMMAND, app_env(database_url, api_url), log)


async def start_floor(api_url: str) -> tuple[Process, str]:
    """The floor (`bench.floor`), a bare Bolt app, served the way the app is."""
    env = app_env("", api_url)
    return await start_server_process([*FLOOR_COMMAND, "--api-url", api_url], env)


async def stop_process(process: Process) -> None:
    if process.returncode is None:
        process.terminate()
    await process.wait()


class Answers:
    """Futures for response_url posts, resolved as the stand-in records the first post to each
    URL; every post is kept, since an error may follow a good answer to the same request."""

    def __init__(self, standin: SlackStandin) -> None:
        self.standin = standin
        self.waiting: dict[str, asyncio.Future[Call]] = {}
        self.posts: defaultdict[str, list[Call]] = defaultdict(list)
        self.tags = itertools.count()
        standin.subscribe(self._seen)

    def _seen(self, call: Call) -> None:
        tag = str(call.params.get("_tag"))
        self.posts[tag].append(call)
        future = self.waiting.pop(tag, None)
        if future is not None and not future.done():
            future.set_result(call)

    def expect(self) -> tuple[str, str, asyncio.Future[Call]]:
        """A fresh response URL, its tag, and the future of the first post to it."""
        tag = f"r{next(self.tags)}"
        future = asyncio.get_running_loop().create_future()
        self.waiting[tag] = future
        return self.standin.response_url(tag), tag, future


BackendRun = Callable[[str, str], Awaitable[None]]


async def for_each_backend(choice: str, run: BackendRun, dbname: str = "bench") -> None:
    """`run(name, url)` on a fresh SQLite file and/or a throwaway PostgreSQL server's database,
    as `choice` (sqlite, postgresql or both) says."""
    if choice in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as folder:
            await run("sqlite", f"sqlite:///{Path(folder) / f'{dbname}.db'}")
    if choice in ("postgresql", "both"):
        server = start_server()
        try:
            server.psql(f"CREATE DATABASE {dbname}")
            await run("postgresql", server.url(dbname))
        finally:
            server.stop()
