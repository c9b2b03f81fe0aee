"""`okrbot demo` plays a check-in round: prompts, replies in two languages, confirmations."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.demo import run_demo


async def test_the_demo_runs_a_check_in_round(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await run_demo(tmp_path / "demo.db") == 0
    out = capsys.readouterr().out
    checkin = out[out.index("the Customer Success check-in goes out") :]
    assert "okrbot → DM to Alice" in checkin and "okrbot → DM to Bob" in checkin
    assert "74 points → 76 points · ▓▓▓▓▓▓░░░░ 60% · 🟢 on track" in checkin
    assert "Tercatat dari check-in kamu:" in checkin and "5,2 h → 4,8 h" in checkin
    assert "sedang berjalan → selesai" in checkin
    assert "▓▓▓▓▓▓░░░░ 60% · 76 points / 80 points" in checkin  # /okr status afterwards
