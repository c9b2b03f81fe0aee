"""Reading scores (SPEC §8): `0.7 launched late`, `70%`, and a reply to the scoring DM, one
line per KR (`1: 0.7 - launched late`, `2: 80%`) or `as suggested` / `sesuai saran` for every
KR not scored on a line of its own. Pure, and never raises."""

from __future__ import annotations

import re
from dataclasses import dataclass

_SCORE = re.compile(
    r"^(?P<number>\d+(?:[.,]\d+)?|[.,]\d+)\s*(?P<percent>%)?(?:\s*[-–—:]?\s*(?P<note>.*))?$",
    re.DOTALL,
)
_ACCEPT = re.compile(r"^(?:as\s+suggested|sesuai\s+saran)\s*[.!]*$", re.IGNORECASE)
_LINE = re.compile(r"^(?:kr-?)?(?P<n>\d{1,3})\s*[:).=]\s*(?P<rest>.+)$", re.IGNORECASE)
_BULLET = re.compile(r"^[•*\-\s]+")


def read_score(text: str) -> tuple[float, str] | None:
    """`0.7 launched late` / `0,7 - telat` / `70%` / `1` -> the score from 0 to 1 and the note;
    None when the words start with no score, or it lies outside 0–1 (0–100 %)."""
    found = _SCORE.match(text.strip())
    if found is None:
        return None
    number = float(found["number"].replace(",", "."))
    score = number / 100 if found["percent"] else number
    if not 0 <= score <= 1:
        return None
    return round(score, 2), (found["note"] or "").strip()


@dataclass(frozen=True)
class ScoreLine:
    """Item `n` (as numbered in the scoring DM) scored `score`, with a retrospective note."""

    n: int
    score: float
    note: str = ""


@dataclass(frozen=True)
class ScoreReading:
    """What a reply said: scores by line, whether the rest takes the suggestions, and the lines
    it could not read (a number out of range, or no item of that number)."""

    scores: tuple[ScoreLine, ...] = ()
    as_suggested: bool = False
    unread: tuple[str, ...] = ()

    @property
    def read_anything(self) -> bool:
        return bool(self.scores) or self.as_suggested


def read_scores(text: str, count: int) -> ScoreReading:
    """Read a reply against a DM listing `count` KRs; a later line for the same KR wins."""
    scores: dict[int, ScoreLine] = {}
    accept = False
    unread: list[str] = []
    for raw in re.split(r"[\n;]", text):
        line = _BULLET.sub("", raw).strip()
        if not line:
            continue
        if _ACCEPT.match(line):
            accept = True
            continue
        found = _LINE.match(line)
        said = read_score(found["rest"]) if found else None
        if found is None or said is None or not 1 <= int(found["n"]) <= count:
            unread.append(line)
            continue
        n = int(found["n"])
        scores[n] = ScoreLine(n, *said)
    return ScoreReading(tuple(sorted(scores.values(), key=lambda s: s.n)), accept, tuple(unread))
