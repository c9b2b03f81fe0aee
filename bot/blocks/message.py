"""What every builder returns: blocks plus the plain-text fallback Slack shows in notifications."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Message:
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)

    def as_kwargs(self) -> dict[str, Any]:
        """Arguments for `chat.postMessage`, `respond()` and friends."""
        return {"text": self.text, "blocks": self.blocks}
