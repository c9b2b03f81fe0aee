"""Block Kit checks the stand-in applies to every message and view it is sent.

Slack refuses malformed blocks (`invalid_blocks` for messages, `invalid_arguments` for views);
checking here makes a test fail where production would. Each check returns a list of problems in
Slack's `response_metadata.messages` style; an empty list means valid.
"""

from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

MESSAGE_BLOCKS_MAX = 50
VIEW_BLOCKS_MAX = 100
MESSAGE_TEXT_MAX = 40_000
MODAL_TEXT_MAX = 24
PRIVATE_METADATA_MAX = 3000
VIEW_ID_MAX = 255
VIEW_TYPES = ("modal", "home")

# Checked on the raw dict as well as by slack_sdk, so these limits hold whatever the sdk models.
_BLOCK_TEXT_MAX = {"section": 3000, "header": 150}

# Block.parse raises these (not SlackObjectFormationError) for missing or mistyped fields,
# e.g. a button without `text` is a TypeError from its constructor.
_PARSE_ERRORS = (SlackObjectFormationError, TypeError, ValueError, KeyError, AttributeError)


def _problem(text: str, pointer: str) -> str:
    """Formats one problem the way Slack reports it."""
    return f"[ERROR] {text} [json-pointer:{pointer}]"


def block_problems(blocks: Any, *, limit: int, pointer: str = "/blocks") -> list[str]:
    """Problems of a `blocks` array: its length, then each block."""
    if not isinstance(blocks, list):
        return [_problem("blocks must be an array", pointer)]
    problems = []
    if len(blocks) > limit:
        problems.append(_problem(f"no more than {limit} items allowed", pointer))
    for index, block in enumerate(blocks):
        problems.extend(_one_block_problems(block, f"{pointer}/{index}"))
    return problems


def _one_block_problems(block: Any, pointer: str) -> list[str]:
    """Problems of one block, as Slack's schema and slack_sdk's models see them."""
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        return [_problem("a block must be an object with a type", pointer)]
    problems = _text_length_problems(block, pointer)
    if problems:
        return problems
    try:
        parsed = Block.parse(block)
        if parsed is None:
            return [_problem(f"unsupported block type {block['type']!r}", pointer)]
        # to_dict() validates nested elements too; validate_json() alone stops at the block.
        rendered = parsed.to_dict()
    except _PARSE_ERRORS as exc:
        return [_problem(str(exc) or type(exc).__name__, pointer)]
    if _has_dropped_element(rendered):
        return [_problem("unsupported element type", pointer)]
    return []


def _text_length_problems(block: dict[str, Any], pointer: str) -> list[str]:
    """The text limits of section and header blocks."""
    limit = _BLOCK_TEXT_MAX.get(block["type"])
    text = block.get("text")
    if limit is None or not isinstance(text, dict):
        return []
    if len(str(text.get("text", ""))) > limit:
        return [_problem(f"must be less than {limit + 1} characters", f"{pointer}/text/text")]
    return []


def _has_dropped_element(value: Any) -> bool:
    """True when slack_sdk parsed an element of unknown type to None (it logs and skips it)."""
    if isinstance(value, list):
        return any(item is None or _has_dropped_element(item) for item in value)
    if isinstance(value, dict):
        return any(_has_dropped_element(item) for item in value.values())
    return False


def message_problems(params: dict[str, Any]) -> tuple[str, list[str]] | None:
    """The Slack error code and problems of a message's text and blocks, or None when valid."""
    text, blocks = params.get("text"), params.get("blocks")
    content = (text, blocks, params.get("markdown_text"), params.get("attachments"))
    if not any(content):
        return "no_text", []
    if text is not None and len(str(text)) > MESSAGE_TEXT_MAX:
        return "msg_too_long", []
    if blocks is None:
        return None
    if not isinstance(blocks, list):
        return "invalid_blocks_format", [_problem("blocks must be a JSON array", "/blocks")]
    problems = block_problems(blocks, limit=MESSAGE_BLOCKS_MAX)
    return ("invalid_blocks", problems) if problems else None


def view_problems(view: Any) -> list[str]:
    """Problems of a modal or App Home view as views.open/push/update/publish receive it."""
    if not isinstance(view, dict):
        return [_problem("view must be an object", "/view")]
    if view.get("type") not in VIEW_TYPES:
        return [_problem(f"type must be one of {', '.join(VIEW_TYPES)}", "/view/type")]
    if "blocks" not in view:
        return [_problem("missing required field: blocks", "/view")]
    problems = block_problems(view["blocks"], limit=VIEW_BLOCKS_MAX, pointer="/view/blocks")
    problems += _view_field_problems(view)
    if view["type"] == "modal":
        problems += _modal_problems(view)
    return problems


def _view_field_problems(view: dict[str, Any]) -> list[str]:
    """Length limits of the view's string fields."""
    limits = {
        "private_metadata": PRIVATE_METADATA_MAX,
        "callback_id": VIEW_ID_MAX,
        "external_id": VIEW_ID_MAX,
    }
    return [
        _problem(f"must be less than {limit + 1} characters", f"/view/{field}")
        for field, limit in limits.items()
        if len(str(view.get(field) or "")) > limit
    ]


def _modal_problems(view: dict[str, Any]) -> list[str]:
    """A modal's title (required), submit and close texts, and its submit when it has inputs."""
    problems = []
    for field in ("title", "submit", "close"):
        label = view.get(field)
        if label is None:
            if field == "title":
                problems.append(_problem("missing required field: title", "/view"))
            continue
        if not isinstance(label, dict) or label.get("type") != "plain_text":
            problems.append(_problem("must be a plain_text object", f"/view/{field}"))
        elif not 0 < len(str(label.get("text", ""))) <= MODAL_TEXT_MAX:
            limit = MODAL_TEXT_MAX + 1
            problems.append(_problem(f"must be less than {limit} characters", f"/view/{field}"))
    blocks = view.get("blocks") or []
    has_input = any(isinstance(b, dict) and b.get("type") == "input" for b in blocks)
    if has_input and view.get("submit") is None:
        problems.append(_problem("submit is required when an input block is present", "/view"))
    return problems
