"""Cleaning a reply before it is read: Slack markup, odd characters, quoted lines."""

from __future__ import annotations

import unicodedata

from bot.replies.patterns import (
    _BOLD_RE,
    _BULLET_RE,
    _CHANNEL_RE,
    _DASHES,
    _EMOJI_RE,
    _INVISIBLE_RE,
    _ITALIC_RE,
    _LINK_RE,
    _MAX_CHARS,
    _MENTION_RE,
    _SPACES_RE,
    _STRIKE_RE,
)
from bot.replies.words import EMOJI_CHARS, EMOJI_WORDS

# ASCII control characters other than a newline read as a space, as `_clean_char` says.
_ASCII_CONTROLS = {code: " " for code in (*range(32), 127) if code != ord("\n")}


def _clean(text: str) -> str:
    """Slack markup out, Unicode folded: what the person meant to type."""
    text = unicodedata.normalize("NFKC", text[:_MAX_CHARS]).translate(_DASHES)
    text = _INVISIBLE_RE.sub("", text).replace("\u2019", "'").replace("\u2018", "'")
    text = _LINK_RE.sub(lambda m: m.group(2) or m.group(1), text)
    text = _CHANNEL_RE.sub(lambda m: m.group(1) or " ", text)
    text = _MENTION_RE.sub(" ", text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    text = _EMOJI_RE.sub(lambda m: f" {EMOJI_WORDS.get(m.group(1).lower(), '')} ", text)
    if text.isascii():  # most replies: only control characters to blank, done in C
        text = text.translate(_ASCII_CONTROLS)
    else:
        text = "".join(_clean_char(char) for char in text)
    # Struck-through text is what the person took back, so it is dropped, not read.
    text = _STRIKE_RE.sub(" ", text)
    text = _BOLD_RE.sub(r"\1", text)
    text = _ITALIC_RE.sub(r"\1", text).replace("`", " ")
    return text


def _clean_char(char: str) -> str:
    """Emoji that say a status become that word; other pictographs become a space."""
    if char in EMOJI_CHARS:
        return f" {EMOJI_CHARS[char]} "
    return " " if unicodedata.category(char) in ("So", "Cc", "Co", "Cs") and char != "\n" else char


def _lines(text: str) -> list[str]:
    """Non-empty lines, bullets and extra spaces removed; quoted lines (`> ...`) dropped."""
    out = []
    for raw in text.splitlines():
        if raw.lstrip().startswith(">"):
            continue
        line = _SPACES_RE.sub(" ", _BULLET_RE.sub("", raw.strip())).strip()
        if line:
            out.append(line)
    return out
