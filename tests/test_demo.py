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
    imported = "imported 2 cycles, 5 teams with 12 members, 4 objectives, 5 key results"
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


async def test_demo_ends_the_quarter(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """December 28: the scoring DMs, a score in English, the suggestion taken in Bahasa
    Indonesia, `/okr score`, Maya's `/okr close` carrying every unfinished KR into 2027-Q1,
    and the retrospective digests with their charts next to the database."""
    await run_demo(tmp_path / "demo.db")
    out = capsys.readouterr().out
    end = out[out.index("Monday 28 December, 2026-Q4's scoring days") :]
    assert "┌ okrbot → DM to Alice\n│ Time to score 2026-Q4" in end
    assert "1. KR-1 Increase NPS from 70 to 80 — 60%, suggested score 0.6" in end
    assert "1. KR-2 Reduce average reply time from 6 h to 4 h — 60%, saran nilai 0,6" in end
    assert "(5 scoring DMs in all: Dewi, Evan and Gita got theirs too)" in end
    assert "KR-1 Increase NPS from 70 to 80: 0.6 — the chat vendor slipped a month" in end
    assert "Nilai dicatat untuk 2026-Q4:\n│ KR-2 Reduce average reply time" in end
    assert "Nilai KR-3 Grow customer lifetime value from $800 to $1,200: 0,4 (saran 0,4)." in end
    assert "│ Carry into 2027-Q1:\n│   ☑ KR-1 Increase NPS from 70 to 80 — 60%" in end
    assert (
        "cycle 2026-Q4 closed: 5 key results frozen (3 scored, 2 at the suggested score); "
        "carried over to 2027-Q1: KR-1 → KR-6, KR-2 → KR-7, KR-3 → KR-8, KR-4 → KR-9, "
        "KR-5 → KR-10"
    ) in end

    retro = end[end.index("The retrospective digests go out") :]
    maya = retro[retro.index("Retrospective · Customer Success · 2026-Q4") :]
    maya = maya[: maya.index("└")]
    assert "2026-Q4 closed on Dec 28, 2026" in maya
    assert "Increase customer satisfaction · ▓▓▓▓▓▓░░░░ 60% · 🔴 off track · score 0.6" in maya
    assert "KR-1 Increase NPS from 70 to 80 · 60% · 🔴 off track · score 0.6 · carried" in maya
    assert "Looking back\n│ KR-1 @Alice: _the chat vendor slipped a month_" in maya
    assert "Carried into 2027-Q1\n│ KR-1 → KR-6 Increase NPS from 70 to 80" in maya
    sales = retro[retro.index("┌ okrbot → #sales") :]
    assert "score 0.4 _(suggested)_ · carried over as KR-9" in sales  # Evan did not score
    assert "KR-3 @Dewi: _the upsell launched late_" in sales
    rina = retro[retro.index("┌ okrbot → DM to Rina") :]
    assert "Retrospektif · Marketing · 2026-Q4" in rina and "nilai 0,2 _(saran)_" in rina
    for team in ("Customer Success", "Sales", "Marketing", "Acme"):
        chart = tmp_path / f"retrospective-{team.lower().replace(' ', '-')}.png"
        assert f"retrospective chart of {team}: {chart}" in out
        assert chart.read_bytes().startswith(b"\x89PNG")
