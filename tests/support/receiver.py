"""A webhook receiver on loopback for tests: records every POST, refuses the first few with
500 when asked to; and the README's own signature check."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.server import bound_port

WAIT = 30.0
REPO = Path(__file__).resolve().parents[2]


def _readme_verify() -> Callable[..., bool]:
    """The signature check the README gives receivers, taken from the README itself, so the
    documented code is the code the tests run."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    start = readme.index("```python\nimport hashlib, hmac, time") + len("```python\n")
    namespace: dict[str, Any] = {}
    exec(readme[start : readme.index("```", start)], namespace)  # our own README
    return namespace["verify"]


# verify(secret, headers, body, tolerance=300) -> bool
verify = _readme_verify()


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)

    @property
    def delivery(self) -> str:
        return self.headers["X-Okrbot-Delivery"]


@dataclass
class Receiver:
    base: str
    refuse: int = 0  # answer 500 to this many requests before accepting
    always_refuse: bool = False
    # While set to an unset event, requests wait for it before answering.
    hold: asyncio.Event | None = None
    got: list[Received] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, path: str = "/hook") -> str:
        return self.base + path

    @property
    def accepted(self) -> list[Received]:
        return [r for r in self.got if r.status == 200]

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.arrived.set()
        if self.hold is not None:
            await self.hold.wait()
        status = 500 if self.always_refuse or self.refuse > 0 else 200
        self.refuse -= 1 if self.refuse > 0 else 0
        self.got.append(Received(request.path, dict(request.headers), body, status))
        return web.Response(status=status)

    async def wait_accepted(self, count: int) -> list[Received]:
        """Wait (up to WAIT seconds) until `count` deliveries were accepted."""
        for _ in range(int(WAIT / 0.02)):
            if len(self.accepted) >= count:
                return self.accepted
            await asyncio.sleep(0.02)
        raise AssertionError(f"{len(self.accepted)} of {count} accepted; {len(self.got)} tries")


@asynccontextmanager
async def receiver() -> AsyncIterator[Receiver]:
    """A receiver listening on a free loopback port until the block ends."""
    app = web.Application()
    runner = web.AppRunner(app)
    found = Receiver("")
    app.router.add_post("/{path:.*}", found.handle)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    found.base = f"http://127.0.0.1:{bound_port(runner)}"
    try:
        yield found
    finally:
        if found.hold is not None:
            found.hold.set()
        await runner.cleanup()
