"""SlackStandin: a real HTTP server on loopback that answers the Slack Web API methods the app uses.

Tests, the demo and the benchmarks point the real `slack_sdk` client at it
(`AsyncWebClient(base_url=standin.api_url)`), so nothing is faked above the network edge and
nothing ever reaches slack.com. It records every call, validates every block it is sent, and
can fail, slow down or rate-limit any method on request.
"""

import asyncio
import contextlib
import ipaddress
import json
import secrets
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Self, TypeVar

from aiohttp import web

from bot.standin.faults import (
    SLACK_TIERS,
    Answer,
    FaultPlan,
    TokenBucket,
    error_answer,
    whole_seconds,
)
from bot.standin.socket import SocketModeHub
from bot.standin.validation import message_problems
from bot.standin.workspace import Params, Workspace, api_error, token_problem

T = TypeVar("T")

RESPONSE_URL = "response_url"
UPLOAD_URL = "upload_url"
MESSAGE_METHODS = ("chat.postMessage", "chat.postEphemeral")

# Parameters Slack takes as JSON strings inside form-encoded calls.
_JSON_FIELDS = ("blocks", "view", "attachments", "files", "metadata")
_MAX_BODY = 64 * 1024 * 1024


@dataclass
class Call:
    """One request the stand-in answered, as tests inspect it."""

    method: str
    params: dict[str, Any]
    at: float
    status: int
    response: dict[str, Any]


def require_loopback(host: str) -> str:
    """The address to bind for `host`, which must be loopback: the stand-in listens nowhere else."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"the Slack stand-in listens on loopback only, not {host!r}")
    return host


def _decode_json_fields(params: Params) -> Params:
    """Decodes the JSON-string parameters; undecodable ones stay strings for validation."""
    for name in _JSON_FIELDS:
        value = params.get(name)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                params[name] = json.loads(value)
    return params


async def _read_params(request: web.Request) -> tuple[Params, str | None]:
    """An API call's parameters (query, then form or JSON body) and its token.

    Raises ValueError for a JSON body that is not an object.
    """
    params: Params = dict(request.query)
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("JSON body must be an object")
            params.update(body)
        else:
            params.update(await request.post())
    header = request.headers.get("Authorization", "")
    token = params.pop("token", None)
    if header.startswith("Bearer "):
        token = header.removeprefix("Bearer ").strip()
    return _decode_json_fields(params), token


def _to_response(answer: Answer) -> web.Response:
    """The aiohttp response for an answer: JSON, or plain text like Slack's upload endpoint."""
    if answer.text is not None:
        return web.Response(status=answer.status, text=answer.text, headers=answer.headers)
    return web.json_response(answer.body, status=answer.status, headers=answer.headers)


def _summary(call: Call) -> str:
    """One line about a call, for timeout messages."""
    outcome = "ok" if call.response.get("ok") else call.response.get("error", "?")
    details = {k: call.params[k] for k in ("channel", "user", "text") if k in call.params}
    return f"  {call.method} -> {call.status} {outcome} {json.dumps(details)[:120]}"


class SlackStandin:
    """A local Slack Web API: real HTTP on 127.0.0.1, Slack's answers, every call recorded."""

    def __init__(
        self,
        *,
        team_id: str = "T0DEMO",
        bot_user_id: str = "U0OKRBOT",
        bot_id: str = "B0OKRBOT",
        host: str = "127.0.0.1",
        port: int = 0,
        real_limits: bool = False,
    ) -> None:
        """With `real_limits`, every method answers 429 past Slack's own rate limit for it
        (`SLACK_TIERS`); off by default so that ordinary tests run at full speed."""
        self.host = require_loopback(host)
        self.team_id, self.bot_user_id, self.bot_id = team_id, bot_user_id, bot_id
        self.calls: list[Call] = []
        self.workspace = Workspace(
            team_id=team_id,
            bot_user_id=bot_user_id,
            bot_id=bot_id,
            upload_url=lambda file_id: f"{self.base_url}upload/{file_id}",
        )
        self._methods = self.workspace.methods()
        self._faults = FaultPlan()
        if real_limits:
            self._faults.enforce(SLACK_TIERS)
        self._response_tags: dict[str, str] = {}
        self._changed = asyncio.Condition()
        self._subscribers: list[Callable[[Call], None]] = []
        self.socket_mode = SocketModeHub(self._record_ack)
        self._requested_port = port
        self._port: int | None = None
        self._runner: web.AppRunner | None = None

    # -- lifecycle

    async def start(self) -> None:
        """Starts listening; with port 0 the system picks a free port."""
        app = web.Application(client_max_size=_MAX_BODY)
        app.router.add_get("/api/{method}", self._on_api)
        app.router.add_post("/api/{method}", self._on_api)
        app.router.add_post("/upload/{file_id}", self._on_upload)
        app.router.add_post("/response/{token}", self._on_response_url)
        app.router.add_get("/socket-mode", self.socket_mode.handle)
        # A short shutdown timeout: stop() must not wait out answers held back by slow().
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.25)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self._requested_port).start()
        self._port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        """Stops listening and closes open connections."""
        await self.socket_mode.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        """The port listened on (chosen at start() when 0 was asked for)."""
        if self._port is None:
            raise RuntimeError("the stand-in is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """The server's root URL; upload and response URLs live under it."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    @property
    def api_url(self) -> str:
        """The Web API base URL, for `SLACK_API_URL` and `AsyncWebClient(base_url=...)`."""
        return f"{self.base_url}api/"

    # -- workspace

    def add_user(
        self,
        user_id: str,
        *,
        name: str,
        real_name: str | None = None,
        email: str | None = None,
        tz: str = "UTC",
        locale: str = "en-US",
        deleted: bool = False,
        is_bot: bool = False,
    ) -> None:
        """Adds (or replaces) a workspace member that users.info and DMs know about."""
        self.workspace.add_user(
            user_id,
            name=name,
            real_name=real_name,
            email=email,
            tz=tz,
            locale=locale,
            deleted=deleted,
            is_bot=is_bot,
        )

    def dm_channel(self, user_id: str) -> str:
        """The DM channel id conversations.open returns for this member."""
        return self.workspace.dm_channel(user_id)

    def response_url(self, tag: str = "") -> str:
        """A fresh response_url on the stand-in; posts to it are recorded with `_tag` = tag."""
        token = secrets.token_urlsafe(12)
        self._response_tags[token] = tag
        return f"{self.base_url}response/{token}"

    @property
    def uploaded_files(self) -> dict[str, bytes]:
        """The bytes of every uploaded file, by file id."""
        return {f.id: f.data for f in self.workspace.files.values() if f.data is not None}

    # -- fault injection

    def fail(
        self,
        method: str,
        *,
        status: int | None = None,
        error: str | None = None,
        times: int = 1,
        retry_after: float | None = None,
    ) -> None:
        """The next `times` calls to `method` fail.

        With `status` (500 when neither is given) they get that HTTP status, and 429 carries
        `Retry-After: retry_after` (1 by default); with only `error`, HTTP 200 and
        `{"ok": false, "error": error}`. `method` may also be "response_url" or "upload_url".
        """
        http_status = status if status is not None else (200 if error else 500)
        answer = error_answer(http_status, error, whole_seconds(retry_after))
        self._faults.fail(method, answer, times)

    def slow(self, method: str, seconds: float, times: int = 1) -> None:
        """The next `times` calls to `method` are answered `seconds` late."""
        self._faults.slow(method, seconds, times)

    def rate_limit(
        self,
        method: str,
        *,
        per_second: float,
        burst: int = 1,
        retry_after: float | None = None,
    ) -> None:
        """Puts `method` behind a token bucket; calls finding it empty get HTTP 429.

        Retry-After is the whole seconds until the next token, at least 1, unless `retry_after`
        fixes it (whole seconds; 0 lets fast tests retry at once).
        """
        bucket = TokenBucket(per_second, burst, whole_seconds(retry_after))
        self._faults.rate_limit(method, bucket)

    # -- recording

    def calls_to(self, method: str) -> list[Call]:
        """Every recorded call to `method`, in order."""
        return [call for call in self.calls if call.method == method]

    def messages_to(self, channel_or_user: str) -> list[Call]:
        """Successful chat.postMessage/postEphemeral calls a channel or a member received.

        For a member that is their DM (by DM id or by user id) and ephemerals shown to them.
        """
        targets = {channel_or_user}
        if channel_or_user in self.workspace.users:
            targets.add(self.dm_channel(channel_or_user))

        def reached(call: Call) -> bool:
            channels = {call.params.get("channel"), call.response.get("channel")}
            return bool(targets & channels) or call.params.get("user") == channel_or_user

        return [
            call
            for call in self.calls
            if call.method in MESSAGE_METHODS and call.response.get("ok") and reached(call)
        ]

    def clear(self) -> None:
        """Forgets the recorded calls (not users, messages, views or faults)."""
        self.calls.clear()

    async def wait_for(
        self,
        method: str,
        *,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline per call reads best in tests
        where: Callable[[Call], bool] | None = None,
    ) -> list[Call]:
        """Waits until `count` calls to `method` (matching `where`) are recorded; returns all.

        Raises TimeoutError listing what was received instead.
        """

        def matching() -> list[Call]:
            return [c for c in self.calls_to(method) if where is None or where(c)]

        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(lambda: len(matching()) >= count)
        except TimeoutError:
            raise TimeoutError(self._timeout_message(method, count, timeout, matching())) from None
        return matching()

    def _timeout_message(self, method: str, count: int, timeout: float, got: list[Call]) -> str:
        lines = [
            f"waited {timeout}s for {count} {method} call(s), got {len(got)} matching; "
            f"all {len(self.calls)} call(s) received:",
            *(_summary(call) for call in self.calls[-30:]),
        ]
        return "\n".join(lines)

    def subscribe(self, callback: Callable[[Call], None]) -> None:
        """Call `callback` with every call as it is recorded (benchmarks watch this way;
        `wait_for` rescans all calls and is meant for tests)."""
        self._subscribers.append(callback)

    async def _record(self, call: Call) -> None:
        for callback in self._subscribers:
            callback(call)
        async with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    # -- HTTP

    async def _serve(
        self, method: str, params: Params, at: float, act: Callable[[], Answer]
    ) -> web.Response:
        """Answers one call: an injected fault or `act()`, possibly late, and records it."""
        answer = self._faults.intercept(method, at, self._target(params))
        delay = self._faults.delay(method)
        if delay > 0:
            await asyncio.sleep(delay)
        if answer is None:
            answer = act()
        call = Call(method=method, params=params, at=at, status=answer.status, response=answer.body)
        await self._record(call)
        return _to_response(answer)

    def _target(self, params: Params) -> str:
        """The channel a call writes to, a member's id read as their DM (per-channel limits)."""
        channel = str(params.get("channel") or "")
        return self.dm_channel(channel) if channel in self.workspace.users else channel

    async def _on_api(self, request: web.Request) -> web.Response:
        """A Web API call: GET with a query, or POST with a form or JSON body."""
        at = time.monotonic()
        method = request.match_info["method"]
        try:
            params, token = await _read_params(request)
        except ValueError:
            return await self._serve(method, {}, at, lambda: Answer(200, api_error("invalid_json")))
        return await self._serve(
            method, params, at, lambda: self._call_method(method, params, token)
        )

    async def _record_ack(self, method: str, params: Params) -> None:
        await self._record(Call(method, params, time.monotonic(), 200, {}))

    def _call_method(self, method: str, params: Params, token: str | None) -> Answer:
        if method == "apps.connections.open":
            return Answer(200, self.socket_mode.connection_answer(self.base_url, token))
        handler = self._methods.get(method)
        if handler is None:
            return Answer(200, api_error("unknown_method"))
        problem = token_problem(token)
        if problem:
            return Answer(200, api_error(problem))
        return Answer(200, handler(params))

    async def _on_upload(self, request: web.Request) -> web.Response:
        """The POST of a file's bytes to the URL files.getUploadURLExternal handed out."""
        at = time.monotonic()
        file_id, data = request.match_info["file_id"], await request.read()

        def act() -> Answer:
            if not self.workspace.store_upload(file_id, data):
                return Answer(404, {"ok": False, "error": "file_not_found"}, text="file_not_found")
            return Answer(200, {"ok": True}, text=f"OK - {len(data)}")

        return await self._serve(UPLOAD_URL, {"file_id": file_id, "length": len(data)}, at, act)

    async def _on_response_url(self, request: web.Request) -> web.Response:
        """A JSON post to a response_url, as Bolt's respond() sends it."""
        at = time.monotonic()
        tag = self._response_tags.get(request.match_info["token"])
        try:
            body = await request.json()
        except ValueError:
            body = None
        params: Params = {**body, "_tag": tag} if isinstance(body, dict) else {"_tag": tag}
        return await self._serve(RESPONSE_URL, params, at, lambda: _response_answer(tag, body))


def _response_answer(tag: str | None, body: Any) -> Answer:
    """Slack's answer to a response_url post: 404 for an unknown URL, 400 for a bad message."""
    if tag is None:
        return Answer(404, api_error("expired_url"))
    if not isinstance(body, dict):
        return Answer(400, api_error("invalid_payload"))
    if body.get("delete_original"):
        return Answer(200, {"ok": True})
    invalid = message_problems(body)
    if invalid:
        return Answer(400, api_error(*invalid))
    return Answer(200, {"ok": True})


class StandinThread:
    """A SlackStandin on its own event loop in a daemon thread, for synchronous callers.

    Starts at once; `stop()` (or leaving the `with` block) shuts it down.
    """

    def __init__(self, *, start_timeout: float = 10.0, **standin_options: Any) -> None:
        self.standin = SlackStandin(**standin_options)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="slack-standin", daemon=True
        )
        self._thread.start()
        try:
            self.run(self.standin.start(), timeout=start_timeout)
        except BaseException:
            self._close_loop()
            raise

    @property
    def api_url(self) -> str:
        """The stand-in's Web API base URL."""
        return self.standin.api_url

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Runs a coroutine (e.g. `standin.wait_for(...)`) on the stand-in's loop; waits for it."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def stop(self) -> None:
        """Stops the server, then the loop and the thread."""
        if self._loop.is_closed():
            return
        self.run(self.standin.stop(), timeout=10.0)
        self._close_loop()

    def _close_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10.0)
        self._loop.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
