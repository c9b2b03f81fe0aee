"""A file of many replies for timing the reply reader: `okrbot parse --cases` over it.

    python -m bench.replies --count 10000 --out /tmp/replies.jsonl
    okrbot parse --cases /tmp/replies.jsonl

The replies are the public cases and the project's own, in turn, until `--count` is reached;
each keeps its items and expectation, so the run also says how many were read right.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = (ROOT.parent / "shared" / "parser-cases.jsonl", ROOT / "tests/data/reply_cases.jsonl")


def cases(count: int, sources: tuple[Path, ...] = SOURCES) -> list[dict[str, object]]:
    """`count` cases drawn in turn from the source files, each with an id of its own."""
    pool = [
        json.loads(line)
        for path in sources
        if path.exists()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    if not pool:
        raise SystemExit("no cases to draw from")
    return [
        {**case, "id": f"{case['id']}#{i}"}
        for i, case in zip(range(count), itertools.cycle(pool), strict=False)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    lines = (json.dumps(case, ensure_ascii=False) for case in cases(args.count))
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{args.count} replies written to {args.out}")


if __name__ == "__main__":
    main()
