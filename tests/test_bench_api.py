"""`bench.api` end to end with tiny counts on SQLite: the floor and the pushes run against real
processes, the table comes out, every push is answered and none is lost."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--backend=sqlite", "--teams=1", "--requests=40", "--floor-requests=40"]


def test_api_bench_measures_the_floor_and_the_pushes_and_loses_nothing() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.api", *TINY],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    table = [line.split(" | ") for line in done.stdout.splitlines() if line.startswith("| sqlite")]
    found = {(cells[1], cells[2].split(",")[0]): cells[3] for cells in table}
    assert float(found["floor", "requests answered per second"]) > 0, done.stdout
    rate = found["push", "KPI pushes answered per second"]
    assert float(rate.split()[0]) > 0 and "× floor" in rate, done.stdout
    assert found["push", "errors"] == "0" and found["floor", "errors"] == "0", done.stdout
    assert found["push", "lost (answered 201/200"] == "0 of 80", done.stdout
