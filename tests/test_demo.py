"""`okrbot demo` runs the scripted week offline and shows the seed's objectives correctly."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.demo import run_demo


async def test_demo_prints_the_seed_objectives_with_progress(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await run_demo(tmp_path / "demo.db") == 0
    out = capsys.readouterr().out
    assert "Customer Success · 2026-Q4" in out
    assert "KR-1 Increase NPS from 70 to 80\n│ ▓▓▓▓░░░░░░ 40% · 74 points / 80 points" in out
    assert "Increase customer satisfaction — 40% · owner @Maya" in out
    assert "Progres yang diharapkan hari ini: 50%" in out  # Dewi reads Indonesian
    assert "$950 / $1.200" in out
    assert (tmp_path / "demo.db").exists()


async def test_demo_starts_from_a_fresh_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await run_demo(tmp_path / "demo.db")
    await run_demo(tmp_path / "demo.db")
    # The second run created everything again: it did not reuse the first run's rows.
    imported = "imported 1 cycle, 5 teams with 12 members, 4 objectives, 5 key results"
    assert capsys.readouterr().out.count(imported) == 2


async def test_demo_shows_mine_and_kpis(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    await run_demo(tmp_path / "demo.db")
    out = capsys.readouterr().out
    mine = out[out.index("Bob types `/okr mine`") :]
    assert (
        "Hasil kunci Anda" in mine and "Add chat to the mobile app (KR-1) — sedang berjalan" in mine
    )
    kpis = out[out.index("Carol types `/kpi status`") :]
    assert "Average reply time 5.2 h (2026-10) · target 4 h · 🟡 warn" in kpis
    assert "Tickets per month: 1,180 tickets → 1,150 tickets" in kpis


async def test_demo_shows_alices_own_home_tab(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await run_demo(tmp_path / "demo.db")
    out = capsys.readouterr().out
    home = out[out.index("┌ App Home of Alice") :]
    home = home[: home.index("└")]
    assert "Your key results" in home and "KR-1 Increase NPS from 70 to 80" in home
    assert "You don't own any key results" not in home


async def test_demo_shows_the_alignment_tree(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await run_demo(tmp_path / "demo.db")
    out = capsys.readouterr().out
    tree = out[out.index("Maya types `/okr tree`") :]
    tree = tree[: tree.index("└")]
    lines = [line for line in tree.splitlines() if "O-" in line]
    assert len(lines) == 4
    assert "▓▓▓░░░░░░░ 33% · 🟡 at risk · O-" in lines[0]
    assert "Grow a healthy, loved business · Acme · @Maya" in lines[0]
    assert "\u2003\u2003↳ ▓▓▓▓░░░░░░ 40% · 🟡 at risk · O-" in lines[1]
    assert "Increase customer satisfaction · Customer Success · @Maya" in lines[1]
    assert "Make our marketing site convert · Marketing · @Rina" in lines[2]  # teams by name
    assert "Grow revenue from existing customers · Sales · @Maya" in lines[3]
