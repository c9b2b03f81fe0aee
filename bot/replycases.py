"""Check the reply reader against case files (SPEC §7), and show how one reply is read.

A case file holds one JSON object a line: `id`, `locale`, `items` (the numbered items of a
check-in prompt), `text`, and optionally `expect`; beyond SPEC §7, an `expect` may list the
`questions` the reader should ask (each a list of candidates `{n, value}`). `okrbot parse
--cases FILE` prints one result line per case, then `N passed, M failed`; `okrbot parse
--items FILE TEXT` shows one reading.
Pure apart from reading the files it is given.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import cast

from bot.replies import Item, item_from_dict, read_reply, reading_to_dict

VALUE_TOLERANCE = 1e-6


def check_case(case: Mapping[str, object]) -> tuple[bool, dict[str, object]]:
    """(ok, result line) for one case; a case without `expect` only shows what was read."""
    case_id = case.get("id")
    try:
        items = _items(case.get("items"))
        text = case.get("text")
        if not isinstance(text, str):
            raise ValueError("'text' must be a string")
    except (KeyError, TypeError, ValueError) as error:
        return False, {"id": case_id, "ok": False, "error": f"invalid case: {error}"}
    locale = str(case.get("locale") or "en")
    got = reading_to_dict(read_reply(text, items, locale=locale))
    expect = case.get("expect")
    ok = expect is None or (isinstance(expect, Mapping) and _matches(got, expect))
    return ok, {"id": case_id, "ok": ok, "got": got}


def run_cases(path: Path) -> tuple[list[str], int, int]:
    """(JSON lines to print, passed, failed) for every case in a JSON-lines file."""
    lines: list[str] = []
    passed = failed = 0
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip():
            continue
        ok, result = _check_line(raw, number)
        lines.append(json.dumps(result, ensure_ascii=False))
        passed, failed = (passed + 1, failed) if ok else (passed, failed + 1)
    return lines, passed, failed


def read_rate(count: int, seconds: float) -> str:
    """How fast a case file was read: `10000 replies read in 3.21 s: 3115 replies/s`."""
    rate = count / seconds if seconds > 0 else 0.0
    return f"{count} replies read in {seconds:.2f} s: {rate:.0f} replies/s"


def show_reply(items_path: Path, text: str, locale: str) -> str:
    """How one reply is read against the items in a JSON file, as pretty JSON."""
    data = json.loads(items_path.read_text(encoding="utf-8"))
    raw_items = data.get("items") if isinstance(data, Mapping) else data
    reading = read_reply(text, _items(raw_items), locale=locale)
    return json.dumps(reading_to_dict(reading), ensure_ascii=False, indent=2)


def _check_line(raw: str, number: int) -> tuple[bool, dict[str, object]]:
    """A malformed line is a failed case named by its line number, not a crash."""
    try:
        case = json.loads(raw)
    except json.JSONDecodeError as error:
        return False, {"id": f"line {number}", "ok": False, "error": f"invalid JSON: {error}"}
    if not isinstance(case, Mapping):
        return False, {"id": f"line {number}", "ok": False, "error": "a case must be an object"}
    return check_case(case)


def _items(raw: object) -> list[Item]:
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise ValueError("'items' must be a list of items")
    return [item_from_dict(cast(Mapping[str, object], entry)) for entry in raw]


def _matches(got: Mapping[str, object], expect: Mapping[str, object]) -> bool:
    """SPEC §7: the same items updated, each as expected; skip and no_change equal."""
    if got["skip"] != bool(expect.get("skip", False)):
        return False
    if got["no_change"] != bool(expect.get("no_change", False)):
        return False
    found = cast(list[dict[str, object]], got["updates"])
    wanted = cast(list[Mapping[str, object]], expect.get("updates") or [])
    by_n = {update["n"]: update for update in found}
    if len(by_n) != len(found) or set(by_n) != {update.get("n") for update in wanted}:
        return False
    if "questions" in expect and not _questions_match(got["questions"], expect["questions"]):
        return False
    return all(_update_matches(by_n[update.get("n")], update) for update in wanted)


def _questions_match(found: object, wanted: object) -> bool:
    """Where a case gives `questions` (a list of candidate lists), the doubts asked about
    must be those, in order, each candidate with its item and value."""
    found_list = cast(list[dict[str, object]], found)
    wanted_list = cast(list[list[Mapping[str, object]]], wanted)
    if not isinstance(wanted, list) or len(found_list) != len(wanted_list):
        return False
    for question, candidates in zip(found_list, wanted_list, strict=True):
        got = cast(list[dict[str, object]], question["candidates"])
        if len(got) != len(candidates):
            return False
        for one, want in zip(got, candidates, strict=True):
            if one["n"] != want.get("n") or not _value_matches(one.get("value"), want.get("value")):
                return False
    return True


def _update_matches(found: Mapping[str, object], wanted: Mapping[str, object]) -> bool:
    if not _value_matches(found.get("value"), wanted.get("value")):
        return False
    for key in ("confidence", "status"):
        if key in wanted and found.get(key) != wanted[key]:
            return False
    if "note" in wanted:
        note = found.get("note")
        return isinstance(note, str) and str(wanted["note"]).casefold() in note.casefold()
    return True


def _value_matches(found: object, wanted: object) -> bool:
    """Equal to 1e-6; an update expected without a value must have none."""
    if wanted is None or found is None:
        return wanted is None and found is None
    try:
        return abs(float(cast(float, found)) - float(cast(float, wanted))) <= VALUE_TOLERANCE
    except (TypeError, ValueError):
        return False
