"""Socket Mode on the stand-in: `apps.connections.open` hands out a loopback WebSocket URL;
envelopes pushed down it reach the app as Slack's would, and the app's acks are recorded
(as calls to `socket_mode.ack`)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSMsgType, web

Record = Callable[[str, dict[str, Any]], Awaitable[None]]
ACK = "socket_mode.ack"


class SocketModeHub:
    """The WebSocket side of Socket Mode, one hub per stand-in."""

    def __init__(self, record: Record) -> None:
        self._record = record
        self._sockets: list[web.WebSocketResponse] = []
        self._connected = asyncio.Event()

    def connection_answer(self, base_url: str, token: str | None) -> dict[str, Any]:
        """`apps.connections.open`: only an app-level token (`xapp-…`) may open a connection."""
        if not token or not token.startswith("xapp-"):
            return {"ok": False, "error": "invalid_auth" if token else "not_authed"}
        return {"ok": True, "url": base_url.replace("http://", "ws://", 1) + "socket-mode"}

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """One app connection: say hello, then record every ack until it closes."""
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        self._sockets.append(socket)
        await socket.send_json({"type": "hello", "num_connections": len(self._sockets)})
        self._connected.set()
        try:
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    body = json.loads(message.data)
                    await self._record(ACK, body)
        finally:
            self._sockets.remove(socket)
            if not self._sockets:
                self._connected.clear()
        return socket

    async def wait_connected(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            await self._connected.wait()

    async def send(self, kind: str, payload: dict[str, Any], *, retry_attempt: int = 0) -> str:
        """Push an envelope (`events_api`, `slash_commands`, `interactive`); its id is returned."""
        if not self._sockets:
            raise RuntimeError("no app is connected over Socket Mode")
        envelope_id = str(uuid.uuid4())
        await self._sockets[-1].send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": kind != "events_api",
                "retry_attempt": retry_attempt,
                "retry_reason": "timeout" if retry_attempt else "",
            }
        )
        return envelope_id

    async def close(self) -> None:
        for socket in list(self._sockets):
            await socket.close()
