"""The stand-in's workspace: users, DMs, messages, views and files, and the Web API methods on them.

Every method takes decoded parameters and returns Slack's JSON answer; Slack answers API errors
with HTTP 200 and `ok: false`, so nothing here knows about HTTP.
"""

import base64
import binascii
import itertools
import mimetypes
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from bot.standin.validation import message_problems, view_problems

Params = dict[str, Any]
Reply = dict[str, Any]
Handler = Callable[[Params], Reply]

# conversations.history: Slack's default page size, and the most it returns in one page.
HISTORY_LIMIT_DEFAULT = 100
HISTORY_LIMIT_MAX = 999
_CURSOR_PREFIX = "next_ts:"
# users.list: the most members one page holds (Slack recommends asking for 200 at most).
USERS_LIMIT_MAX = 1000
_USER_CURSOR_PREFIX = "user:"

_VIEW_DEFAULTS: dict[str, Any] = {
    "private_metadata": "",
    "callback_id": "",
    "external_id": "",
    "state": {"values": {}},
    "clear_on_close": False,
    "notify_on_close": False,
    "close": None,
    "submit": None,
    "previous_view_id": None,
}


def api_error(code: str, messages: Sequence[str] = ()) -> Reply:
    """Slack's `ok: false` answer, with the details in `response_metadata.messages`."""
    reply: Reply = {"ok": False, "error": code}
    if messages:
        reply["response_metadata"] = {"messages": list(messages)}
    return reply


def token_problem(token: str | None) -> str | None:
    """The error Slack gives a Web API call made with this token, or None when it may call."""
    if not token:
        return "not_authed"
    if token.startswith("xapp-"):
        return "not_allowed_token_type"
    if not token.startswith(("xoxb-", "xoxp-")):
        return "invalid_auth"
    return None


def dm_channel_id(user_id: str) -> str:
    """The id of the bot's DM with a member, stable and readable: U0ALICE -> D0ALICE."""
    return f"D{user_id[1:]}" if user_id[:1] in ("U", "W") else f"D{user_id}"


def _truthy(value: Any) -> bool:
    """Slack's reading of a boolean parameter: true, 1, "1" or "true"."""
    return value is True or str(value).lower() in ("1", "true")


def _ts_value(ts: Any) -> Decimal:
    """A message timestamp as an exact number ("1700000000.000100"; floats lose the last
    digit). Raises ValueError when it is not one."""
    try:
        value = Decimal(str(ts))
    except InvalidOperation:
        raise ValueError(ts) from None
    if not value.is_finite():
        raise ValueError(ts)
    return value


def _encode_cursor(ts: str) -> str:
    """A history cursor the way Slack spells it: base64 of `next_ts:<ts of the next message>`."""
    return base64.b64encode(f"{_CURSOR_PREFIX}{ts}".encode()).decode()


def _decode_cursor(cursor: str) -> Decimal:
    """The timestamp a history cursor resumes at; ValueError for a cursor we did not hand out."""
    try:
        text = base64.b64decode(cursor, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise ValueError(cursor) from None
    if not text.startswith(_CURSOR_PREFIX):
        raise ValueError(cursor)
    return _ts_value(text.removeprefix(_CURSOR_PREFIX))


def _user_cursor_index(members: Sequence["User"], cursor: Any) -> int:
    """Where a users.list cursor resumes in `members`; ValueError for one we did not hand out."""
    if not cursor:
        return 0
    try:
        text = base64.b64decode(str(cursor), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise ValueError(cursor) from None
    ids = [user.id for user in members]
    user_id = text.removeprefix(_USER_CURSOR_PREFIX)
    if not text.startswith(_USER_CURSOR_PREFIX) or user_id not in ids:
        raise ValueError(cursor)
    return ids.index(user_id)


def metadata_problem(metadata: Any) -> str | None:
    """Slack's error for a message's `metadata` that is not `{event_type, event_payload}`."""
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        return "invalid_metadata_format"
    event_type, payload = metadata.get("event_type"), metadata.get("event_payload")
    if not isinstance(event_type, str) or not event_type or not isinstance(payload, dict):
        return "invalid_metadata_format"
    return None


class Refused(Exception):
    """A call's parameters Slack would refuse; `code` is the `error` it answers with."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _ts_param(params: Params, name: str) -> Decimal | None:
    """An optional timestamp parameter (`oldest`, `latest`); Slack's `invalid_ts_<name>`."""
    if not params.get(name):
        return None
    try:
        return _ts_value(params[name])
    except ValueError:
        raise Refused(f"invalid_ts_{name}") from None


def _limit_param(params: Params) -> int:
    """`limit`: the default when absent or below 1, never more than the maximum."""
    try:
        limit = int(params.get("limit") or HISTORY_LIMIT_DEFAULT)
    except ValueError:
        raise Refused("invalid_arguments") from None
    return min(limit, HISTORY_LIMIT_MAX) if limit > 0 else HISTORY_LIMIT_DEFAULT


@dataclass(frozen=True)
class HistoryWindow:
    """What one conversations.history call asks for: the bounds (exclusive unless
    `inclusive`), where a cursor resumes, how many, and whether to show metadata."""

    oldest: Decimal | None
    latest: Decimal | None
    inclusive: bool
    resume_at: Decimal | None
    limit: int
    with_metadata: bool

    @classmethod
    def from_params(cls, params: Params) -> "HistoryWindow":
        """The window a call's parameters describe; raises Refused as Slack would."""
        try:
            resume_at = _decode_cursor(str(params["cursor"])) if params.get("cursor") else None
        except ValueError:
            raise Refused("invalid_cursor") from None
        return cls(
            oldest=_ts_param(params, "oldest"),
            latest=_ts_param(params, "latest"),
            inclusive=_truthy(params.get("inclusive")),
            resume_at=resume_at,
            limit=_limit_param(params),
            with_metadata=_truthy(params.get("include_all_metadata")),
        )

    def holds(self, ts: Decimal) -> bool:
        """Whether a message at `ts` falls inside the window (the cursor's page included)."""
        after = self.oldest is None or ts > self.oldest or (self.inclusive and ts == self.oldest)
        before = self.latest is None or ts < self.latest or (self.inclusive and ts == self.latest)
        return after and before and (self.resume_at is None or ts <= self.resume_at)


@dataclass
class User:
    """A member of the stand-in's workspace."""

    id: str
    name: str
    team_id: str
    real_name: str
    email: str | None = None
    tz: str = "UTC"
    locale: str = "en-US"
    deleted: bool = False
    is_bot: bool = False

    def to_slack(self, *, include_locale: bool = False) -> dict[str, Any]:
        """The user object of users.info and users.lookupByEmail."""
        offset = ZoneInfo(self.tz).utcoffset(datetime.now(UTC))
        profile = {
            "real_name": self.real_name,
            "real_name_normalized": self.real_name,
            "display_name": self.name,
            "display_name_normalized": self.name,
            "team": self.team_id,
        }
        if self.email:
            profile["email"] = self.email
        user = {
            "id": self.id,
            "team_id": self.team_id,
            "name": self.name,
            "deleted": self.deleted,
            "real_name": self.real_name,
            "tz": self.tz,
            "tz_label": self.tz,
            "tz_offset": int(offset.total_seconds()) if offset else 0,
            "is_admin": False,
            "is_owner": False,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "profile": profile,
        }
        if include_locale:
            user["locale"] = self.locale
        return user


@dataclass
class StoredFile:
    """A file announced by files.getUploadURLExternal; `data` arrives with the upload POST."""

    id: str
    name: str
    length: int
    data: bytes | None = None
    title: str = ""
    channels: list[str] = field(default_factory=list)


class TimestampClock:
    """Message timestamps like Slack's "1700000000.000100": unique, increasing, near wall time."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> str:
        """A timestamp later than every one before it."""
        micros = max(self._last + 1, time.time_ns() // 1000)
        self._last = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


class Workspace:
    """One Slack workspace with its bot installed, answering the Web API methods the app uses."""

    def __init__(
        self, *, team_id: str, bot_user_id: str, bot_id: str, upload_url: Callable[[str], str]
    ) -> None:
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = "A" + bot_id[1:]
        self.users: dict[str, User] = {}
        self.files: dict[str, StoredFile] = {}
        self.clock = TimestampClock()
        self._upload_url = upload_url
        self._serial = itertools.count(1)
        self._open_dms: set[str] = set()
        self._dm_owners: dict[str, str] = {}
        self._messages: dict[tuple[str, str], dict[str, Any]] = {}
        self._views: dict[str, dict[str, Any]] = {}
        self._home_view_ids: dict[str, str] = {}
        self.add_user(bot_user_id, name="okrbot", is_bot=True)

    def methods(self) -> dict[str, Handler]:
        """The Web API methods this workspace answers, by name."""
        return {
            "auth.test": self.auth_test,
            "bots.info": self.bots_info,
            "chat.postMessage": self.chat_post_message,
            "chat.postEphemeral": self.chat_post_ephemeral,
            "chat.update": self.chat_update,
            "chat.delete": self.chat_delete,
            "conversations.open": self.conversations_open,
            "conversations.history": self.conversations_history,
            "users.info": self.users_info,
            "users.list": self.users_list,
            "users.lookupByEmail": self.users_lookup_by_email,
            "views.open": self.views_open,
            "views.push": self.views_open,
            "views.update": self.views_update,
            "views.publish": self.views_publish,
            "files.getUploadURLExternal": self.files_get_upload_url_external,
            "files.completeUploadExternal": self.files_complete_upload_external,
        }

    # -- members and channels

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
    ) -> User:
        """Adds (or replaces) a member; an unknown `tz` fails here rather than mid-test."""
        ZoneInfo(tz)
        user = User(
            id=user_id,
            name=name,
            team_id=self.team_id,
            real_name=real_name or name,
            email=email,
            tz=tz,
            locale=locale,
            deleted=deleted,
            is_bot=is_bot,
        )
        self.users[user_id] = user
        self._dm_owners[dm_channel_id(user_id)] = user_id
        return user

    def dm_channel(self, user_id: str) -> str:
        """The id of the bot's DM with a member."""
        return dm_channel_id(user_id)

    def user_of_dm(self, channel: str) -> User | None:
        """The member on the other side of a DM channel, if it is one of ours."""
        return self.users.get(self._dm_owners.get(channel, ""))

    def _new_id(self, prefix: str) -> str:
        """A fresh Slack-looking id: V0…, F0…"""
        return f"{prefix}0{next(self._serial):08X}"

    def _resolve_channel(self, channel: Any) -> tuple[str, str | None]:
        """Where a message lands (a user id means their DM) and the error that stops it, if any."""
        if not channel:
            return "", "channel_not_found"
        channel = str(channel)
        if channel in self.users:
            channel = self.dm_channel(channel)
        user = self.user_of_dm(channel)
        return channel, "user_disabled" if user is not None and user.deleted else None

    # -- auth, users, conversations

    def auth_test(self, params: Params) -> Reply:
        """auth.test: who the token belongs to (Bolt calls it before the first listener runs)."""
        return {
            "ok": True,
            "url": f"https://{self.team_id.lower()}.slack.com/",
            "team": "OKR Demo",
            "user": self.users[self.bot_user_id].name,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def bots_info(self, params: Params) -> Reply:
        """bots.info: the installed bot by its `bot` id (as auth.test gives it), with its app's id.

        Slack knows other bots too; the stand-in has only its own, and answers `bot_not_found`
        for any other id or none."""
        if params.get("bot") != self.bot_id:
            return api_error("bot_not_found")
        icon = f"https://a.slack-edge.com/{self.app_id}/okrbot"
        return {
            "ok": True,
            "bot": {
                "id": self.bot_id,
                "deleted": False,
                "name": self.users[self.bot_user_id].name,
                "updated": 1_700_000_000,
                "app_id": self.app_id,
                "user_id": self.bot_user_id,
                "icons": {f"image_{size}": f"{icon}_{size}.png" for size in (36, 48, 72)},
            },
        }

    def users_info(self, params: Params) -> Reply:
        """users.info: a member, with `locale` when `include_locale` is set."""
        user = self.users.get(str(params.get("user", "")))
        if user is None:
            return api_error("user_not_found")
        include_locale = _truthy(params.get("include_locale"))
        return {"ok": True, "user": user.to_slack(include_locale=include_locale)}

    def users_list(self, params: Params) -> Reply:
        """users.list: every member (bots and deactivated ones too) in id order, `limit` at a
        time (all at once without one) with a cursor naming the next member, as Slack's
        `dXNlcjpVMDYx…` is base64 of `user:U061…`; `locale` only with `include_locale`."""
        members = sorted(self.users.values(), key=lambda user: user.id)
        try:
            start = _user_cursor_index(members, params.get("cursor"))
            limit = int(params.get("limit") or 0)
        except ValueError:
            return api_error("invalid_cursor" if params.get("cursor") else "invalid_arguments")
        limit = min(limit, USERS_LIMIT_MAX) if limit > 0 else len(members)
        page, rest = members[start : start + limit], members[start + limit :]
        include_locale = _truthy(params.get("include_locale"))
        cursor = f"{_USER_CURSOR_PREFIX}{rest[0].id}" if rest else ""
        return {
            "ok": True,
            "members": [user.to_slack(include_locale=include_locale) for user in page],
            "cache_ts": int(time.time()),
            "response_metadata": {
                "next_cursor": base64.b64encode(cursor.encode()).decode() if cursor else ""
            },
        }

    def users_lookup_by_email(self, params: Params) -> Reply:
        """users.lookupByEmail: a member found by email, case-insensitively."""
        email = str(params.get("email", "")).lower()
        for user in self.users.values():
            if user.email and user.email.lower() == email:
                return {"ok": True, "user": user.to_slack()}
        return api_error("users_not_found")

    def conversations_open(self, params: Params) -> Reply:
        """conversations.open: the bot's DM with one member, the same id every time."""
        if params.get("channel"):
            return {"ok": True, "channel": {"id": str(params["channel"])}}
        user_ids = [u.strip() for u in str(params.get("users") or "").split(",") if u.strip()]
        if not user_ids:
            return api_error("users_list_not_supplied")
        if len(user_ids) > 1:
            return api_error("invalid_arguments", ["the stand-in opens one-to-one DMs only"])
        user = self.users.get(user_ids[0])
        if user is None:
            return api_error("user_not_found")
        if user.deleted:
            return api_error("user_disabled")
        channel = self.dm_channel(user.id)
        reply: Reply = {"ok": True, "channel": {"id": channel}}
        if channel in self._open_dms:
            reply |= {"no_op": True, "already_open": True}
        if _truthy(params.get("return_im")):
            reply["channel"] |= {"is_im": True, "user": user.id, "created": int(time.time())}
        self._open_dms.add(channel)
        return reply

    def conversations_history(self, params: Params) -> Reply:
        """conversations.history: a channel's messages, newest first, within `oldest`/`latest`
        (exclusive unless `inclusive`), `limit` at a time with `has_more` and a cursor for the
        rest. Like Slack it lists top-level messages only (replies in threads are left to
        conversations.replies) and shows `metadata` only with `include_all_metadata`."""
        channel = str(params.get("channel") or "")
        if self.user_of_dm(channel) is None and not self._channel_messages(channel):
            return api_error("channel_not_found")
        try:
            window = HistoryWindow.from_params(params)
        except Refused as refused:
            return api_error(refused.code)
        found = [m for m in self._channel_messages(channel) if window.holds(_ts_value(m["ts"]))]
        page, rest = found[: window.limit], found[window.limit :]
        return {
            "ok": True,
            "messages": [self._as_listed(m, with_metadata=window.with_metadata) for m in page],
            "has_more": bool(rest),
            "pin_count": 0,
            "response_metadata": {"next_cursor": _encode_cursor(rest[0]["ts"]) if rest else ""},
        }

    def _channel_messages(self, channel: str) -> list[dict[str, Any]]:
        """A channel's top-level messages (not replies in threads), newest first."""
        listed = [
            message
            for (where, ts), message in self._messages.items()
            if where == channel and message.get("thread_ts", ts) == ts
        ]
        return sorted(listed, key=lambda message: _ts_value(message["ts"]), reverse=True)

    @staticmethod
    def _as_listed(message: dict[str, Any], *, with_metadata: bool) -> dict[str, Any]:
        """A stored message as history lists it: a copy, so leaving out `metadata` keeps it
        stored."""
        listed = dict(message)
        if not with_metadata:
            listed.pop("metadata", None)
        return listed

    # -- messages

    def chat_post_message(self, params: Params) -> Reply:
        """chat.postMessage: posts as the bot; a user id as `channel` posts to their DM."""
        channel, problem = self._resolve_channel(params.get("channel"))
        problem = problem or metadata_problem(params.get("metadata"))
        if problem:
            return api_error(problem)
        invalid = message_problems(params)
        if invalid:
            return api_error(*invalid)
        message = self._message(params, ts=self.clock.next())
        self._messages[(channel, message["ts"])] = message
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": message}

    def post_as_member(self, user_id: str, text: str, *, ts: str | None = None) -> str:
        """A member writes in their DM with the bot (as the Slack client would); its ts.

        Events about it are the signed sender's business: this only puts it in the history."""
        channel = self.dm_channel(user_id)
        ts = ts or self.clock.next()
        self._messages[(channel, ts)] = {
            "type": "message",
            "user": user_id,
            "text": text,
            "team": self.team_id,
            "ts": ts,
        }
        return ts

    def chat_post_ephemeral(self, params: Params) -> Reply:
        """chat.postEphemeral: a message only `user` sees; Slack keeps nothing to update."""
        _, problem = self._resolve_channel(params.get("channel"))
        if not problem and not params.get("user"):
            problem = "user_not_in_channel"
        if problem:
            return api_error(problem)
        invalid = message_problems(params)
        if invalid:
            return api_error(*invalid)
        return {"ok": True, "message_ts": self.clock.next()}

    def chat_update(self, params: Params) -> Reply:
        """chat.update: replaces the text, blocks and attachments of a message the bot posted."""
        key = (str(params.get("channel", "")), str(params.get("ts", "")))
        message = self._messages.get(key)
        if message is None:
            return api_error("message_not_found")
        problem = metadata_problem(params.get("metadata"))
        if problem:
            return api_error(problem)
        invalid = message_problems(params)
        if invalid:
            return api_error(*invalid)
        message.update(self._message(params, ts=key[1]))
        message["edited"] = {"user": self.bot_user_id, "ts": self.clock.next()}
        channel, ts = key
        return {
            "ok": True,
            "channel": channel,
            "ts": ts,
            "text": message["text"],
            "message": message,
        }

    def chat_delete(self, params: Params) -> Reply:
        """chat.delete: removes a message the bot posted."""
        key = (str(params.get("channel", "")), str(params.get("ts", "")))
        if self._messages.pop(key, None) is None:
            return api_error("message_not_found")
        return {"ok": True, "channel": key[0], "ts": key[1]}

    def _message(self, params: Params, *, ts: str) -> dict[str, Any]:
        """The message object Slack echoes back for a post or an update."""
        message = {
            "type": "message",
            "text": params.get("text") or "",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "ts": ts,
        }
        for key in ("blocks", "attachments", "thread_ts", "metadata"):
            if params.get(key) is not None:
                message[key] = params[key]
        return message

    # -- views

    def views_open(self, params: Params) -> Reply:
        """views.open and views.push: shows a modal; needs the interaction's trigger_id."""
        if not params.get("trigger_id"):
            return api_error("invalid_arguments", ["[ERROR] missing required field: trigger_id"])
        problems = view_problems(params.get("view")) or self._type_problems(params, "modal")
        if problems:
            return api_error("invalid_arguments", problems)
        return {"ok": True, "view": self._store_view(params["view"])}

    def views_update(self, params: Params) -> Reply:
        """views.update: replaces an open modal found by view_id or external_id."""
        current = self._find_view(params)
        if current is None:
            return api_error("not_found")
        if params.get("hash") and params["hash"] != current["hash"]:
            return api_error("hash_conflict")
        problems = view_problems(params.get("view"))
        if problems:
            return api_error("invalid_arguments", problems)
        return {"ok": True, "view": self._store_view(params["view"], replacing=current)}

    def views_publish(self, params: Params) -> Reply:
        """views.publish: sets a member's App Home tab."""
        user_id = str(params.get("user_id") or "")
        if not user_id:
            return api_error("invalid_arguments", ["[ERROR] missing required field: user_id"])
        problems = view_problems(params.get("view")) or self._type_problems(params, "home")
        if problems:
            return api_error("invalid_arguments", problems)
        current = self._views.get(self._home_view_ids.get(user_id, ""))
        if current and params.get("hash") and params["hash"] != current["hash"]:
            return api_error("hash_conflict")
        view = self._store_view(params["view"], replacing=current)
        self._home_view_ids[user_id] = view["id"]
        return {"ok": True, "view": view}

    def home_view(self, user_id: str) -> dict[str, Any] | None:
        """The App Home view last published for a member."""
        return self._views.get(self._home_view_ids.get(user_id, ""))

    @staticmethod
    def _type_problems(params: Params, kind: str) -> list[str]:
        """views.open/push take modals only, views.publish home views only."""
        if params["view"]["type"] == kind:
            return []
        return [f"[ERROR] this method takes a {kind} view [json-pointer:/view/type]"]

    def _find_view(self, params: Params) -> dict[str, Any] | None:
        """The view views.update names, by view_id or else external_id."""
        if params.get("view_id"):
            return self._views.get(str(params["view_id"]))
        external_id = params.get("external_id")
        matches = [
            v for v in self._views.values() if external_id and v["external_id"] == external_id
        ]
        return matches[-1] if matches else None

    def _store_view(
        self, view: dict[str, Any], *, replacing: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The view as Slack returns it: the caller's fields plus id, hash and app fields."""
        view_id = replacing["id"] if replacing else self._new_id("V")
        stored = {
            **_VIEW_DEFAULTS,
            **view,
            "id": view_id,
            "team_id": self.team_id,
            "hash": f"{time.time():.6f}.{secrets.token_hex(4)}",
            "root_view_id": replacing["root_view_id"] if replacing else view_id,
            "app_id": self.app_id,
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        self._views[view_id] = stored
        return stored

    # -- files

    def files_get_upload_url_external(self, params: Params) -> Reply:
        """files.getUploadURLExternal: a file id and a URL (on the stand-in) to POST bytes to."""
        name, length = params.get("filename"), str(params.get("length", ""))
        if not name or not length.isdigit():
            return api_error("invalid_arguments", ["[ERROR] filename and length are required"])
        stored = StoredFile(id=self._new_id("F"), name=str(name), length=int(length))
        self.files[stored.id] = stored
        return {"ok": True, "upload_url": self._upload_url(stored.id), "file_id": stored.id}

    def store_upload(self, file_id: str, data: bytes) -> bool:
        """Keeps the bytes POSTed to an upload URL; False when no such upload was started."""
        stored = self.files.get(file_id)
        if stored is None:
            return False
        stored.data = data
        return True

    def files_complete_upload_external(self, params: Params) -> Reply:
        """files.completeUploadExternal: finishes uploads and shares them to channels."""
        entries = params.get("files")
        if not isinstance(entries, list) or not entries:
            return api_error("invalid_arguments", ["[ERROR] files must be a JSON array"])
        uploaded = {f.id: f for f in self.files.values() if f.data is not None}
        ids = [str(e.get("id")) if isinstance(e, dict) else "" for e in entries]
        if not all(file_id in uploaded for file_id in ids):
            return api_error("file_not_found")
        channels = [str(params["channel_id"])] if params.get("channel_id") else []
        channels += [c for c in str(params.get("channels") or "").split(",") if c]
        infos = []
        for entry, file_id in zip(entries, ids, strict=True):
            stored = uploaded[file_id]
            stored.title = str(entry.get("title") or stored.name)
            stored.channels = channels
            infos.append(self._file_info(stored))
        return {"ok": True, "files": infos}

    def _file_info(self, stored: StoredFile) -> dict[str, Any]:
        """The file object files.completeUploadExternal answers with."""
        return {
            "id": stored.id,
            "name": stored.name,
            "title": stored.title,
            "mimetype": mimetypes.guess_type(stored.name)[0] or "application/octet-stream",
            "size": len(stored.data or b""),
            "user": self.bot_user_id,
            "created": int(time.time()),
            "channels": stored.channels,
        }
