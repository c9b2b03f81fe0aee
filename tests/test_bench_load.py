"""`bench.load` end to end with tiny counts on SQLite: every phase runs against a real
`okrbot run --http`, the table comes out, and nothing the app was sent is lost."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TINY = [
    "--backend=sqlite",
    "--teams=1",
    "--updates=20",
    "--statuses=5",
    "--requests=20",
    "--floor-requests=100",
    "--rate=10",
    "--duration=1",
    "--quiet=1",
]


def rows(output: str) -> dict[tuple[str, str], str]:
    """(phase, measure) -> value, from the table's rows."""
    table = [line.split(" | ") for line in output.splitlines() if line.startswith("| sqlite |")]
    return {(cells[1], cells[2]): cells[3] for cells in table}


def test_load_bench_runs_every_phase_and_loses_nothing():
    done = subprocess.run(
        [sys.executable, "-m", "bench.load", *TINY],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| backend | phase | measure | value | SPEC §6 bar |" in done.stdout
    found = rows(done.stdout)
    phases = {phase for phase, _ in found}
    assert {"floor", "burst", "replies", "status", "open"} <= phases, done.stdout
    lost = next(v for (phase, m), v in found.items() if phase == "burst" and m.startswith("lost"))
    assert lost == "0 of 20", done.stdout
    replies = next(v for (p, m), v in found.items() if p == "replies" and "recorded" in m)
    assert replies == "5 of 5", done.stdout
    open_lost = next(v for (p, m), v in found.items() if p == "open" and m.startswith("lost"))
    assert open_lost == "0", done.stdout
