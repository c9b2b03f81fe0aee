"""The digest chart: a PNG from plain data, whatever the data's shape."""

from __future__ import annotations

import struct

from bot.charts import (
    MAX_BARS,
    MAX_SERIES,
    Bar,
    ChartData,
    Series,
    chart_data,
    digest_chart,
    draw_chart,
)
from bot.progress import KrStatus
from tests.test_digest_blocks import digest, kr

PNG = b"\x89PNG\r\n\x1a\n"


def size(png: bytes) -> tuple[int, int]:
    """Width and height from the PNG's IHDR chunk."""
    return struct.unpack(">II", png[16:24])


def data(bars: int, series: int) -> ChartData:
    return ChartData(
        title="Support: key results and KPIs",
        expected=0.5,
        expected_label="expected today",
        progress_label="progress (%)",
        target_label="target",
        bars=tuple(Bar(f"KR-{n} title", n / 20, KrStatus.ON_TRACK) for n in range(bars)),
        series=tuple(
            Series(f"KPI {n}", ("2026-10", "2026-11"), (1.0, 2.0), 3.0, 2.5 if n else None)
            for n in range(series)
        ),
    )


def test_chart_is_a_png_with_bars_and_series() -> None:
    png = draw_chart(data(bars=5, series=2))
    assert png.startswith(PNG)
    assert size(png) == (1100, 400)


def test_chart_grows_with_its_bars_and_draws_kpis_alone() -> None:
    assert size(draw_chart(data(bars=15, series=0)))[1] > 400
    assert draw_chart(data(bars=0, series=3)).startswith(PNG)


def test_a_digest_with_nothing_to_draw_has_no_chart() -> None:
    assert digest_chart(digest(key_results=(), kpis=()), "en") is None
    assert (digest_chart(digest(key_results=()), "en") or b"").startswith(PNG)


def test_chart_data_from_a_digest_is_capped_and_translated() -> None:
    many = tuple(kr(n, title="x" * 80) for n in range(1, 40))
    chart = chart_data(digest(key_results=many, kpis=digest().kpis * 9), "id")
    assert len(chart.bars) == MAX_BARS and len(chart.series) == MAX_SERIES
    assert all(len(bar.label) <= 38 for bar in chart.bars)
    assert chart.title.startswith("Support")
