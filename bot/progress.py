"""OKR and KPI arithmetic (SPEC §2): pure functions, the numbers people check by hand."""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from bot.domain import Direction, ProgressFrom

ON_TRACK_MARGIN = 0.10
AT_RISK_MARGIN = 0.25
LOW_CONFIDENCE = 3
_SPARKS = "▁▂▃▄▅▆▇█"


class KrStatus(StrEnum):
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    OFF_TRACK = "off_track"


class KpiStatus(StrEnum):
    OK = "ok"
    WARN = "warn"
    OFF = "off"


class Trend(StrEnum):
    IMPROVING = "improving"
    WORSENING = "worsening"
    STEADY = "steady"
    UNKNOWN = "unknown"


def kr_progress(start: float, target: float, current: float) -> float:
    """`(current - start) / (target - start)`, unclamped; the same formula for decreasing KRs.

    A KR whose start equals its target is all or nothing: done once current meets the target.
    """
    if math.isclose(start, target, rel_tol=1e-9, abs_tol=1e-12):
        return 1.0 if math.isclose(current, target, rel_tol=1e-9, abs_tol=1e-9) else 0.0
    return (current - start) / (target - start)


def clamp(progress: float) -> float:
    """Progress as a bar shows it: 0 to 1."""
    return min(1.0, max(0.0, progress))


def percent(progress: float) -> int:
    """The whole percent shown to people (half rounds up), clamped to 0–100. A hair of
    tolerance keeps binary fractions honest: (40% + 37.5% + 20%) / 3 shows 33%, as by hand."""
    return math.floor(clamp(progress) * 100 + 0.5 + 1e-9)


def is_exceeded(start: float, target: float, current: float) -> bool:
    """True when a KR has gone past its target in its own direction."""
    return start != target and kr_progress(start, target, current) > 1.0


def cycle_bounds(
    start: dt.date, end: dt.date, tz: dt.tzinfo = dt.UTC
) -> tuple[dt.datetime, dt.datetime]:
    """A cycle runs from `start` 00:00 through the whole of `end`: its first and its end moment."""
    begin = dt.datetime.combine(start, dt.time(), tzinfo=tz)
    return begin, dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=tz)


def expected_progress(start: dt.date, end: dt.date, at: dt.datetime) -> float:
    """Elapsed fraction of a cycle that runs from `start` 00:00 through the whole of `end`."""
    begin, finish = cycle_bounds(start, end, at.tzinfo or dt.UTC)
    total = (finish - begin).total_seconds()
    if total <= 0:
        return 1.0
    return clamp((at - begin).total_seconds() / total)


def kr_status(
    progress: float,
    expected: float,
    *,
    confidence: int | None = None,
    explicit: str | None = None,
) -> KrStatus:
    """Status from progress against expected; an owner's explicit word wins, and a
    confidence of 3/10 or less makes the KR at least at risk."""
    if explicit in KrStatus.__members__.values():
        return KrStatus(explicit)
    progress = clamp(progress)
    if progress >= expected - ON_TRACK_MARGIN:
        status = KrStatus.ON_TRACK
    elif progress >= expected - AT_RISK_MARGIN:
        status = KrStatus.AT_RISK
    else:
        status = KrStatus.OFF_TRACK
    if confidence is not None and confidence <= LOW_CONFIDENCE and status is KrStatus.ON_TRACK:
        return KrStatus.AT_RISK
    return status


def weighted_mean(pairs: Iterable[tuple[float, float]]) -> float | None:
    """Weighted mean of `(progress, weight)` pairs, each progress clamped to 0–1; `None` when
    there is nothing to average (no pairs, or no positive weight)."""
    total = weighted = 0.0
    for progress, weight in pairs:
        total += weight
        weighted += clamp(progress) * weight
    return weighted / total if total > 0 else None


def objective_progress(krs: Iterable[tuple[float, float]]) -> float:
    """§2's objective progress from its KRs' `(progress, weight)`; 0 when it has none."""
    mean = weighted_mean(krs)
    return 0.0 if mean is None else mean


@dataclass(frozen=True)
class Aligned:
    """An objective as the roll-up sees it: where it sits, what it weighs in its parent, what
    its progress comes from, and its KRs' `(progress, weight)`."""

    id: int
    parent_id: int | None
    weight: float = 1.0
    progress_from: str = ProgressFrom.KRS
    krs: tuple[tuple[float, float], ...] = ()


def rollup(objectives: Iterable[Aligned]) -> dict[int, float | None]:
    """Each objective's progress (SPEC §8), `None` when it has nothing to average.

    `krs`: the weighted mean of its KRs; `children`: the weighted mean of the objectives that
    serve it (each by its own `weight`), skipping those with nothing to show; `both`: one
    weighted mean over KRs and children together. Children are computed before their parents
    without recursion, so a tree of any depth is fine; a loop (refused at import) is cut where
    it closes instead of spinning.
    """
    nodes = {node.id: node for node in objectives}
    children: dict[int, list[int]] = defaultdict(list)
    for node in nodes.values():
        if node.parent_id in nodes:
            children[node.parent_id].append(node.id)
    done: dict[int, float | None] = {}
    for root in nodes:
        _rollup_from(root, nodes, children, done)
    return done


def _rollup_from(
    root: int,
    nodes: Mapping[int, Aligned],
    children: Mapping[int, list[int]],
    done: dict[int, float | None],
) -> None:
    """Post-order walk from `root` with an explicit stack, filling `done`."""
    if root in done:
        return
    entered: set[int] = set()
    stack = [root]
    while stack:
        current = stack[-1]
        if current not in entered:
            entered.add(current)
            waiting = [c for c in children.get(current, ()) if c not in done and c not in entered]
            stack.extend(waiting)
            continue
        stack.pop()
        if current not in done:
            done[current] = _own_progress(nodes[current], children.get(current, ()), nodes, done)


def _own_progress(
    node: Aligned,
    child_ids: Iterable[int],
    nodes: Mapping[int, Aligned],
    done: Mapping[int, float | None],
) -> float | None:
    pairs: list[tuple[float, float]] = []
    if node.progress_from in (ProgressFrom.KRS, ProgressFrom.BOTH):
        pairs += node.krs
    if node.progress_from in (ProgressFrom.CHILDREN, ProgressFrom.BOTH):
        for child in child_ids:
            progress = done.get(child)
            if progress is not None:
                pairs.append((progress, nodes[child].weight))
    return weighted_mean(pairs)


def suggested_score(progress: float) -> float:
    """The end-of-cycle score okrbot suggests (SPEC §8): progress clamped to 0–1, rounded to
    one decimal (half up, as people round by hand: 65% suggests 0.7)."""
    return math.floor(clamp(progress) * 10 + 0.5 + 1e-9) / 10


def is_unfinished(progress: float) -> bool:
    """A KR short of its target: what `--carry unfinished` takes into the next cycle."""
    return clamp(progress) < 1.0


def objective_status(progress: float | None, expected: float) -> KrStatus | None:
    """§2's thresholds applied to an objective's progress; none without progress."""
    return None if progress is None else kr_status(progress, expected)


def _better(value: float, than: float, direction: str) -> bool:
    return value >= than if direction == Direction.HIGHER else value <= than


def kpi_status(value: float, *, target: float, warn: float | None, direction: str) -> KpiStatus:
    """`ok` when the value meets the target in its direction, `warn` between target and the
    warn threshold (inclusive), `off` beyond it or when there is no warn threshold."""
    if _better(value, target, direction):
        return KpiStatus.OK
    if warn is not None and _better(value, warn, direction):
        return KpiStatus.WARN
    return KpiStatus.OFF


def trend(values: Sequence[float], direction: str) -> Trend:
    """Whether the last period moved the right way, judged against the one before it.

    Moves smaller than 1% of the earlier value count as steady, so noise is not news.
    """
    if len(values) < 2:
        return Trend.UNKNOWN
    before, last = values[-2], values[-1]
    if math.isclose(last, before, rel_tol=0.01, abs_tol=1e-9):
        return Trend.STEADY
    return Trend.IMPROVING if _better(last, before, direction) else Trend.WORSENING


def sparkline(values: Sequence[float]) -> str:
    """`▁▃▅█` for a series; a flat series is a flat line."""
    if not values:
        return ""
    low, high = min(values), max(values)
    if math.isclose(low, high):
        return _SPARKS[3] * len(values)
    scale = (len(_SPARKS) - 1) / (high - low)
    return "".join(_SPARKS[round((value - low) * scale)] for value in values)


def bar(progress: float, width: int = 10) -> str:
    """A text progress bar, `▓▓▓▓░░░░░░` for 40%."""
    filled = percent(progress) * width // 100
    return "▓" * filled + "░" * (width - filled)
