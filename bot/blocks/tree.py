"""`/okr tree`: objectives indented under what they serve, with bar, status and owner, cut to
Slack's limits with "…and N more" (SPEC §8)."""

from __future__ import annotations

from collections import deque
from typing import Any

from bot.blocks.common import (
    MAX_BLOCKS,
    MAX_SECTION,
    context,
    escape,
    header,
    kr_status_text,
    mention,
    section,
)
from bot.blocks.message import Message
from bot.i18n import t, tn
from bot.progress import bar, percent
from bot.services.tree import Tree, TreeObjective

# A tree longer than this is not read in Slack: the top levels are shown, then where to look.
MAX_LINES = 100
TITLE_CHARS = 80
_INDENT = "\u2003\u2003"  # em spaces: Slack keeps them at the start of a line
_RESERVED = 3  # header, expected progress, the closing "…and N more"


def _title(text: str) -> str:
    return escape(text if len(text) <= TITLE_CHARS else text[: TITLE_CHARS - 1] + "…")


def objective_line(objective: TreeObjective, depth: int, locale: str) -> str:
    """`↳ ▓▓▓▓░░░░░░ 40% · 🟢 on track · O-3 Title · Team · @owner`, indented by depth."""
    if objective.progress is None:
        measured = f"`{'░' * 10}` —"
    else:
        measured = f"`{bar(objective.progress)}` {percent(objective.progress)}%"
    status = f" · {kr_status_text(objective.status, locale)}" if objective.status else ""
    return (
        f"{_INDENT * depth}{'↳ ' if depth else ''}{measured}{status} · "
        f"`{objective.short_id}` *{_title(objective.title)}* · "
        f"{escape(objective.team_name)} · {mention(objective.owner_id)}"
    )


def _shown(tree: Tree, budget: int) -> set[int]:
    """The objectives that fit, top levels first (breadth first), so a cut tree keeps its top."""
    shown: set[int] = set()
    queue = deque(tree.roots)
    while queue and len(shown) < budget:
        current = queue.popleft()
        shown.add(current)
        queue.extend(tree.children.get(current, ()))
    return shown


def _below(tree: Tree, objective_id: int) -> int:
    count, stack = 0, list(tree.children.get(objective_id, ()))
    while stack:
        count += 1
        stack.extend(tree.children.get(stack.pop(), ()))
    return count


def _lines(tree: Tree, shown: set[int], locale: str) -> list[tuple[str, int]]:
    """(line, objectives on it) in display order: each objective under its parent, and under
    an objective with hidden ones, how many and how to see them."""
    lines: list[tuple[str, int]] = []
    stack = [(root, 0) for root in reversed(tree.roots) if root in shown]
    while stack:
        current, depth = stack.pop()
        lines.append((objective_line(tree.objectives[current], depth, locale), 1))
        kids = tree.children.get(current, ())
        hidden = sum(1 + _below(tree, kid) for kid in kids if kid not in shown)
        if hidden:
            more = t(
                locale,
                "…and {count} more: `/okr tree {ref}`",
                count=hidden,
                ref=tree.objectives[current].short_id,
            )
            lines.append((f"{_INDENT * (depth + 1)}{more}", 0))
        stack.extend((kid, depth + 1) for kid in reversed(kids) if kid in shown)
    return lines


def _pack(lines: list[tuple[str, int]], max_sections: int) -> tuple[list[str], int]:
    """Lines into section texts within Slack's 3,000 characters each; how many objectives
    made it."""
    texts: list[str] = []
    current: list[str] = []
    placed = size = 0
    for line, objectives in lines:
        if current and size + len(line) + 1 > MAX_SECTION:
            if len(texts) + 1 == max_sections:
                break
            texts.append("\n".join(current))
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
        placed += objectives
    if current:
        texts.append("\n".join(current))
    return texts, placed


def build_tree(tree: Tree, locale: str) -> Message:
    """The alignment tree as one ephemeral message within Slack's limits."""
    title = t(locale, "Alignment · {cycle}", cycle=tree.cycle_name) if tree.cycle_name else ""
    blocks: list[dict[str, Any]] = [header(title or t(locale, "Alignment"))]
    if not tree.roots:
        blocks.append(section(t(locale, "No objectives yet for this cycle.")))
        return Message(text=t(locale, "Alignment: no objectives yet"), blocks=blocks)
    blocks.append(
        context(t(locale, "Expected progress today: {percent}%", percent=percent(tree.expected)))
    )
    lines = _lines(tree, _shown(tree, MAX_LINES), locale)
    texts, placed = _pack(lines, MAX_BLOCKS - _RESERVED)
    blocks += [section(text) for text in texts]
    total = tree.size()
    if placed < total:
        blocks.append(
            context(
                t(
                    locale,
                    "…and {count} more. `/okr tree O-n` or `/okr tree TEAM` shows one branch.",
                    count=total - placed,
                )
            )
        )
    text = tn(locale, "Alignment: {count} objective", "Alignment: {count} objectives", total)
    return Message(text=text, blocks=blocks)
