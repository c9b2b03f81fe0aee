"""Case files for the reply reader (SPEC §7): checking, counting, and showing one reply."""

from __future__ import annotations

import json
from pathlib import Path

from bot.replycases import check_case, run_cases, show_reply

ITEMS = [
    {
        "n": 1,
        "kind": "kr",
        "title": "Increase NPS",
        "unit": "points",
        "aliases": ["nps"],
        "last": 72,
    },
    {"n": 2, "kind": "initiative", "title": "Add chat", "aliases": ["chat"], "status": "planned"},
]


def _case(case_id: str, text: str, expect: dict | None = None) -> dict:
    case = {"id": case_id, "locale": "en", "items": ITEMS, "text": text}
    if expect is not None:
        case["expect"] = expect
    return case


def _write(path: Path, cases: list[dict], extra: str = "") -> Path:
    lines = [json.dumps(case) for case in cases]
    path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    return path


def test_a_matching_case_passes_with_what_was_read() -> None:
    expect = {"skip": False, "no_change": False, "updates": [{"n": 1, "value": 74}]}
    ok, line = check_case(_case("a", "nps 74 - waiting on vendor", expect))
    assert ok
    assert line == {
        "id": "a",
        "ok": True,
        "got": {
            "updates": [{"n": 1, "value": 74, "note": "waiting on vendor"}],
            "skip": False,
            "no_change": False,
            "unread": [],
            "questions": [],
        },
    }


def test_values_match_to_a_millionth() -> None:
    expect = {"updates": [{"n": 1, "value": 74.0000001}]}
    assert check_case(_case("a", "1: 74", expect))[0]
    assert not check_case(_case("b", "1: 74", {"updates": [{"n": 1, "value": 74.01}]}))[0]


def test_an_extra_or_missing_update_fails() -> None:
    assert not check_case(_case("a", "1: 74, 2: done", {"updates": [{"n": 1, "value": 74}]}))[0]
    assert not check_case(_case("b", "hello", {"updates": [{"n": 1, "value": 74}]}))[0]


def test_a_value_found_where_none_was_expected_fails() -> None:
    assert not check_case(_case("a", "1: 74", {"updates": [{"n": 1}]}))[0]


def test_notes_match_by_containment_ignoring_case() -> None:
    expect = {"updates": [{"n": 1, "value": 74, "note": "VENDOR"}]}
    assert check_case(_case("a", "nps 74, blocker: waiting on the vendor", expect))[0]
    assert not check_case(_case("b", "nps 74", expect))[0]


def test_confidence_and_status_are_checked_only_where_given() -> None:
    text = "nps 74, conf 8, at risk"
    assert check_case(_case("a", text, {"updates": [{"n": 1, "value": 74}]}))[0]
    assert check_case(_case("b", text, {"updates": [{"n": 1, "value": 74, "confidence": 8}]}))[0]
    wrong = {"updates": [{"n": 1, "value": 74, "status": "on_track"}]}
    assert not check_case(_case("c", text, wrong))[0]


def test_skip_and_no_change_must_be_equal() -> None:
    assert check_case(_case("a", "skip", {"skip": True, "updates": []}))[0]
    assert not check_case(_case("b", "skip", {"skip": False, "updates": []}))[0]
    assert not check_case(_case("c", "no change", {"updates": []}))[0]


def test_a_case_without_expect_is_ok_and_shows_what_was_read() -> None:
    ok, line = check_case(_case("a", "1: 74"))
    assert ok
    assert line["got"]["updates"] == [{"n": 1, "value": 74}]


def test_run_cases_counts_passes_and_failures(tmp_path: Path) -> None:
    cases = [
        _case("good", "1: 74", {"updates": [{"n": 1, "value": 74}]}),
        _case("bad", "1: 74", {"updates": [{"n": 1, "value": 75}]}),
        _case("shown", "chat done"),
    ]
    lines, passed, failed = run_cases(_write(tmp_path / "cases.jsonl", cases))
    assert (passed, failed) == (2, 1)
    results = [json.loads(line) for line in lines]
    assert [(result["id"], result["ok"]) for result in results] == [
        ("good", True),
        ("bad", False),
        ("shown", True),
    ]


def test_run_cases_counts_a_malformed_line_as_failed(tmp_path: Path) -> None:
    path = _write(tmp_path / "cases.jsonl", [_case("good", "1: 74")], extra="{not json\n\n[]\n")
    lines, passed, failed = run_cases(path)
    assert (passed, failed) == (1, 2)
    broken = json.loads(lines[1])
    assert (broken["id"], broken["ok"]) == ("line 2", False)
    assert broken["error"].startswith("invalid JSON")


def test_run_cases_fails_a_case_with_bad_items(tmp_path: Path) -> None:
    case = {"id": "x", "locale": "en", "items": [{"n": 1, "kind": "goal"}], "text": "1: 74"}
    lines, passed, failed = run_cases(_write(tmp_path / "cases.jsonl", [case]))
    assert (passed, failed) == (0, 1)
    assert json.loads(lines[0])["ok"] is False


def test_output_lines_keep_non_ascii_text(tmp_path: Path) -> None:
    lines, _, _ = run_cases(_write(tmp_path / "c.jsonl", [_case("x", "nps 74 - café tutup")]))
    assert "café tutup" in lines[0]


def test_show_reply_reads_a_list_or_an_items_object(tmp_path: Path) -> None:
    listed = tmp_path / "list.json"
    listed.write_text(json.dumps(ITEMS), encoding="utf-8")
    wrapped = tmp_path / "wrapped.json"
    wrapped.write_text(json.dumps({"items": ITEMS}), encoding="utf-8")
    for path in (listed, wrapped):
        shown = json.loads(show_reply(path, "nps 74,5", "id"))
        assert shown["updates"] == [{"n": 1, "value": 74.5}]
    assert "\n  " in show_reply(listed, "skip", "en")
