"""`okrbot demo` ends its week with the managers' digests and leaves the charts to open."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.demo import run_demo


async def test_demo_ends_with_the_digests_and_writes_the_charts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await run_demo(tmp_path / "demo.db") == 0
    out = capsys.readouterr().out
    digests = out[out.index("The week's digests go out") :]
    assert "okrbot → DM to Maya\n│ OKR digest · Customer Success" in digests
    assert "okrbot → DM to Rina\n│ Ringkasan OKR · Support" in digests  # Rina reads Indonesian
    chart = tmp_path / "digest-customer-success.png"
    assert f"chart of Customer Success: {chart}" in digests
    assert chart.read_bytes().startswith(b"\x89PNG")
