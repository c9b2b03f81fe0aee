"""Questions about a check-in reply (SPEC §5): one message per doubt in the reply's thread,
a button per candidate reading and one for "No"; and what stands in its place once answered.
Pure builders: `build_question` / `parse_pick` are a pair (what a button records travels in its
value, so a tap needs nothing stored beside the reply)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from bot.blocks import ids
from bot.blocks.checkin import change_line, refusal_line, undo_button
from bot.blocks.common import amount, clip, context, escape, section
from bot.blocks.message import Message
from bot.i18n import t
from bot.replies import ItemKind
from bot.services.checkins import Answered, Ask, Choice

_BUTTON_TEXT = 75
_FRAGMENT = 150
_NOTE = 500


@dataclass(frozen=True)
class Pick:
    """A tap on a question's button: which question, and the choice (None for "No")."""

    reply_id: int
    question: int
    text: str
    choice: Choice | None
    version: int = 0


def build_question(ask: Ask, locale: str) -> Message:
    """`Is 71 points for *NPS*?` [Yes] [No], or a button per candidate when there are several."""
    fragment = escape(ask.text[:_FRAGMENT])
    first = ask.choices[0]
    if len(ask.choices) == 1:
        text = t(
            locale,
            "Is {value} for *{item}*? You wrote “{text}”.",
            value=_amount(first, locale),
            item=escape(first.title),
            text=fragment,
        )
        labels = [t(locale, "Yes")]
        none = t(locale, "No")
    elif len({(c.kind, c.ref_id) for c in ask.choices}) == 1:
        text = t(
            locale,
            "Which value is for *{item}*? You wrote “{text}”.",
            item=escape(first.title),
            text=fragment,
        )
        labels = [_amount(choice, locale) for choice in ask.choices]
        none = t(locale, "None of these")
    else:
        text = t(locale, "Which item is “{text}” about?", text=fragment)
        labels = [f"{c.title}: {_amount(c, locale)}" for c in ask.choices]
        none = t(locale, "None of these")
    buttons = [
        _button(action_id, label, _choice_value(ask, choice))
        for action_id, label, choice in zip(ids.CHECKIN_PICKS, labels, ask.choices, strict=False)
    ]
    buttons.append(_button(ids.CHECKIN_NONE, none, _none_value(ask)))
    plain = text.replace("*", "")
    return Message(text=plain, blocks=[section(text), {"type": "actions", "elements": buttons}])


def parse_pick(value: str) -> Pick | None:
    """The tap a button's value describes; None for a value okrbot did not write."""
    try:
        data = json.loads(value)
        reply_id, question, text = int(data["r"]), int(data["q"]), str(data.get("x") or "")
        version = int(data.get("e") or 0)
        choice = _choice(data, reply_id, question, version) if "k" in data else None
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return Pick(reply_id, question, text, choice, version)


def build_answered(answered: Answered, pick: Pick, locale: str) -> Message:
    """What replaces a question once tapped: what was recorded (with *Undo*), or that nothing
    was; in the member's language."""
    if answered.outcome == "declined":
        text = t(locale, "OK, I recorded nothing of “{text}”.", text=escape(pick.text))
        return Message(text=text, blocks=[section(text)])
    if answered.outcome == "stale":
        text = t(
            locale,
            "You edited that reply since, so I recorded nothing from this question; "
            "answer the one under your edit instead.",
        )
        return Message(text=text, blocks=[section(text)])
    refused = [refusal_line(refusal, locale) for refusal in answered.refused]
    if not answered.changes:
        text = "\n".join(refused) or t(locale, "Nothing to record.")
        return Message(text=text, blocks=[section(text)])
    lines = [t(locale, "Recorded from your answer:")]
    lines += [change_line(change, locale) for change in answered.changes]
    blocks = [section("\n".join(lines)), *(context(line) for line in refused)]
    blocks.append(undo_button(answered.reply_id, locale))
    return Message(text=lines[0], blocks=blocks)


def _amount(choice: Choice, locale: str) -> str:
    return amount(choice.value, choice.unit, locale) if choice.value is not None else "—"


def _button(action_id: str, label: str, value: str) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": clip(label, _BUTTON_TEXT)},
        "value": value,
    }


def _none_value(ask: Ask) -> str:
    data = {"r": ask.reply_id, "q": ask.question, "e": ask.version, "x": ask.text[:_FRAGMENT]}
    return json.dumps(data, ensure_ascii=False)


def _choice_value(ask: Ask, choice: Choice) -> str:
    data = {
        "r": ask.reply_id,
        "q": ask.question,
        "e": ask.version,
        "x": ask.text[:_FRAGMENT],
        "k": choice.kind,
        "i": choice.ref_id,
        "t": choice.title[:_BUTTON_TEXT],
        "u": choice.unit,
        "v": choice.value,
        "c": choice.confidence,
        "s": choice.status,
        "o": choice.note[:_NOTE] if choice.note else None,
    }
    set_ = {key: value for key, value in data.items() if value is not None}
    return json.dumps(set_, ensure_ascii=False)


def _choice(data: Mapping[str, Any], reply_id: int, question: int, version: int) -> Choice:
    kind = str(data["k"])
    if kind not in ("kr", "kpi", "initiative"):
        raise ValueError(kind)
    value = data.get("v")
    confidence = data.get("c")
    return Choice(
        reply_id=reply_id,
        question=question,
        kind=cast(ItemKind, kind),
        ref_id=int(data["i"]),
        title=str(data.get("t") or ""),
        unit=str(data.get("u") or ""),
        value=None if value is None else float(value),
        confidence=None if confidence is None else int(confidence),
        status=None if data.get("s") is None else str(data["s"]),
        note=None if data.get("o") is None else str(data["o"]),
        version=version,
    )
