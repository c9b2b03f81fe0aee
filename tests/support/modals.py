"""Filling in a modal the app opened, the way Slack reports it in `view.state.values`."""

from __future__ import annotations

from typing import Any


def fill(view: dict[str, Any], answers: dict[str, str]) -> dict[str, Any]:
    """`state.values` for `view` with `answers` by block_id (text, user id or option value)."""
    values: dict[str, Any] = {}
    for block in view["blocks"]:
        if block.get("type") != "input":
            continue
        element = block["element"]
        answer = answers.get(block["block_id"])
        if element["type"] == "users_select":
            state = {"selected_user": answer or element.get("initial_user")}
        elif element["type"] == "static_select":
            chosen = answer or element.get("initial_option", {}).get("value")
            state = {"selected_option": {"value": chosen} if chosen else None}
        else:
            state = {"value": answer}
        values[block["block_id"]] = {element["action_id"]: {"type": element["type"], **state}}
    return values
