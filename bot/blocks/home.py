"""The App Home tab: the user's teams' objectives, within the 100-block limit of a view."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.blocks.common import context, header, section
from bot.blocks.status import build_status
from bot.i18n import t
from bot.services.okrs import TeamStatus

MAX_HOME_BLOCKS = 100


def build_home(statuses: Sequence[TeamStatus], locale: str) -> dict[str, Any]:
    """A `home` view for `views.publish`."""
    blocks: list[dict[str, Any]] = [header(t(locale, "Your OKRs"))]
    if not statuses:
        blocks.append(
            section(t(locale, "You are not in any team yet. Ask your team lead to add you."))
        )
    else:
        blocks += build_status(statuses, locale).blocks
    blocks.append(context(t(locale, "Type `/okr help` anywhere to see what okrbot can do.")))
    return {"type": "home", "blocks": blocks[:MAX_HOME_BLOCKS]}
