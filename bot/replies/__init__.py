"""Read a member's free-text check-in reply into item updates.

The check-in DM lists a member's items numbered (KRs, KPIs, initiatives) and people answer in
free text, in English or Bahasa Indonesia. `read_reply` turns such a reply into a `Reading`: the
updates it is sure of, whether the person skipped the week or confirmed that nothing changed, and
the fragments it could not read, which the bot shows back, and the questions it would ask:
likely readings it is not sure of, each with its candidates (SPEC §5), recorded only once
the member picks one. It is pure (no Slack, no database, no
I/O), never raises, and never records a value from a fragment it is unsure about.

How a reply is read:

1. Slack markup is stripped and the text normalised (`_clean`); quoted lines are dropped.
2. Each line is searched for *anchors*, references to an item: numbered (`1:`, `#1`, `(1)`,
   `item 1`) or by words (aliases, the title, distinctive title words). Text inside a note is
   not searched, so `waiting on the chat vendor` does not name the chat item.
3. The text after an anchor, up to the next one, is its *segment*: a note is split off
   (`blocker: ...`, ` - ...`, `because ...`), then dates, confidence, status and the value are
   taken from the rest.
4. A line without anchors is a message-level phrase (`skip`, `no change`), a continuation (a
   note or confidence for the item of the line above), or, when the member has one KR/KPI, a
   bare value for it. Anything else goes to `unread`.

The modules, in the order a reply meets them: `model` (items, updates, readings), `words`
(the phrase tables) and `patterns` (regular expressions built from them), `cleaning`, `index`
(how replies may name each item), `anchors`, `segments`, `notes`, `confidence` (with status
and "same"), `values`, and `assembly`, which puts a reply together. Only this module's names
are for the rest of okrbot.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import cast

from bot.i18n import normalize_locale
from bot.replies.assembly import _read
from bot.replies.model import ITEM_KINDS, Item, ItemKind, ItemUpdate, Question, Reading

__all__ = [
    "Item",
    "ItemKind",
    "ItemUpdate",
    "Question",
    "Reading",
    "item_from_dict",
    "read_reply",
    "reading_to_dict",
]


def read_reply(text: str, items: Sequence[Item], *, locale: str = "en") -> Reading:
    """Read a check-in reply against the member's numbered items; never raises."""
    try:
        return _read(text if isinstance(text, str) else "", items, normalize_locale(locale))
    # SPEC §6: any input returns a result. Fuzzing finds no exception; this is the last guard,
    # so one unforeseen text costs that person a "could not read", not the whole DM handler.
    except Exception:  # noqa: BLE001
        rest = text.strip() if isinstance(text, str) else ""
        return Reading(updates=(), unread=(rest,) if rest else ())


def item_from_dict(data: Mapping[str, object]) -> Item:
    """Build an `Item` from the JSON shape of the parser cases' `items`."""
    kind = str(data["kind"])
    if kind not in ITEM_KINDS:
        raise ValueError(f"unknown item kind: {kind!r}")
    aliases = data.get("aliases") or ()
    last = data.get("last")
    return Item(
        n=int(cast(int, data["n"])),
        kind=cast(ItemKind, kind),
        title=str(data.get("title") or ""),
        unit=str(data.get("unit") or ""),
        aliases=tuple(str(alias) for alias in cast(Iterable[object], aliases)),
        last=None if last is None else float(cast(float, last)),
        status=None if data.get("status") is None else str(data["status"]),
    )


def reading_to_dict(reading: Reading) -> dict[str, object]:
    """A `Reading` as JSON-ready data; an update lists only the fields that are set, and
    `same` (the items said to be unchanged on their own) is there only when there are some."""
    data: dict[str, object] = {
        "updates": [_update_to_dict(update) for update in reading.updates],
        "skip": reading.skip,
        "no_change": reading.no_change,
        "unread": list(reading.unread),
        "questions": [_question_to_dict(question) for question in reading.questions],
    }
    if reading.same:
        data["same"] = list(reading.same)
    return data


def _question_to_dict(question: Question) -> dict[str, object]:
    """A doubt as JSON data: the fragment, and each reading it could have."""
    return {
        "text": question.text,
        "candidates": [_update_to_dict(candidate) for candidate in question.candidates],
    }


def _update_to_dict(update: ItemUpdate) -> dict[str, object]:
    """An update as JSON data; whole values print without `.0`."""
    out: dict[str, object] = {"n": update.n}
    if update.value is not None:
        value = update.value
        out["value"] = int(value) if value.is_integer() and abs(value) < 1e15 else value
    for key in ("confidence", "status", "note"):
        if getattr(update, key) is not None:
            out[key] = getattr(update, key)
    return out
