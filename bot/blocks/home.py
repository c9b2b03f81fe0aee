"""The App Home tab: the user's KRs with *Update* buttons, their initiatives, and their teams'
objectives and KPIs, within the 100-block limit of a view."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.blocks import ids
from bot.blocks.common import context, divider, escape, header, section
from bot.blocks.kpis import kpi_line
from bot.blocks.status import build_status, kr_line
from bot.blocks.updates import initiatives_text
from bot.i18n import t
from bot.services.kpis import KpiView
from bot.services.okrs import KrView, Mine, TeamStatus

MAX_HOME_BLOCKS = 100
_TAIL = 2  # room for the closing note


def _kr_with_button(kr: KrView, locale: str) -> dict[str, Any]:
    block = section(kr_line(kr, locale))
    block["accessory"] = {
        "type": "button",
        "action_id": ids.HOME_UPDATE_KR,
        "text": {"type": "plain_text", "text": t(locale, "Update")},
        "value": str(kr.id),
    }
    return block


def _mine_blocks(mine: Mine, locale: str) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [header(t(locale, "Your key results"))]
    if not mine.key_results:
        blocks.append(section(t(locale, "You don't own any key results in this cycle.")))
    blocks += [_kr_with_button(kr, locale) for kr in mine.key_results]
    if mine.initiatives:
        blocks.append(section(initiatives_text(mine.initiatives, locale)))
    return blocks


def _kpi_blocks(
    kpis: Sequence[KpiView], team_names: Mapping[int, str], locale: str
) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for team_id, name in team_names.items():
        lines = [kpi_line(kpi, locale) for kpi in kpis if kpi.team_id == team_id]
        if lines:
            blocks.append(
                section(
                    "*" + t(locale, "KPIs · {team}", team=escape(name)) + "*\n" + "\n".join(lines)
                )
            )
    return blocks


def build_home(
    mine: Mine,
    statuses: Sequence[TeamStatus],
    kpis: Sequence[KpiView],
    team_names: Mapping[int, str],
    locale: str,
) -> dict[str, Any]:
    """A `home` view for `views.publish`."""
    blocks = _mine_blocks(mine, locale)
    if statuses:
        blocks += [divider(), *build_status(statuses, locale).blocks]
        blocks += _kpi_blocks(kpis, team_names, locale)
    else:
        blocks.append(
            section(t(locale, "You are not in any team yet. Ask your team lead to add you."))
        )
    if len(blocks) > MAX_HOME_BLOCKS - _TAIL:
        blocks = blocks[: MAX_HOME_BLOCKS - _TAIL]
        blocks.append(context(t(locale, "There is more than fits here; use `/okr status TEAM`.")))
    blocks.append(context(t(locale, "Type `/okr help` anywhere to see what okrbot can do.")))
    return {"type": "home", "blocks": blocks}
