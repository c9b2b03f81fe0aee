"""Block Kit as plain text, for the demo's terminal: roughly what a person sees in Slack."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_EMOJI = {
    ":large_green_circle:": "🟢",
    ":large_yellow_circle:": "🟡",
    ":red_circle:": "🔴",
    ":tada:": "🎉",
    ":white_check_mark:": "✅",
    ":warning:": "⚠️",
}
_MENTION = re.compile(r"<@(\w+)>")
_LINK = re.compile(r"<(https?://[^|>]+)\|([^>]+)>")
_BOLD = re.compile(r"\*([^*\n]+)\*")
_ENTITIES = {"&lt;": "<", "&gt;": ">", "&amp;": "&"}


def mrkdwn(text: str, names: Mapping[str, str]) -> str:
    """Slack markup to readable text: mentions become @names, emoji codes become emoji."""
    text = _MENTION.sub(lambda m: "@" + names.get(m.group(1), m.group(1)), text)
    text = _LINK.sub(lambda m: f"{m.group(2)} ({m.group(1)})", text)
    text = _BOLD.sub(r"\1", text)
    for code, emoji in _EMOJI.items():
        text = text.replace(code, emoji)
    for entity, char in _ENTITIES.items():
        text = text.replace(entity, char)
    return text.replace("`", "")


def _text(obj: Any, names: Mapping[str, str]) -> str:
    if isinstance(obj, dict):
        return mrkdwn(str(obj.get("text", "")), names)
    return mrkdwn(str(obj or ""), names)


def _block(block: dict[str, Any], names: Mapping[str, str], width: int) -> list[str]:
    kind = block.get("type")
    if kind == "header":
        title = _text(block["text"], names)
        return ["", title, "═" * min(width, len(title))]
    if kind == "section":
        lines = _text(block.get("text"), names).splitlines()
        lines += ["  " + _text(field, names) for field in block.get("fields", [])]
        return lines
    if kind == "context":
        return ["  " + " ".join(_text(e, names) for e in block.get("elements", []))]
    if kind == "divider":
        return ["─" * width]
    if kind == "actions":
        return ["  " + "  ".join(f"[ {_text(e.get('text'), names)} ]" for e in block["elements"])]
    if kind == "image":
        return [f"  [image: {block.get('alt_text', '')}]"]
    if kind == "input":
        return _input(block, names)
    return [f"  [{kind}]"]


def _input(block: dict[str, Any], names: Mapping[str, str]) -> list[str]:
    """A modal's input: its label, and each checkbox as it is ticked (or a blank field)."""
    element = block.get("element") or {}
    lines = [_text(block.get("label"), names) + ":"]
    if element.get("type") != "checkboxes":
        return [*lines, "  [____________]"]
    ticked = {option.get("value") for option in element.get("initial_options") or []}
    for option in element.get("options") or []:
        box = "☑" if option.get("value") in ticked else "☐"
        lines.append(f"  {box} {_text(option.get('text'), names)}")
    return lines


def render(blocks: list[dict[str, Any]], names: Mapping[str, str], *, width: int = 72) -> str:
    """The blocks of a message or view, one after another, as terminal text."""
    lines: list[str] = []
    for block in blocks:
        lines += _block(block, names, width)
    return "\n".join(lines).strip("\n")
