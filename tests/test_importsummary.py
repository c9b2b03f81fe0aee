"""What `okrbot import` says it did: counted nouns a person would write, in their language."""

from __future__ import annotations

from collections import Counter

from bot.importsummary import describe_import
from bot.services.imports import ImportReport

SEED_COUNTS = {
    "workspace": 1,
    "person": 9,
    "cycle": 1,
    "team": 4,
    "membership": 11,
    "objective": 3,
    "key_result": 5,
    "initiative": 2,
    "kpi": 7,
    "measurement": 18,
}


def report(created: dict[str, int] | None = None, updated: dict[str, int] | None = None):
    return ImportReport(created=Counter(created or {}), updated=Counter(updated or {}))


def test_a_first_import_reads_like_a_sentence() -> None:
    assert describe_import(report(SEED_COUNTS), "en") == (
        "imported 1 cycle, 4 teams with 11 members, 3 objectives, 5 key results, "
        "2 initiatives, 7 KPIs with 18 values, 9 people"
    )


def test_singulars_and_what_was_updated() -> None:
    text = describe_import(
        report({"team": 1, "membership": 1, "kpi": 1, "measurement": 1}, {"key_result": 2}), "en"
    )
    assert text == "imported 1 team with 1 member, 1 KPI with 1 value; updated 2 key results"


def test_children_without_their_parents_name_what_they_belong_to() -> None:
    text = describe_import(report({"measurement": 3}, {"membership": 2, "person": 1}), "en")
    assert text == "imported 3 KPI values; updated 2 team members, 1 person"


def test_indonesian() -> None:
    assert describe_import(report(SEED_COUNTS), "id") == (
        "diimpor 1 siklus, 4 tim dengan 11 anggota, 3 objektif, 5 hasil kunci, "
        "2 inisiatif, 7 KPI dengan 18 nilai, 9 orang"
    )
    assert describe_import(report(), "id") == (
        "tidak ada yang diubah; basis data sudah sesuai dengan berkas"
    )


def test_nothing_to_change() -> None:
    assert describe_import(report(), "en") == (
        "nothing to change; the database already matches the file"
    )
