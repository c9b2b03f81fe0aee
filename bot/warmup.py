"""What a fresh process would otherwise pay for in its first requests, paid before it serves.

A check-in round's replies arrive together, often minutes after a restart: the first batch of
them should not also load CLDR data and message catalogs, or build the reader's tables.
"""

from __future__ import annotations

from bot.i18n import LOCALES, preload
from bot.replies import Item, read_reply

# One reply that takes the reader through values with separators and scales, confidence,
# a status and a note, and a duration; read once in each language okrbot speaks.
_SAMPLE_ITEMS = (
    Item(n=1, kind="kr", title="Monthly revenue", unit="$", last=1240.5),
    Item(n=2, kind="kpi", title="Net promoter score", aliases=("NPS",), last=70),
    Item(n=3, kind="kpi", title="First reply time", unit="h", last=4),
    Item(n=4, kind="initiative", title="Self-serve onboarding", status="in_progress"),
)
_SAMPLE_REPLY = "1: 1.240,5 rb\nNPS 74, conf 8, blocker: vendor late\n3: 4h 30m\n4: done"


def warm_up() -> None:
    """Load every language's catalog and number data, and read a sample reply in each."""
    for locale in LOCALES:
        preload(locale)
        read_reply(_SAMPLE_REPLY, _SAMPLE_ITEMS, locale=locale)
