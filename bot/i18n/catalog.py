"""Finding every translatable message in the source, for `scripts/i18n-update` and the tests."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "handlers", "scheduler", "storage")
# t(locale, msgid, ...), tn(locale, singular, plural, count, ...), N_(msgid)
KEYWORDS = {"t": (2,), "tn": (2, 3), "N_": (1,)}
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def extract() -> Catalog:
    """A catalog of every message id used in okrbot's packages."""
    catalog = Catalog(locale="id", project="okrbot")
    for package in PACKAGES:
        for filename, lineno, message, _comments, context in extract_from_dir(
            ROOT / package, method_map=[("**.py", "python")], keywords=KEYWORDS
        ):
            catalog.add(message, None, [(f"{package}/{filename}", lineno)], context=context)
    return catalog


def placeholders(text: str) -> set[str]:
    """`{name}` fields a message uses: a translation must use exactly the same ones."""
    return set(_PLACEHOLDER.findall(text))
