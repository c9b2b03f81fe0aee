"""Read a member's free-text check-in reply into item updates.

The check-in DM lists a member's items numbered (KRs, KPIs, initiatives) and people answer in
free text, in English or Bahasa Indonesia. `read_reply` turns such a reply into a `Reading`: the
updates it is sure of, whether the person skipped the week or confirmed that nothing changed, and
the fragments it could not read, which the bot shows back. It is pure (no Slack, no database, no
I/O), never raises, and never records a value from a fragment it is unsure about.

How a reply is read:

1. Slack markup is stripped and the text normalised (`_clean`); quoted lines are dropped.
2. Each line is searched for *anchors*, references to an item: numbered (`1:`, `#1`, `(1)`,
   `item 1`) or by words (aliases, the title, distinctive title words). Text inside a note is
   not searched, so `waiting on the chat vendor` does not name the chat item.
3. The text after an anchor, up to the next one, is its *segment*: a note is split off
   (`blocker: ...`, ` - ...`, `because ...`), then dates, confidence, status and the value are
   taken from the rest.
4. A line without anchors is a message-level phrase (`skip`, `no change`), a continuation (a
   note or confidence for the item of the line above), or, when the member has one KR/KPI, a
   bare value for it. Anything else goes to `unread`.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from itertools import pairwise
from typing import Literal, cast

from babel import Locale
from babel.numbers import NumberFormatError, parse_decimal

from bot.i18n import cldr_locale, normalize_locale

ItemKind = Literal["kr", "kpi", "initiative"]
ITEM_KINDS: tuple[str, ...] = ("kr", "kpi", "initiative")
KR_STATUSES: tuple[str, ...] = ("on_track", "at_risk", "off_track")
INITIATIVE_STATUSES: tuple[str, ...] = ("planned", "in_progress", "done", "dropped")


@dataclass(frozen=True, slots=True)
class Item:
    """One numbered line of the check-in prompt: what a reply may update."""

    n: int
    kind: ItemKind
    title: str
    unit: str = ""
    aliases: tuple[str, ...] = ()
    last: float | None = None  # previous value (kr/kpi)
    status: str | None = None  # initiatives: planned | in_progress | done | dropped


@dataclass(frozen=True, slots=True)
class ItemUpdate:
    """What a reply says about one item; unset fields were not mentioned."""

    n: int
    value: float | None = None
    confidence: int | None = None
    status: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Reading:
    """Everything read from one reply, plus the fragments that could not be read."""

    updates: tuple[ItemUpdate, ...]
    skip: bool = False
    no_change: bool = False
    unread: tuple[str, ...] = ()


# ---------------------------------------------------------------------------------------------
# Word tables (English and Bahasa Indonesia). Phrases are lower case; a space also matches a
# hyphen, so "on track" reads "on-track" too. Longer phrases win over their parts.
# ---------------------------------------------------------------------------------------------

KR_STATUS_WORDS: dict[str, str] = {
    **dict.fromkeys((
        "on track", "ontrack", "on target", "on schedule", "on plan", "ahead", "ahead of schedule",
        "ahead of plan", "not at risk", "green",
        "aman", "aman terkendali", "sesuai jalur", "sesuai target", "sesuai rencana",
        "sesuai jadwal", "lancar", "tidak berisiko", "hijau",
    ), "on_track"),
    **dict.fromkeys((
        "at risk", "risky", "behind", "slightly behind", "a bit behind", "behind schedule",
        "amber", "yellow",
        "berisiko", "beresiko", "ada risiko", "rawan", "tertinggal", "agak tertinggal", "kuning",
    ), "at_risk"),
    **dict.fromkeys((
        "off track", "offtrack", "not on track", "way behind", "far behind", "well behind", "red",
        "meleset", "tidak sesuai jalur", "keluar jalur", "jauh tertinggal", "merah",
    ), "off_track"),
}  # fmt: skip

# None: recognised (so "not done" never reads as "done") but too vague to set a status.
INITIATIVE_STATUS_WORDS: dict[str, str | None] = {
    **dict.fromkeys((
        "done", "finished", "complete", "completed", "shipped", "launched", "released",
        "delivered", "went live", "is live", "now live", "live now",
        "selesai", "sudah selesai", "udah selesai", "beres", "kelar", "rampung", "tuntas",
        "dirilis", "sudah rilis", "udah rilis", "diluncurkan", "sudah live", "udah live",
    ), "done"),
    **dict.fromkeys((
        "in progress", "inprogress", "on progress", "ongoing", "on going", "started", "kicked off",
        "begun", "underway", "under way", "wip", "working on it", "almost done", "nearly done",
        "berjalan", "sedang berjalan", "masih berjalan", "lagi jalan", "dikerjakan",
        "sedang dikerjakan", "lagi dikerjakan", "dalam proses", "sedang proses", "sudah mulai",
        "dimulai", "hampir selesai",
    ), "in_progress"),
    **dict.fromkeys((
        "planned", "not started", "not started yet", "todo", "to do", "backlog",
        "direncanakan", "rencana", "belum mulai", "belum dimulai",
    ), "planned"),
    **dict.fromkeys((
        "dropped", "cancelled", "canceled", "abandoned", "scrapped", "descoped", "de scoped",
        "batal", "dibatalkan", "tidak jadi", "gak jadi", "ga jadi", "nggak jadi",
    ), "dropped"),
    **dict.fromkeys((
        "not done", "not done yet", "not finished", "not complete", "belum selesai", "go live",
        "belum rilis",
    ), None),
}  # fmt: skip

# Said about one item: "no update for it" (not a value, not unread).
SAME_WORDS: tuple[str, ...] = (
    "same", "the same", "same as last week", "same as before", "same as last time",
    "unchanged", "no change", "no changes", "not changed", "no update", "no updates",
    "nothing new", "n/a", "na", "tbd", "skip", "skipped", "idem", "ditto",
    "sama", "masih sama", "sama saja", "sama aja", "tetap", "tetap sama", "tidak berubah",
    "belum berubah", "tidak ada perubahan", "belum ada perubahan", "lewati", "lewat",
    "belum ada update",
)  # fmt: skip

SKIP_WORDS: tuple[str, ...] = ("skip", "skipping", "skipped", "lewati", "lewatin", "lewatkan")
SKIP_PHRASES: tuple[str, ...] = ("lewat minggu ini", "lewat dulu", "lewat aja", "lewat saja")
SKIP_NEGATIONS: tuple[str, ...] = ("don't", "dont", "do not", "not", "no", "jangan", "tidak", "ga")

# Anywhere in a line without item references: the member confirms last week's values.
NO_CHANGE_PHRASES: tuple[str, ...] = (
    "no change", "no changes", "nothing changed", "nothing has changed", "nothing new",
    "no update", "no updates", "no progress", "unchanged", "same as last week",
    "same as before", "same as last time", "all the same", "everything the same",
    "still the same", "all same", "everything is the same",
    "tidak ada perubahan", "tdk ada perubahan", "belum ada perubahan", "blm ada perubahan",
    "ga ada perubahan", "gak ada perubahan", "nggak ada perubahan", "tak ada perubahan",
    "tidak berubah", "belum berubah", "sama seperti minggu lalu", "sama kayak minggu lalu",
    "sama dengan minggu lalu", "tetap sama", "semua sama", "masih sama semua",
    "belum ada update", "tidak ada update", "ga ada update", "gak ada update",
)  # fmt: skip
# Short words that mean "no change" only when they are (nearly) the whole line.
NO_CHANGE_SHORT: tuple[str, ...] = ("same", "sama", "tetap", "idem", "ditto", "as is", "masih sama")
NO_CHANGE_FRAME: tuple[str, ...] = (
    "all", "everything", "still", "semua", "semuanya", "masih", "aja", "saja", "ya", "dulu",
    "this week", "minggu ini", "for now", "as last week", "seperti minggu lalu",
)  # fmt: skip

# Lines that carry no information; not worth showing back when something else was read.
COURTESY_WORDS: tuple[str, ...] = (
    "hi", "hello", "hey", "hai", "halo", "hallo", "morning", "good morning", "pagi",
    "selamat pagi", "siang", "sore", "thanks", "thank you", "thx", "ty", "cheers", "terima kasih",
    "makasih", "trims", "tq", "ok", "okay", "oke", "sip", "noted", "here you go", "update",
    "updates", "my update", "update saya", "update minggu ini", "this week", "minggu ini",
)  # fmt: skip

CONFIDENCE_WORDS: tuple[str, ...] = (
    "confidence", "confident", "conf", "keyakinan", "yakin", "kepercayaan", "percaya diri",
    "tingkat keyakinan",
)  # fmt: skip

# A label before a note ("blocker: ..."); the label itself is not kept.
NOTE_LABELS: tuple[str, ...] = (
    "blocker", "blockers", "blocked", "blocking", "note", "notes", "nb", "issue", "issues",
    "problem", "problems", "comment", "comments", "impediment", "impediments",
    "kendala", "kendalanya", "hambatan", "hambatannya", "catatan", "masalah", "masalahnya",
    "isu", "ket", "keterangan",
)  # fmt: skip
# Words that start a note and belong to it ("waiting on the vendor").
NOTE_WORDS: tuple[str, ...] = (
    "blocked", "blocker", "blockers", "waiting", "still waiting", "awaiting", "pending",
    "because", "bc", "due to", "depends on", "dependent on", "stuck", "delayed", "slipped",
    "slipping", "on hold", "but", "however", "karena", "krn", "soalnya", "gara gara", "gara2",
    "sebab", "menunggu", "nunggu", "masih nunggu", "tertahan", "terkendala", "terhambat",
    "tergantung", "akibat", "terlambat", "telat", "tertunda", "ditunda", "tapi", "tetapi",
    "namun",
)  # fmt: skip
# Words that start a note but may first carry a status: "but at risk because ...".
NOTE_CONJUNCTIONS: tuple[str, ...] = ("but", "however", "tapi", "tetapi", "namun")
# "No blockers" is not a blocker.
NO_BLOCKER_PHRASES: tuple[str, ...] = (
    "no blocker", "no blockers", "no issues", "no issue", "no problems", "nothing blocking",
    "no blocking issues", "tidak ada kendala", "tdk ada kendala", "ga ada kendala",
    "gak ada kendala", "nggak ada kendala", "tanpa kendala", "tidak ada hambatan",
    "tanpa hambatan", "tidak ada masalah", "ga ada masalah", "gak ada masalah",
)  # fmt: skip
NO_BLOCKER_NOTES: tuple[str, ...] = (
    "none", "nothing", "no", "nope", "nil", "n/a", "na", "-", "tidak ada", "tdk ada", "ga ada",
    "gak ada", "nggak ada", "enggak ada", "belum ada", "aman", "nihil",
)  # fmt: skip

# Words that may stand between an item's name and its value, or around a bare value.
FILLER_WORDS: frozenset[str] = frozenset((
    "is", "are", "was", "were", "be", "been", "now", "currently", "current", "at", "about",
    "around", "approx", "approximately", "roughly", "nearly", "it", "it's", "its", "we", "we're",
    "our", "my", "the", "a", "of", "for", "to", "from", "on", "in", "this", "week", "today", "so",
    "far", "still", "already", "just", "finally", "only", "hit", "reached", "reach", "got", "get",
    "went", "landed", "ended", "stands", "sits", "sitting", "value", "values", "number", "total",
    "latest", "update", "updated", "ok", "okay", "yes", "here", "right", "and", "with", "level",
    "last", "prev", "previous", "new", "sekarang", "saat", "ini", "kini", "jadi", "menjadi",
    "udah", "sudah", "baru", "akhirnya", "masih", "hanya", "cuma", "di", "ke", "dari", "angka",
    "nilai", "sekitar", "kira", "kurang", "lebih", "minggu", "hari", "pada", "per", "untuk",
    "yang", "nya", "tercapai", "mencapai", "capai", "sampai", "ya", "oke", "sih", "kok", "deh",
    "dong", "aja", "saja", "dan", "dengan", "posisi", "berada", "terbaru", "update", "terakhir",
    "sebelumnya",
))  # fmt: skip
# Between two values: "from 72 to 74" reads 74.
TARGET_CONNECTORS: tuple[str, ...] = ("to", "ke", "jadi", "menjadi", "sampai", "hingga", "now")
# Between a value and a second one, these make the second the old value: "74 (was 72)".
PREVIOUS_MARKERS: frozenset[str] = frozenset((
    "from", "was", "vs", "versus", "previously", "previous", "prev", "last", "compared",
    "dari", "sebelumnya", "kemarin", "lalu", "dibanding", "dibandingkan",
))  # fmt: skip
# A value said with these is a forecast or a range, not where the item stands now.
FORECAST_WORDS: tuple[str, ...] = (
    "will", "would", "should", "could", "expect", "expected", "expecting", "forecast",
    "projected", "projection", "aim", "aiming", "hope", "hopefully", "planning", "next week",
    "next month", "next quarter", "by end of", "between",
    "akan", "diharapkan", "harapannya", "proyeksi", "perkiraan", "diperkirakan", "minggu depan",
    "bulan depan", "kuartal depan", "antara",
)  # fmt: skip
# Right before a value, these make it a change, not a level: "up 2" is not 2.
RELATIVE_WORDS: frozenset[str] = frozenset((
    "up", "down", "by", "naik", "turun", "sebesar", "sebanyak", "plus", "minus", "bertambah",
    "berkurang", "grew", "fell", "rose", "gained", "lost", "improved", "dropped", "increased",
    "decreased",
))  # fmt: skip
# "All" in a continuation line: its confidence or status is for every KR/KPI read.
ALL_WORDS: tuple[str, ...] = ("all", "overall", "everything", "semua", "semuanya", "keseluruhan")

MONTHS: tuple[str, ...] = (
    "jan", "january", "januari", "feb", "february", "februari", "mar", "march", "maret", "apr",
    "april", "may", "mei", "jun", "june", "juni", "jul", "july", "juli", "aug", "august", "agu",
    "agt", "agustus", "sep", "sept", "september", "oct", "october", "okt", "oktober", "nov",
    "november", "nopember", "dec", "december", "des", "desember",
)  # fmt: skip
DATE_KEYWORDS: tuple[str, ...] = (
    "due", "by", "on", "until", "till", "before", "after", "since", "deadline", "eta", "as of",
    "from", "tgl", "tanggal", "sampai", "hingga", "sebelum", "sesudah", "setelah", "sejak",
    "mulai", "pada", "per", "target",
)  # fmt: skip

CURRENCY_WORDS: tuple[str, ...] = (
    "usd",
    "idr",
    "rupiah",
    "rp",
    "dollar",
    "dollars",
    "eur",
    "euro",
    "euros",
    "sgd",
    "gbp",
)
RUPIAH_MARKS: tuple[str, ...] = ("rp", "rp.", "idr", "rupiah")
PERCENT_WORDS: tuple[str, ...] = ("%", "persen", "percent", "pct")
APPROXIMATE_SUFFIXES: tuple[str, ...] = ("an", "ish")  # "1.200an", "1200-ish": about that
MULTIPLIERS: dict[str, Decimal] = {
    **dict.fromkeys(("k", "rb", "ribu", "rebu", "thousand"), Decimal(10) ** 3),
    **dict.fromkeys(("jt", "juta", "mio", "mn", "million"), Decimal(10) ** 6),
    **dict.fromkeys(("b", "bn", "billion", "miliar", "milyar"), Decimal(10) ** 9),
    **dict.fromkeys(("triliun", "trillion", "tn"), Decimal(10) ** 12),
}
# "M" is a million in English and a miliar (10^9) in Indonesian: see `_scale_options`.
AMBIGUOUS_MILLION = "m"

# Seconds in one of each time unit, as written after a number or as an item's unit.
TIME_UNITS: dict[str, int] = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds", "detik", "dtk"), 1),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes", "menit", "mnt"), 60),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours", "jam", "j"), 3600),
    **dict.fromkeys(("d", "day", "days", "hari"), 86400),
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks", "minggu"), 604800),
}

# Words never used to recognise an item from its title.
STOPWORDS: frozenset[str] = frozenset((
    "a", "an", "the", "of", "to", "from", "for", "in", "on", "at", "by", "per", "and", "or",
    "with", "into", "our", "my", "its", "is", "are", "be", "than", "below", "above", "under",
    "over", "least", "most", "more", "less", "new", "all", "each", "every", "within", "between",
    "up", "down", "increase", "increased", "decrease", "reduce", "reduced", "raise", "grow",
    "lift", "improve", "boost", "lower", "cut", "keep", "maintain", "achieve", "reach", "hit",
    "get", "make", "add", "launch", "build", "ship", "create", "deliver", "drive", "hold",
    "sustain", "expand", "minimize", "minimise", "maximize", "maximise", "run", "start", "set",
    "dan", "atau", "di", "ke", "dari", "untuk", "yang", "pada", "dengan", "dalam", "oleh",
    "sampai", "hingga", "menjadi", "jadi", "tingkatkan", "meningkatkan", "naikkan", "menaikkan",
    "turunkan", "menurunkan", "kurangi", "mengurangi", "tambah", "tambahkan", "menambah", "capai",
    "mencapai", "pertahankan", "jaga", "buat", "membuat", "luncurkan", "meluncurkan", "perbaiki",
    "memperbaiki", "kembangkan", "dorong", "minimal", "maksimal", "setiap", "tiap", "baru",
    "lebih", "kurang", "semua",
))  # fmt: skip
GENERIC_WORDS: frozenset[str] = frozenset((
    "average", "avg", "rate", "ratio", "number", "count", "total", "time", "times", "value",
    "score", "level", "monthly", "weekly", "daily", "month", "week", "day", "year", "quarter",
    "percent", "percentage", "amount", "metric", "kpi", "kr", "okr", "target", "goal", "cycle",
    "customer", "customers", "user", "users", "team", "rata", "jumlah", "waktu", "nilai",
    "tingkat", "angka", "bulan", "bulanan", "minggu", "mingguan", "hari", "harian", "tahun",
    "kuartal", "persen", "persentase", "skor", "rasio", "pengguna", "pelanggan", "tim",
))  # fmt: skip

# Slack emoji that say a status.
EMOJI_WORDS: dict[str, str] = {
    "white_check_mark": "done",
    "heavy_check_mark": "done",
    "ballot_box_with_check": "done",
    "large_green_circle": "green",
    "green_circle": "green",
    "large_yellow_circle": "yellow",
    "yellow_circle": "yellow",
    "large_orange_circle": "amber",
    "orange_circle": "amber",
    "red_circle": "red",
    "large_red_circle": "red",
}
EMOJI_CHARS: dict[str, str] = {
    "✅": "done",
    "✔": "done",
    "☑": "done",
    "🟢": "green",
    "🟡": "yellow",
    "🟠": "amber",
    "🔴": "red",
}


# ---------------------------------------------------------------------------------------------
# Regular expressions, compiled once from the tables.
# ---------------------------------------------------------------------------------------------

_NUM = r"[0-9][0-9.,]*[0-9]|[0-9]"
_CURRENCY_MARK = r"(?:us\$|s\$|\$|€|£|¥|rp\.?|idr|usd|eur|sgd)"


def _phrase_body(phrase: str) -> str:
    """A phrase as a pattern: a space also matches a hyphen or several spaces."""
    return r"[\s-]+".join(re.escape(word) for word in phrase.split())


def _words_regex(phrases: Iterable[str], *, prefix: str = "", suffix: str = "") -> re.Pattern[str]:
    """One case-insensitive pattern for whole-word phrases, longest first."""
    ordered = sorted(set(phrases), key=len, reverse=True)
    body = "|".join(_phrase_body(phrase) for phrase in ordered)
    return re.compile(rf"(?<![\w]){prefix}(?:{body}){suffix}(?![\w])", re.IGNORECASE)


_KR_STATUS_RE = _words_regex(KR_STATUS_WORDS)
_INITIATIVE_STATUS_RE = _words_regex(INITIATIVE_STATUS_WORDS)
_SAME_RE = _words_regex(SAME_WORDS)
_SKIP_RE = _words_regex(SKIP_WORDS + SKIP_PHRASES)
_SKIP_NEGATED_RE = _words_regex(SKIP_NEGATIONS, suffix=r"\s+(?:" + "|".join(SKIP_WORDS) + ")")
_SKIP_ONE_RE = re.compile(r"\s*(?:skip|lewati)\s+[0-9]", re.IGNORECASE)  # "skip 2": one item
_NO_CHANGE_RE = _words_regex(NO_CHANGE_PHRASES)
_FRAME = "|".join(_phrase_body(word) for word in NO_CHANGE_FRAME)
_NO_CHANGE_LINE_RE = re.compile(
    rf"(?:(?:{_FRAME})\s+)*(?:{'|'.join(_phrase_body(w) for w in NO_CHANGE_SHORT)})"
    rf"(?:\s+(?:{_FRAME}))*",
    re.IGNORECASE,
)
_COURTESY_RE = re.compile(
    rf"(?:(?:{'|'.join(_phrase_body(w) for w in COURTESY_WORDS)})(?:\s+(?:team|all|semua|ya))?"
    r"[\s,.!:;-]*)+",
    re.IGNORECASE,
)
_ALL_RE = _words_regex(ALL_WORDS)
_FORECAST_RE = _words_regex(FORECAST_WORDS)
_TARGET_BEFORE_RE = _words_regex(
    ("target", "targetnya", "goal", "sasaran"), suffix=r"(?:\s+(?:for|untuk|of))?\s*$"
)
_NO_BLOCKER_RE = _words_regex(NO_BLOCKER_PHRASES)
_NOTE_LABEL_RE = _words_regex(NOTE_LABELS, suffix=r"\s*(?::|-\s|=)")
_NOTE_WORD_RE = _words_regex(NOTE_WORDS)
_NOTE_DASH_RE = re.compile(r"(?<=\S)\s+-{1,2}\s+(?=[^\W\d_])")
_NOTE_DASH_COUNT_RE = re.compile(r"(?<=\S)\s+-{1,2}\s+(?=[0-9]+\s+(?P<word>[^\W\d_]+))")
_CONJUNCTION_RE = _words_regex(NOTE_CONJUNCTIONS)
_LEADING_STATUS_RE = re.compile(
    r"\s*(?:" + _KR_STATUS_RE.pattern + "|" + _INITIATIVE_STATUS_RE.pattern + ")", re.IGNORECASE
)

_CONF_WORD = "|".join(_phrase_body(word) for word in CONFIDENCE_WORDS)
_CONF_NUMBER = r"(?P<num>[-+]?[0-9]+(?:[.,][0-9]+)?)\s*(?P<pct>%)?"
_CONF_OUT_OF = r"(?:\s*(?:/|out\s+of|of|dari)\s*(?P<den>[0-9]+))?"
_CONF_AFTER_RE = re.compile(
    rf"(?<!\w)(?:{_CONF_WORD})(?![^\W\d_])\.?"
    r"(?:\s*(?:level|score|skor|lvl|nya|saya|ku|is|at|of|around|about|sekitar|di|:|=|-))*\s*"
    rf"{_CONF_NUMBER}{_CONF_OUT_OF}(?![\w/]|[.,][0-9])",
    re.IGNORECASE,
)
# Before the word, only with `%` or `/10`: `74 confidence high` is a value, then words.
_CONF_BEFORE_RE = re.compile(
    r"(?<![\w.,/])(?P<num>[0-9]+(?:[.,][0-9]+)?)\s*"
    r"(?:(?P<pct>%)|(?:/|out\s+of|of|dari)\s*(?P<den>[0-9]+))"
    rf"\s*(?:{_CONF_WORD})(?!\w)",
    re.IGNORECASE,
)
_CONF_BARE_RE = re.compile(
    r"(?<![\w.,/])(?P<num>[0-9]+)\s*(?:/|out\s+of|dari)\s*(?P<den>10)(?![\w/]|[.,][0-9])",
    re.IGNORECASE,
)

_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_TARGET_SUFFIX = "|".join(
    sorted({"k", "rb", "ribu", "jt", "juta", "m", "%", *TIME_UNITS}, key=len)[::-1]
)
_DATE_WORD = "|".join(_phrase_body(word) for word in DATE_KEYWORDS)
_NON_VALUE_RE = re.compile(
    "|".join(
        (
            r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}",  # 2026-12-01
            r"[0-9]{1,2}[/.-][0-9]{1,2}[/.-][0-9]{2,4}",  # 01/12/2026
            rf"(?:{_DATE_WORD})\s*:?\s*[0-9]{{1,2}}[/-][0-9]{{1,2}}",  # due 12/1
            rf"[0-9]{{1,2}}(?:st|nd|rd|th)?\s*(?:{_MONTH})\.?(?:,?\s*[0-9]{{4}})?",  # 1 Des 2026
            rf"(?:{_MONTH})\.?\s*[0-9]{{1,2}}(?:st|nd|rd|th)?(?:,?\s*[0-9]{{4}})?",  # Dec 1st
            r"[0-9]{1,2}(?:[:.][0-9]{2})?\s*(?:am|pm|wib|wita|wit)",  # 10.30 WIB
            r"pukul\s+[0-9]{1,2}(?:[:.][0-9]{2})?",
            r"[0-9]+(?:st|nd|rd|th)",  # 2nd
            r"(?:q[1-4]|h[12]|fy[0-9]{2,4}|w[0-9]{1,2}|wk[0-9]{1,2}|v[0-9]+(?:\.[0-9]+)*)",
            r"(?:sprint|minggu\s+ke-?|ke-)\s*[0-9]+",
            r"(?:in|tahun|year|since|sejak|fy)\s+(?:19|20)[0-9]{2}",
            rf"(?:target|goal|sasaran)(?:nya)?\s*(?::|=|is|of|adalah|di)?\s*"
            rf"{_CURRENCY_MARK}?\s?[0-9][0-9.,]*(?:\s?(?:{_TARGET_SUFFIX}))?",  # (target 80)
        )
    ).join((r"(?<![\w.,])(?:", r")(?![\w]|[.,][0-9])")),
    re.IGNORECASE,
)
_RATIO_RE = re.compile(r"(?<![\w.,])[0-9]+(?:[.,][0-9]+)?\s*/\s*[0-9]+(?:[.,][0-9]+)?(?![\w])")
_LAST_NOTE_RE = re.compile(
    r"\((?:last|prev(?:ious)?|terakhir|sebelumnya|was)\b[^()]*\)", re.IGNORECASE
)

_NUMBER_RE = re.compile(
    rf"(?:(?P<cur>{_CURRENCY_MARK})\s?)?(?P<sign>[-+])?(?P<num>{_NUM})", re.IGNORECASE
)
_SUFFIX_RE = re.compile(r"(?P<space>\s*)(?P<word>%|[^\W\d_]+\.?)")
_TIME_UNIT = "|".join(sorted(TIME_UNITS, key=len, reverse=True))
_DURATION_PART_RE = re.compile(rf"(?P<num>{_NUM})\s*(?P<unit>{_TIME_UNIT})(?![^\W\d_])", re.I)
_DURATION_JOIN_RE = re.compile(r"\s*(?:,|and|dan|&)?\s*")
_HOURS_MINUTES_RE = re.compile(r"(?P<h>[0-9]{1,3}):(?P<m>[0-5][0-9])(?![0-9])")
_TRAILING_MINUTES_RE = re.compile(r"(?P<m>[0-5]?[0-9])(?![0-9.,]|\s*[^\W\d_])")

# A comma between digits is a thousands separator, not a clause break.
_CLAUSE_START = (
    r"(?:^|[;&]|(?<![0-9]),|,(?![0-9])"
    r"|(?<!\w)(?:and|dan|but|tapi|tetapi|plus|also|juga|serta)(?!\w))"
)
_VALUE_AHEAD = (
    rf"\s*(?:[:=)\-]\s*)?(?:(?:is|now|at|sekarang|jadi|di)\s+)*{_CURRENCY_MARK}?\s?[-+]?[0-9]"
)
_SENTENCE_END_RE = re.compile(r"[.!?;](?:\s|$)")
_CLAUSE_BREAK_RE = re.compile(
    r"(?<![0-9]),|,(?![0-9])|;|\(|(?<!\w)(?:and|dan|but|tapi)(?!\w)", re.I
)
_RESUME_BEFORE_RE = re.compile(rf"{_CLAUSE_START}\s*$", re.IGNORECASE)
_VALUE_AHEAD_RE = re.compile(_VALUE_AHEAD, re.IGNORECASE)
_POSTFIX_VALUE_RE = re.compile(
    rf"(?P<lead>{_CLAUSE_START}[^0-9,;]*?)(?P<v>{_CURRENCY_MARK}?\s?[-+]?(?:{_NUM})"
    r"(?:\s?(?:k|rb|ribu|jt|juta|m|b|bn|%))?)\s*$",
    re.IGNORECASE,
)

_STATUS_AHEAD = "|".join(
    _phrase_body(p) for p in sorted({*KR_STATUS_WORDS, *INITIATIVE_STATUS_WORDS, *SAME_WORDS})
)
_NUMBERED_RE = re.compile(
    r"""
      (?:(?:item|nomor|nomer|no\.|nr\.?|poin|point|butir)\s*|\#\s?)(?P<a>[0-9]{1,2})
          (?![0-9]|[.,][0-9])\s*[:.)=-]?
    | \((?P<b>[0-9]{1,2})\)
    | \[(?P<c>[0-9]{1,2})\]
    | (?P<d>[0-9]{1,2})\s?\)
    | (?P<e>[0-9]{1,2})\s*[:=]
    | (?P<f>[0-9]{1,2})\.(?=\s)
    | (?P<g>[0-9]{1,2})(?:\s+-{1,2}\s*|\s*-{1,2}\s+)(?=\S)
    | (?P<h>[0-9]{1,2})\s+(?=(?:[-+]?(?:rp\.?\s?|\$|€|£)?[0-9]|(?:"""
    + _STATUS_AHEAD
    + r""")(?!\w)))
    | (?P<i>[0-9]{1,2}(?:(?:\s*(?:&|\+|and|dan)\s*|,\s+)[0-9]{1,2})+)
          (?:\s*[:=)]\s*(?=\S)|\s*[.-]?\s*(?=(?:"""
    + _STATUS_AHEAD
    + r""")(?!\w)))
    """,
    re.IGNORECASE | re.VERBOSE,
)
_WEAK_FORMS = ("f", "g", "h", "i")
_COMPACT_RE = re.compile(r"[0-9]{1,2}:[0-9]")  # "1:74 2:4.5": every item written this way
_TOKEN_RE = re.compile(r"[^\W\d_]+|[0-9]+")
_WORD_RE = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")

_LINK_RE = re.compile(r"<((?:https?|mailto):[^<>|]*)(?:\|([^<>]*))?>")
_MENTION_RE = re.compile(r"<[@!][^<>]*>")
_CHANNEL_RE = re.compile(r"<#[A-Z0-9]+(?:\|([^<>]*))?>")
_EMOJI_RE = re.compile(r":([a-z0-9_+'-]*[a-z][a-z0-9_+'-]*):(?::skin-tone-[0-9]:)?", re.I)
_STRIKE_RE = re.compile(r"(?<![\w~])~[^~\n]+~(?![\w~])")
_BOLD_RE = re.compile(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])")
_ITALIC_RE = re.compile(r"(?<![\w])_([^_\n]+)_(?![\w])")
_BULLET_RE = re.compile(r"^(?:[-•*·▪◦‣>]+\s+)+")
_DASHES = str.maketrans({c: "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"})
_INVISIBLE_RE = re.compile("[\u200b-\u200d\u2060\ufeff\ufe0e\ufe0f]")
_SPACES_RE = re.compile(r"[ \t\r\f\v]+")
_NOTE_EDGE = " \t,;:.!?-()[]\"'"
_FRAGMENT_EDGE = " \t,;"

_MAX_CHARS = 20_000  # Slack caps a message at 40k; past this, the tail is not read


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def read_reply(text: str, items: Sequence[Item], *, locale: str = "en") -> Reading:
    """Read a check-in reply against the member's numbered items; never raises."""
    try:
        return _read(text if isinstance(text, str) else "", items, normalize_locale(locale))
    # SPEC §6: any input returns a result. Fuzzing finds no exception; this is the last guard,
    # so one unforeseen text costs that person a "could not read", not the whole DM handler.
    except Exception:  # noqa: BLE001
        rest = text.strip() if isinstance(text, str) else ""
        return Reading(updates=(), unread=(rest,) if rest else ())


def item_from_dict(data: Mapping[str, object]) -> Item:
    """Build an `Item` from the JSON shape of the parser cases' `items`."""
    kind = str(data["kind"])
    if kind not in ITEM_KINDS:
        raise ValueError(f"unknown item kind: {kind!r}")
    aliases = data.get("aliases") or ()
    last = data.get("last")
    return Item(
        n=int(cast(int, data["n"])),
        kind=cast(ItemKind, kind),
        title=str(data.get("title") or ""),
        unit=str(data.get("unit") or ""),
        aliases=tuple(str(alias) for alias in cast(Iterable[object], aliases)),
        last=None if last is None else float(cast(float, last)),
        status=None if data.get("status") is None else str(data["status"]),
    )


def reading_to_dict(reading: Reading) -> dict[str, object]:
    """A `Reading` as JSON-ready data; an update lists only the fields that are set."""
    return {
        "updates": [_update_to_dict(update) for update in reading.updates],
        "skip": reading.skip,
        "no_change": reading.no_change,
        "unread": list(reading.unread),
    }


def _update_to_dict(update: ItemUpdate) -> dict[str, object]:
    """An update as JSON data; whole values print without `.0`."""
    out: dict[str, object] = {"n": update.n}
    if update.value is not None:
        value = update.value
        out["value"] = int(value) if value.is_integer() and abs(value) < 1e15 else value
    for key in ("confidence", "status", "note"):
        if getattr(update, key) is not None:
            out[key] = getattr(update, key)
    return out


# ---------------------------------------------------------------------------------------------
# Cleaning
# ---------------------------------------------------------------------------------------------


def _clean(text: str) -> str:
    """Slack markup out, Unicode folded: what the person meant to type."""
    text = unicodedata.normalize("NFKC", text[:_MAX_CHARS]).translate(_DASHES)
    text = _INVISIBLE_RE.sub("", text).replace("\u2019", "'").replace("\u2018", "'")
    text = _LINK_RE.sub(lambda m: m.group(2) or m.group(1), text)
    text = _CHANNEL_RE.sub(lambda m: m.group(1) or " ", text)
    text = _MENTION_RE.sub(" ", text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    text = _EMOJI_RE.sub(lambda m: f" {EMOJI_WORDS.get(m.group(1).lower(), '')} ", text)
    text = "".join(_clean_char(char) for char in text)
    # Struck-through text is what the person took back, so it is dropped, not read.
    text = _STRIKE_RE.sub(" ", text)
    text = _BOLD_RE.sub(r"\1", text)
    text = _ITALIC_RE.sub(r"\1", text).replace("`", " ")
    return text


def _clean_char(char: str) -> str:
    """Emoji that say a status become that word; other pictographs become a space."""
    if char in EMOJI_CHARS:
        return f" {EMOJI_CHARS[char]} "
    return " " if unicodedata.category(char) in ("So", "Cc", "Co", "Cs") and char != "\n" else char


def _lines(text: str) -> list[str]:
    """Non-empty lines, bullets and extra spaces removed; quoted lines (`> ...`) dropped."""
    out = []
    for raw in text.splitlines():
        if raw.lstrip().startswith(">"):
            continue
        line = _SPACES_RE.sub(" ", _BULLET_RE.sub("", raw.strip())).strip()
        if line:
            out.append(line)
    return out


# ---------------------------------------------------------------------------------------------
# The member's items: how replies may name them
# ---------------------------------------------------------------------------------------------


def _norm(token: str) -> str:
    """Case-folded, with an English plural `s` dropped so `ticket` names `tickets`."""
    word = token.casefold()
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _tokens(text: str) -> tuple[str, ...]:
    """Normalised word and digit tokens of a text."""
    return tuple(_norm(token) for token in _TOKEN_RE.findall(text))


def _reserved_words() -> frozenset[str]:
    """Words the reader gives a meaning of its own; a title word among them names nothing."""
    tables: Iterable[str] = (
        *KR_STATUS_WORDS, *INITIATIVE_STATUS_WORDS, *SAME_WORDS, *SKIP_WORDS,
        *NO_CHANGE_PHRASES, *CONFIDENCE_WORDS, *NOTE_LABELS, *NOTE_WORDS, *FILLER_WORDS,
        *RELATIVE_WORDS, *MONTHS, *DATE_KEYWORDS, *CURRENCY_WORDS, *PERCENT_WORDS,
        *MULTIPLIERS, *TIME_UNITS, *COURTESY_WORDS, *ALL_WORDS, *STOPWORDS, *GENERIC_WORDS,
    )  # fmt: skip
    return frozenset(token for phrase in tables for token in _tokens(phrase))


_RESERVED = _reserved_words()
_VALUE_WORDS: frozenset[str] = frozenset(
    _norm(word)
    for word in (*CURRENCY_WORDS, *PERCENT_WORDS, *MULTIPLIERS, *TIME_UNITS, AMBIGUOUS_MILLION)
)


@dataclass(frozen=True, slots=True)
class _Index:
    """How the member's items may be named in a reply."""

    items: Mapping[int, Item]
    phrases: Mapping[tuple[str, ...], int | None]  # None: names two items, so names neither
    loose: frozenset[tuple[str, ...]]  # single title words: too weak to claim a value before them
    first_tokens: frozenset[str]
    max_len: int
    known: Mapping[int, frozenset[str]]  # words that may sit beside the item's value
    units: Mapping[int, tuple[str, ...]]


def _index(items: Sequence[Item]) -> _Index:
    """The item index, cached: the same prompt is read many times."""
    key = tuple(items)
    try:
        return _cached_index(key)
    except TypeError:  # an Item built with unhashable fields still reads, uncached
        return _build_index(key)


@lru_cache(maxsize=256)
def _cached_index(items: tuple[Item, ...]) -> _Index:
    return _build_index(items)


def _build_index(items: tuple[Item, ...]) -> _Index:
    """Every way the reply may name each item, and the words that may sit beside its value."""
    by_n = {item.n: item for item in items}
    levels = _phrase_levels(by_n.values())
    phrases: dict[tuple[str, ...], int | None] = {}
    for level in levels:  # aliases first, then whole titles, units, title words
        for phrase, owners in level.items():
            if phrase not in phrases:
                phrases[phrase] = next(iter(owners)) if len(owners) == 1 else None
    return _Index(
        items=by_n,
        phrases=phrases,
        loose=frozenset(levels[-1]) - frozenset().union(*levels[:-1]),
        first_tokens=frozenset(phrase[0] for phrase in phrases),
        max_len=max((len(phrase) for phrase in phrases), default=0),
        known={n: _known_words(item) for n, item in by_n.items()},
        units={n: _tokens(item.unit) for n, item in by_n.items()},
    )


def _phrase_levels(items: Iterable[Item]) -> list[dict[tuple[str, ...], set[int]]]:
    """Phrases naming each item, by priority: aliases, titles, units, distinctive title words.
    A unit settles a title word two items share: `visitors` is the item counted in visitors."""
    aliases: dict[tuple[str, ...], set[int]] = {}
    titles: dict[tuple[str, ...], set[int]] = {}
    units: dict[tuple[str, ...], set[int]] = {}
    words: dict[tuple[str, ...], set[int]] = {}
    for item in items:
        for alias in item.aliases:
            tokens = _tokens(alias)
            if tokens and len("".join(tokens)) >= 2:
                aliases.setdefault(tokens, set()).add(item.n)
        title = _tokens(item.title)
        if title:
            titles.setdefault(title, set()).add(item.n)
        unit = _tokens(item.unit)
        if len(unit) == 1 and _distinctive(unit[0]):
            units.setdefault(unit, set()).add(item.n)
        for token in set(title):
            if _distinctive(token):
                words.setdefault((token,), set()).add(item.n)
    return [aliases, titles, units, words]


def _distinctive(token: str) -> bool:
    """A title word that may name its item alone: long enough, and no word of ours."""
    return len(token) >= 3 and token.isalpha() and token not in _RESERVED


def _known_words(item: Item) -> frozenset[str]:
    """Words of the item's own title, unit and aliases."""
    tokens = [*_tokens(item.title), *_tokens(item.unit)]
    for alias in item.aliases:
        tokens.extend(_tokens(alias))
    return frozenset(token for token in tokens if token.isalpha())


@lru_cache(maxsize=4096)
def _title_regex(title: str) -> re.Pattern[str]:
    """The item's own title, as someone pasting the prompt line back would write it. Compiled
    only for an item a reply names (compiling one for every item cost more than the rest of
    the reading), and kept: the same titles come back every round."""
    words = re.findall(r"\w+", title)
    if len(words) < 2:
        return re.compile(r"(?!x)x")
    return re.compile(r"\W*".join(re.escape(word) for word in words), re.IGNORECASE)


# ---------------------------------------------------------------------------------------------
# Anchors: where a line names an item
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Anchor:
    """Where a line names an item; its segment runs to the next anchor."""

    start: int
    end: int
    n: int  # may name no item ("9: 50"); such a segment is unread
    numbered: bool
    postfix: str = ""  # a value written before the item's name ("1,240 tickets")
    also: tuple[int, ...] = ()  # "3 & 4 done": more items the same words are about


def _find_anchors(line: str, index: _Index) -> list[_Anchor]:
    """The item references of a line, in order, ignoring words inside notes."""
    named = _word_anchors(line, index)
    # A pasted title ("Increase NPS from 70 to 80: 74") holds digits that are not item numbers.
    titled = [(a.start, a.end) for a in named if _has_digit(line[a.start : a.end])]
    numbered = [a for a in _numbered_anchors(line, index) if not _inside(a.start, titled)]
    spans = [(a.start, a.end) for a in numbered]
    named = [a for a in named if (a.start, a.end) in titled or not _inside(a.start, spans)]
    notes = [p for p in _note_positions(line) if not _inside(p, spans + titled)]
    accepted: list[_Anchor] = []
    for candidate in sorted([*numbered, *named], key=lambda a: a.start):
        anchor = _accept(line, candidate, accepted, notes, index)
        if anchor is not None:
            accepted.append(anchor)
    return accepted


def _accept(
    line: str, anchor: _Anchor, accepted: list[_Anchor], notes: list[int], index: _Index
) -> _Anchor | None:
    """Whether a candidate reference starts a new segment, given those before it."""
    since = accepted[-1].end if accepted else 0
    if anchor.start < since:
        return None
    note_between = bisect_left(notes, since) < bisect_left(notes, anchor.start)
    if note_between and not _resumes(line, anchor):
        return None
    if anchor.numbered:
        return anchor
    words = _tokens(line[anchor.start : anchor.end])
    if accepted and _continues(words, anchor, accepted[-1], index):
        return None
    return anchor if words in index.loose else _with_postfix(line, anchor, since)


def _continues(words: tuple[str, ...], anchor: _Anchor, previous: _Anchor, index: _Index) -> bool:
    """A name of the item already being read (`web traffic: 51,300 visits`), or its unit."""
    return anchor.n == previous.n or words == index.units.get(previous.n)


def _resumes(line: str, anchor: _Anchor) -> bool:
    """Inside a note, only `, 2: 4.5` or `and tickets 1,300` starts a new item."""
    before = _RESUME_BEFORE_RE.search(line, max(0, anchor.start - 20), anchor.start)
    return before is not None and _VALUE_AHEAD_RE.match(line, anchor.end) is not None


def _with_postfix(line: str, anchor: _Anchor, since: int) -> _Anchor:
    """`..., 1,240 tickets`: a value at a clause start right before the name belongs to it."""
    match = _POSTFIX_VALUE_RE.search(line, since, anchor.start)
    if match is None or _has_unknown_words(match.group("lead"), frozenset()):
        return anchor
    return _Anchor(match.start("v"), anchor.end, anchor.n, False, postfix=match.group("v"))


def _numbered_anchors(line: str, index: _Index) -> list[_Anchor]:
    """References by number (`1:`, `#2`, `(3)`, `4 done`), left to right."""
    out = []
    pos = 0
    while (match := _NUMBERED_RE.search(line, pos)) is not None:
        anchor = _numbered_anchor(line, match, index)
        if anchor is not None:
            out.append(anchor)
        # A rejected match ("74, 2)" as a group) may hide a real one inside it.
        pos = match.end() if anchor is not None else match.start() + 1
    return out


def _numbered_anchor(line: str, match: re.Match[str], index: _Index) -> _Anchor | None:
    """The reference a numbered match makes, or None where its position rules it out."""
    group = match.lastgroup
    if group is None or not _numbered_allowed(line, match, group):
        return None
    numbers = tuple(int(number) for number in re.findall("[0-9]+", match.group(group)))
    # `74 - on track` is a value, not item 74; only `9: 50` plainly names a missing item.
    if group in _WEAK_FORMS and any(n not in index.items for n in numbers):
        return None
    return _Anchor(match.start(), match.end(), numbers[0], True, also=numbers[1:])


def _numbered_allowed(line: str, match: re.Match[str], group: str) -> bool:
    """Position rules that keep `74 - waiting` or `(up 2)` from reading as item numbers."""
    start = match.start()
    before = line[max(0, start - 200) : start]
    at_clause = not before.strip() or before.rstrip()[-1] in ",;"
    after_space = start == 0 or line[start - 1] in " \t,;("
    if group in ("a", "b", "c"):
        return after_space
    if group == "e":
        rest = line[match.end() : match.end() + 1]
        spaced = not rest or rest.isspace() or _COMPACT_RE.match(line) is not None
        return at_clause or (after_space and spaced)
    if group == "d":
        return at_clause or (after_space and before.count("(") <= before.count(")"))
    return at_clause


def _inside(position: int, spans: list[tuple[int, int]]) -> bool:
    return any(start <= position < end for start, end in spans)


def _has_digit(text: str) -> bool:
    return any(char.isdigit() for char in text)


def _word_anchors(line: str, index: _Index) -> list[_Anchor]:
    """Aliases and title words, longest match first; an ambiguous phrase names nothing."""
    tokens = [(m.start(), m.end(), _norm(m.group())) for m in _TOKEN_RE.finditer(line)]
    out: list[_Anchor] = []
    i = 0
    while i < len(tokens):
        length, n = _phrase_at(line, tokens, i, index)
        if n is not None:
            out.append(_Anchor(tokens[i][0], tokens[i + length - 1][1], n, numbered=False))
        i += max(length, 1)
    return out


def _phrase_at(
    line: str, tokens: list[tuple[int, int, str]], i: int, index: _Index
) -> tuple[int, int | None]:
    """(tokens matched, item) for the longest known phrase starting at token `i`."""
    if tokens[i][2] not in index.first_tokens:
        return 0, None
    for length in range(min(index.max_len, len(tokens) - i), 0, -1):
        window = tokens[i : i + length]
        key = tuple(token[2] for token in window)
        if key in index.phrases and _adjacent(line, window):
            return length, index.phrases[key]
    return 0, None


def _adjacent(line: str, window: list[tuple[int, int, str]]) -> bool:
    """Tokens of one phrase stand next to each other (spaces or hyphens only)."""
    return all(not line[left[1] : right[0]].strip(" -") for left, right in pairwise(window))


def _note_positions(line: str) -> list[int]:
    """Where notes may start in a line."""
    regexes = (_NOTE_LABEL_RE, _NOTE_WORD_RE, _NOTE_DASH_RE)
    return sorted(match.start() for regex in regexes for match in regex.finditer(line))


# ---------------------------------------------------------------------------------------------
# Segments: what is said about one item
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Said:
    """What one segment says about its item."""

    value: float | None = None
    confidence: int | None = None
    status: str | None = None
    note: str | None = None
    same: bool = False  # "same", "no change": nothing to record, nothing unread either
    unsure: bool = False  # something numeric it could not place: record nothing
    rejected: tuple[str, ...] = ()  # sub-fragments read as nothing ("conf 12")

    @property
    def empty(self) -> bool:
        fields = (self.value, self.confidence, self.status, self.note)
        return all(value is None for value in fields)


@dataclass(frozen=True, slots=True)
class _Segment:
    """Text said about one item, and how strictly to read it."""

    item: Item
    text: str
    locale: str
    known: frozenset[str]
    strict: bool = False  # no unknown words allowed (bare values, values before a name)
    anchored: bool = True  # text follows the item's name: the value must come near it


def _read_segment(segment: _Segment) -> _Said:
    """Note, dates, confidence, status and value of one segment, in that order."""
    text = _NO_BLOCKER_RE.sub(" ", segment.text)
    head, note = _split_note(text, segment.known)
    head = _NON_VALUE_RE.sub(" ", _LAST_NOTE_RE.sub(" ", head))
    confidence, rejected, head = _take_confidence(head)
    head = _RATIO_RE.sub(" ", head)
    status, head = _take_status(head, segment.item.kind)
    same, head = _take_same(head)
    if segment.item.kind == "initiative":
        said = _initiative_value(head, segment)
    else:
        said = _metric_value(head, segment)
    return _Said(
        value=said.value,
        confidence=confidence,
        status=status,
        note=note,
        same=same,
        unsure=said.unsure,
        rejected=rejected + said.rejected,
    )


def _initiative_value(head: str, segment: _Segment) -> _Said:
    """Initiatives have no value: a number by one (`4: 50%`) is not understood."""
    exprs = [e for e in _scan_values(head, segment) if not e.glued]
    unsure = bool(exprs) or (segment.strict and _has_unknown_words(head, segment.known))
    return _Said(unsure=unsure)


def _metric_value(head: str, segment: _Segment) -> _Said:
    """The value of a KR/KPI segment, or unsure when the numbers in it do not settle one."""
    exprs = _scan_values(head, segment)
    chosen = _pick_expr(head, exprs)
    rejected: tuple[str, ...] = ()
    if chosen is None and not segment.strict:
        head, exprs, rejected = _first_clause(head, exprs)
        chosen = _pick_expr(head, exprs)
    if chosen is None:
        unsure = bool(exprs) or (segment.strict and _has_unknown_words(head, segment.known))
        return _Said(unsure=unsure)
    if segment.strict and _has_unknown_words(_without(head, exprs), segment.known):
        return _Said(unsure=True)
    if segment.anchored and not _near_start(head[: exprs[0].start], segment.known):
        return _Said(unsure=True)
    if _FORECAST_RE.search(head) is not None:
        return _Said(unsure=True)
    value = _choose(chosen.options, segment.item.last, segment.locale)
    return _Said(value=float(value), rejected=rejected)


def _first_clause(head: str, exprs: list[_Expr]) -> tuple[str, list[_Expr], tuple[str, ...]]:
    """`frt 40, resolution 2.1d`: the first clause holds this item's value; the rest, with
    its numbers, is shown back as unread."""
    if len(exprs) < 2:
        return head, exprs, ()
    cut = _CLAUSE_BREAK_RE.search(head, exprs[0].end)
    if cut is None or cut.start() > exprs[-1].start:
        return head, exprs, ()
    rest = head[cut.start() :].strip(_NOTE_EDGE)
    return head[: cut.start()], [e for e in exprs if e.end <= cut.start()], (rest,)


def _without(text: str, exprs: Sequence[_Expr]) -> str:
    """The text with the values blanked out, to check the words around them."""
    for expr in reversed(exprs):
        text = text[: expr.start] + " " + text[expr.end :]
    return text


def _near_start(gap: str, known: frozenset[str]) -> bool:
    """`nps is now 74` yes; `reply time was bad, 3 customers` no."""
    unknown = [w for w in _WORD_RE.findall(gap) if not _is_known(w, known)]
    if _SENTENCE_END_RE.search(gap.strip()) and unknown:
        return False
    return len(unknown) <= 2 and not (unknown and "," in gap)


def _has_unknown_words(text: str, known: frozenset[str]) -> bool:
    """Whether any word is neither filler, a value word nor the item's own."""
    return any(not _is_known(word, known) for word in _WORD_RE.findall(text))


def _is_known(word: str, known: frozenset[str]) -> bool:
    """Whether a word may stand beside a value without making it doubtful."""
    token = _norm(word)
    return (
        token in known
        or word.casefold() in FILLER_WORDS
        or token in _VALUE_WORDS
        or word.casefold() in TARGET_CONNECTORS
    )


# ---------------------------------------------------------------------------------------------
# Notes
# ---------------------------------------------------------------------------------------------


def _split_note(text: str, known: frozenset[str]) -> tuple[str, str | None]:
    """(head, note): the note starts at the first marker; status or confidence clauses at its
    ends go back to the head (`- on track, waiting on legal`)."""
    marker = _first_note_marker(text, known)
    if marker is None:
        return text, None
    start, body_start, kept = marker
    body = text[body_start:]
    leading, body = _peel(body, leading=not kept)
    if not kept and (label := _NOTE_LABEL_RE.match(body.lstrip())) is not None:
        body = body.lstrip()[label.end() :]  # "- blocker: ..."
    if kept and (conjunction := _CONJUNCTION_RE.match(body)) is not None:
        leading, body = _after_conjunction(body[conjunction.end() :], body)
    body, trailing = _peel_trailing(body)
    head = " , ".join(part for part in (text[:start], leading, trailing) if part)
    return head, _note_text(body)


def _after_conjunction(rest: str, body: str) -> tuple[str, str]:
    """`but at risk because ...`: the status is the item's, the reason is the note."""
    status = _LEADING_STATUS_RE.match(rest)
    if status is None:
        return "", body
    rest = rest[status.end() :].lstrip(" ,;")
    label = _NOTE_LABEL_RE.match(rest)
    return status.group(), rest[label.end() :] if label else rest


def _first_note_marker(text: str, known: frozenset[str]) -> tuple[int, int, bool] | None:
    """(marker start, note start, label kept in note?) for the earliest note marker."""
    found: list[tuple[int, int, bool]] = []
    for regex, keep in ((_NOTE_LABEL_RE, False), (_NOTE_DASH_RE, False), (_NOTE_WORD_RE, True)):
        match = regex.search(text)
        if match is not None:
            found.append((match.start(), match.start() if keep else match.end(), keep))
    # "4.5 - 2 agents on leave" is a note; "72 - 74 points" is not.
    for match in _NOTE_DASH_COUNT_RE.finditer(text):
        if not _is_known(match.group("word"), known):
            found.append((match.start(), match.end(), False))
            break
    return min(found, key=lambda marker: (marker[0], marker[2])) if found else None


def _peel(body: str, *, leading: bool) -> tuple[str, str]:
    """Leading comma-clauses of a dash note that are only a status or confidence."""
    if not leading:
        return "", body
    clauses = body.split(",")
    taken = 0
    while taken < len(clauses) and _is_attribute(clauses[taken]):
        taken += 1
    return ",".join(clauses[:taken]), ",".join(clauses[taken:])


def _peel_trailing(body: str) -> tuple[str, str]:
    """Trailing comma-clauses of a note that are only a status or confidence."""
    clauses = body.split(",")
    keep = len(clauses)
    while keep > 1 and _is_attribute(clauses[keep - 1]):
        keep -= 1
    return ",".join(clauses[:keep]), ",".join(clauses[keep:])


def _is_attribute(clause: str) -> bool:
    """A clause that is nothing but a confidence or a status (`conf 6`, `at risk`)."""
    rest = clause.strip(" .!")
    if not rest:
        return False
    for regex in (_CONF_AFTER_RE, _CONF_BEFORE_RE, _CONF_BARE_RE, _KR_STATUS_RE):
        rest = regex.sub("", rest)
    rest = _INITIATIVE_STATUS_RE.sub("", rest)
    return not rest.strip(" .!") and rest != clause.strip(" .!")


def _note_text(body: str) -> str | None:
    """The note as written, trimmed; None when it only says there is no blocker."""
    note = body.strip(_NOTE_EDGE)
    if note.count("(") < note.count(")"):
        note = note.replace(")", "")
    note = note.strip(_NOTE_EDGE)
    if not note or note.rpartition(":")[2].strip(_NOTE_EDGE).casefold() in NO_BLOCKER_NOTES:
        return None
    return note


# ---------------------------------------------------------------------------------------------
# Confidence, status, "same"
# ---------------------------------------------------------------------------------------------


def _take_confidence(head: str) -> tuple[int | None, tuple[str, ...], str]:
    """(confidence, rejected fragments, head without them). The last good one wins."""
    found: int | None = None
    rejected: list[str] = []
    for regex in (_CONF_AFTER_RE, _CONF_BEFORE_RE, _CONF_BARE_RE):
        while (match := regex.search(head)) is not None:
            value = _confidence_value(match)
            if value is None:
                rejected.append(match.group().strip())
            else:
                found = value
            head = head[: match.start()] + " " + head[match.end() :]
    return found, tuple(rejected), head


def _confidence_value(match: re.Match[str]) -> int | None:
    """0..10, or a percentage in tens (`80%` → 8); anything else is not a confidence."""
    try:
        number = Decimal(match.group("num").replace(",", "."))
    except InvalidOperation:
        return None
    den = match.groupdict().get("den")
    if match.groupdict().get("pct") or den == "100":
        number = number / 10
    elif den not in (None, "10"):
        return None
    if number != number.to_integral_value() or not 0 <= number <= 10:
        return None
    return int(number)


def _take_status(head: str, kind: str) -> tuple[str | None, str]:
    """The status said for this kind of item; words of the other kind stay in the text."""
    regex, table = (
        (_INITIATIVE_STATUS_RE, INITIATIVE_STATUS_WORDS)
        if kind == "initiative"
        else (_KR_STATUS_RE, cast(Mapping[str, str | None], KR_STATUS_WORDS))
    )
    # The first status said is the item's; later ones are context ("in progress, target rilis").
    match = regex.search(head)
    found = table.get(_phrase_key(match.group())) if match else None
    return found, regex.sub(" ", head)


def _phrase_key(text: str) -> str:
    """A matched phrase in table form: lower case, single spaces."""
    return " ".join(re.split(r"[\s-]+", text.casefold()))


def _take_same(head: str) -> tuple[bool, str]:
    """Whether the segment says "same"/"no change" (or is only a dash), and the rest."""
    if not head.strip(" :=-.)"):
        return bool(head.strip(" :=.)")), head
    stripped = _SAME_RE.sub(" ", head)
    return stripped != head, stripped


# ---------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Expr:
    """One written value: `$1,050`, `4h 30m`, `52 rb`, with its readings per locale."""

    start: int
    end: int
    options: Mapping[str, Decimal] = field(default_factory=dict)  # "en"/"id" → value
    relative: bool = False  # "up 2", "+2": a change, not a level
    glued: bool = False  # digits stuck to letters ("v2", "3x"): not a value


def _scan_values(text: str, segment: _Segment) -> list[_Expr]:
    """Every value written in `text`, left to right."""
    exprs: list[_Expr] = []
    pos = 0
    while (match := _NUMBER_RE.search(text, pos)) is not None:
        expr = _read_expr(text, match, segment)
        exprs.append(expr)
        pos = max(expr.end, match.end())
    return exprs


def _read_expr(text: str, match: re.Match[str], segment: _Segment) -> _Expr:
    """The value written at `match`: a duration for time-unit items, else a number."""
    start = match.start()
    if start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_"):
        return _Expr(start, match.end(), glued=True)
    factor = _time_factor(segment.item.unit)
    if factor is not None:
        duration = _read_duration(text, match, factor)
        if duration is not None:
            return duration
    return _read_number(text, match)


def _read_number(text: str, match: re.Match[str]) -> _Expr:
    """A number with its currency, sign, multiplier (`k`, `jt`, `M`) and unit words."""
    options = _number_options(match.group("num"))
    currency = (match.group("cur") or "").casefold()
    end, scale, glued = _read_suffix(text, match.end(), currency)
    if not options or glued:
        return _Expr(match.start(), end, glued=True)
    sign = Decimal(-1) if match.group("sign") == "-" and _sign_allowed(text, match) else 1
    values = {key: options[key] * scale[key] * sign for key in ("en", "id")}
    relative = match.group("sign") == "+" or _relative_before(text, match.start())
    return _Expr(match.start(), end, values, relative=relative)


def _sign_allowed(text: str, match: re.Match[str]) -> bool:
    """`-5` is negative; the `-` of `70-75` is not a sign."""
    at = match.start("sign")
    return at == 0 or not text[at - 1].isalnum()


def _relative_before(text: str, start: int) -> bool:
    """Whether the word before a value makes it a change (`up 2`, `naik 2`)."""
    words = _WORD_RE.findall(text[max(0, start - 40) : start])  # only the word before counts
    return bool(words) and words[-1].casefold() in RELATIVE_WORDS


def _read_suffix(text: str, pos: int, currency: str) -> tuple[int, Mapping[str, Decimal], bool]:
    """(end, scale per locale, glued?) for the words right after a number."""
    scale: Mapping[str, Decimal] = {"en": Decimal(1), "id": Decimal(1)}
    while (match := _SUFFIX_RE.match(text, pos)) is not None:
        word = match.group("word").rstrip(".")
        folded = word.casefold()
        if folded in MULTIPLIERS or folded == AMBIGUOUS_MILLION:
            scale = _scale_options(word, currency)
        elif folded not in (*PERCENT_WORDS, *CURRENCY_WORDS, *APPROXIMATE_SUFFIXES):
            return pos, scale, not match.group("space")
        pos = match.end()
        if folded in CURRENCY_WORDS:
            currency = folded
    return pos, scale, False


def _scale_options(word: str, currency: str) -> Mapping[str, Decimal]:
    """`M` is a million in English and a miliar in Bahasa Indonesia; rupiah settles it."""
    folded = word.casefold()
    if folded != AMBIGUOUS_MILLION:
        return {"en": MULTIPLIERS[folded], "id": MULTIPLIERS[folded]}
    million, miliar = MULTIPLIERS["million"], MULTIPLIERS["miliar"]
    if currency in RUPIAH_MARKS:
        return {"en": miliar, "id": miliar}
    if currency:
        return {"en": million, "id": million}
    return {"en": million, "id": miliar}


def _number_options(number: str) -> dict[str, Decimal]:
    """The number as read in each locale; where only one reading is valid, both get it."""
    readings = {key: _strict_decimal(number, key) for key in ("en", "id")}
    valid = {key: value for key, value in readings.items() if value is not None}
    if not valid:
        return {}
    only = next(iter(valid.values()))
    return {key: valid.get(key, only) for key in ("en", "id")}


@lru_cache(maxsize=2048)
def _strict_decimal(number: str, locale: str) -> Decimal | None:
    """The number read strictly in one locale's CLDR convention, or None."""
    try:
        return parse_decimal(number, locale=_babel_locale(locale), strict=True)
    except (NumberFormatError, InvalidOperation, ValueError):
        return None


@lru_cache(maxsize=4)
def _babel_locale(locale: str) -> Locale:
    return Locale.parse(cldr_locale(locale))


def _time_factor(unit: str) -> int | None:
    """Seconds per unit when the item's unit is a time unit (`h`, `jam`, `min`, `days`)."""
    return TIME_UNITS.get(unit.strip().casefold().rstrip("."))


def _read_duration(text: str, match: re.Match[str], factor: int) -> _Expr | None:
    """`4h30m`, `4h 30m`, `4,5 jam`, `4 jam 30 menit`, `4:30`, `90 min`, in the item's unit."""
    start = match.start("num")
    hm = _HOURS_MINUTES_RE.match(text, start)
    if hm is not None:
        seconds = Decimal(int(hm.group("h")) * 3600 + int(hm.group("m")) * 60)
        per_locale = dict.fromkeys(("en", "id"), seconds / factor)
        return _Expr(match.start(), hm.end(), per_locale)
    totals, end = _duration_parts(text, start)
    if totals is None:
        return None
    values = {key: total / factor for key, total in totals.items()}
    relative = _relative_before(text, match.start())
    return _Expr(match.start(), end, values, relative=relative)


def _duration_parts(text: str, pos: int) -> tuple[dict[str, Decimal] | None, int]:
    """Seconds per locale for consecutive `number unit` parts, and where they end."""
    totals: dict[str, Decimal] | None = None
    while (part := _DURATION_PART_RE.match(text, pos)) is not None:
        options = _number_options(part.group("num"))
        if not options:
            break
        seconds = TIME_UNITS[part.group("unit").casefold()]
        base = totals or dict.fromkeys(("en", "id"), Decimal(0))
        totals = {key: base[key] + options[key] * seconds for key in base}
        pos = part.end()
        if seconds == 3600 and (minutes := _TRAILING_MINUTES_RE.match(text, pos)):
            totals = {key: value + int(minutes.group("m")) * 60 for key, value in totals.items()}
            pos = minutes.end()
        pos = _DURATION_JOIN_RE.match(text, pos).end() if _next_part(text, pos) else pos
    return totals, pos


def _next_part(text: str, pos: int) -> bool:
    """Whether another `number unit` part follows, after an optional `and`/comma."""
    joined = _DURATION_JOIN_RE.match(text, pos)
    return joined is not None and _DURATION_PART_RE.match(text, joined.end()) is not None


def _pick_expr(head: str, exprs: Sequence[_Expr]) -> _Expr | None:
    """The one value of a segment: a single clean value, or the last of `from 72 to 74`."""
    if not exprs or any(expr.glued for expr in exprs):
        return None
    if len(exprs) == 1:
        return None if exprs[0].relative else exprs[0]
    between = head[exprs[0].end : exprs[1].start]
    if len(exprs) == 2 and _connects(between):
        return None if exprs[1].relative else exprs[1]
    if len(exprs) == 2 and _points_back(between):
        return None if exprs[0].relative else exprs[0]
    return None


def _connects(between: str) -> bool:
    """`72 to 74`, `72 -> 74`, `52k last week, now 55k`: the second value is the new one."""
    text = between.strip(" ,").casefold()
    if text.endswith(("->", "=>", "→", ">")):
        text = text.rstrip("-=>→ ") + " to"
    words = _WORD_RE.findall(text)
    if not words or words[-1] not in TARGET_CONNECTORS:
        return False
    return all(word in FILLER_WORDS or word in TARGET_CONNECTORS for word in words)


def _points_back(between: str) -> bool:
    """`74 (was 72)`, `74, up from 72`, `74 dari sebelumnya 72`: the second is the old value."""
    words = [word.casefold() for word in _WORD_RE.findall(between)]
    if not any(word in PREVIOUS_MARKERS for word in words):
        return False
    allowed = PREVIOUS_MARKERS | FILLER_WORDS | RELATIVE_WORDS
    return all(word in allowed for word in words) and not re.search(r"[0-9;]", between)


def _choose(options: Mapping[str, Decimal], last: float | None, locale: str) -> Decimal:
    """The reading closest to the previous value; the member's locale when there is none."""
    mine = options[locale]
    other = options["id" if locale == "en" else "en"]
    if mine == other or last is None:
        return mine
    target = Decimal(str(last))
    return other if abs(other - target) < abs(mine - target) else mine


# ---------------------------------------------------------------------------------------------
# Putting a reply together
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Draft:
    """Fields gathered for one item so far; later mentions win field by field."""

    order: tuple[int, int]
    value: float | None = None
    confidence: int | None = None
    status: str | None = None
    note: str | None = None

    def merge(self, said: _Said) -> None:
        """Fold in what a later mention said."""
        self.value = said.value if said.value is not None else self.value
        self.confidence = said.confidence if said.confidence is not None else self.confidence
        self.status = said.status if said.status is not None else self.status
        if said.note is not None:
            self.note = said.note if self.note is None else f"{self.note}; {said.note}"


@dataclass(slots=True)
class _Reply:
    """The reading being built."""

    drafts: dict[int, _Draft] = field(default_factory=dict)
    same: set[int] = field(default_factory=set)
    unread: list[str] = field(default_factory=list)
    courtesy: list[str] = field(default_factory=list)
    skip: bool = False
    no_change: bool = False

    def record(self, n: int, said: _Said, order: tuple[int, int]) -> None:
        """Add what a segment said about item `n`."""
        draft = self.drafts.setdefault(n, _Draft(order))
        draft.merge(said)

    def reading(self) -> Reading:
        """The finished `Reading`: flags only without updates, chatter only when alone."""
        updates = tuple(
            ItemUpdate(n, d.value, d.confidence, d.status, d.note)
            for n, d in sorted(self.drafts.items(), key=lambda pair: pair[1].order)
        )
        skip = self.skip and not updates
        no_change = self.no_change and not updates and not skip
        unread = self.unread if updates or skip or no_change else self.unread + self.courtesy
        return Reading(updates, skip, no_change, tuple(_dedupe(unread)))


def _dedupe(fragments: Iterable[str]) -> list[str]:
    """Fragments once each, in order, without empties."""
    return list(dict.fromkeys(fragment for fragment in fragments if fragment))


@dataclass(frozen=True, slots=True)
class _Line:
    """One line of the reply, with where it names items."""

    number: int
    text: str
    anchors: tuple[_Anchor, ...]
    items: tuple[int, ...] = ()  # the items its segments named, for continuation lines


@dataclass(frozen=True, slots=True)
class _Context:
    """What reading one segment needs besides its text."""

    index: _Index
    locale: str
    reply: _Reply
    lead: _Said | None = None  # said before the line's only name ("conf 7 for nps: 74")


def _read(text: str, items: Sequence[Item], locale: str) -> Reading:
    """The reading of a whole reply: named lines first, then lines that name no item."""
    index = _index(items)
    lines = [
        _Line(i, line, tuple(_find_anchors(line, index)))
        for i, line in enumerate(_lines(_clean(text)))
    ]
    reply = _Reply()
    read_lines = [_read_anchored(line, index, locale, reply) for line in lines]
    plain = [(i, line) for i, line in enumerate(read_lines) if not line.anchors]
    if not any(line.anchors for line in lines):
        plain = [(i, line) for i, line in plain if not _read_bare(line, index, locale, reply)]
    interleaved = _interleaved(read_lines)
    for position, line in plain:
        above = read_lines[position - 1] if position and interleaved else None
        _read_plain(line, above, index, locale, reply)
    if not reply.drafts and index.items and reply.same >= set(index.items):
        reply.no_change = True
    return reply.reading()


def _interleaved(lines: Sequence[_Line]) -> bool:
    """Lines without item names sit between item lines ("1: 74 / blocker: x / 2: 4.5"): each
    then belongs to the item above it. After a whole list, a line is about the list."""
    named = [i for i, line in enumerate(lines) if line.anchors]
    if len(named) < 2:
        return False
    return any(not line.anchors and named[0] < i < named[-1] for i, line in enumerate(lines))


def _read_anchored(line: _Line, index: _Index, locale: str, reply: _Reply) -> _Line:
    """Read each segment of a line that names items; returns the line with its items."""
    if not line.anchors:
        return line
    lead = _read_prefix(line, index, locale, reply)
    named: list[int] = []
    for i, anchor in enumerate(line.anchors):
        end = line.anchors[i + 1].start if i + 1 < len(line.anchors) else len(line.text)
        if _read_anchor(line, anchor, end, _Context(index, locale, reply, lead)):
            named.append(anchor.n)
    return _Line(line.number, line.text, line.anchors, tuple(named))


def _read_anchor(line: _Line, anchor: _Anchor, end: int, context: _Context) -> bool:
    """Read one segment into the reply; True when it named a real item."""
    index, reply = context.index, context.reply
    fragment = line.text[anchor.start : end].strip(_FRAGMENT_EDGE)
    numbers = (anchor.n, *anchor.also)
    if any(n not in index.items for n in numbers):
        reply.unread.append(fragment)
        return False
    if _TARGET_BEFORE_RE.search(line.text, max(0, anchor.start - 20), anchor.start):
        reply.unread.append(fragment)  # "target nps 80": the number is the goal, not a reading
        return True
    readings = [
        (n, _read_segment(_anchored_segment(line, anchor, end, n, context))) for n in numbers
    ]
    if len(numbers) > 1 and any(said.value is not None for _, said in readings):
        reply.unread.append(fragment)  # "3 & 4: 50" gives one value to two items
        return False
    for n, said in readings:
        merged = said if context.lead is None else _merged(context.lead, said)
        _apply(merged, n, fragment, (line.number, anchor.start), reply)
    return True


def _merged(first: _Said, later: _Said) -> _Said:
    """What two parts of one line said about the same item; the later part wins."""
    return _Said(
        value=later.value,
        confidence=later.confidence if later.confidence is not None else first.confidence,
        status=later.status or first.status,
        note=later.note or first.note,
        same=later.same,
        unsure=later.unsure,
        rejected=first.rejected + later.rejected,
    )


def _anchored_segment(
    line: _Line, anchor: _Anchor, end: int, n: int, context: _Context
) -> _Segment:
    """The text after a name up to the next one, without a pasted copy of the title."""
    index = context.index
    text = _title_regex(index.items[n].title).sub(" ", line.text[anchor.end : end])
    if text.startswith("-") and anchor.end and line.text[anchor.end - 1].isalnum():
        text = " " + text[1:]  # "nps-74": a hyphen stuck to the name separates, it is no sign
    return _Segment(
        index.items[n],
        f"{anchor.postfix} {text}" if anchor.postfix else text,
        context.locale,
        index.known[n],
        strict=bool(anchor.postfix),
        anchored=not anchor.postfix,
    )


def _apply(said: _Said, n: int, fragment: str, order: tuple[int, int], reply: _Reply) -> None:
    """Record what a segment said, or list it as unread."""
    reply.unread.extend(said.rejected)
    if said.unsure or (said.empty and not said.same):
        reply.unread.append(fragment)
    elif said.empty:
        reply.same.add(n)
    else:
        reply.record(n, said, order)


def _read_prefix(line: _Line, index: _Index, locale: str, reply: _Reply) -> _Said | None:
    """Text before the first name: a note, status or confidence for the line's only item."""
    fragment = line.text[: line.anchors[0].start].strip(_FRAGMENT_EDGE)
    if not fragment:
        return None
    only = line.anchors[0] if len(line.anchors) == 1 and not line.anchors[0].also else None
    if only is not None and only.n in index.items:
        item = index.items[only.n]
        said = _read_segment(_Segment(item, fragment, locale, index.known[item.n], anchored=False))
        if said.value is None and not said.unsure and not said.empty:
            return said
    if _has_digit(_NON_VALUE_RE.sub(" ", fragment)):
        reply.unread.append(fragment)
    return None


def _read_plain(
    line: _Line, above: _Line | None, index: _Index, locale: str, reply: _Reply
) -> None:
    """A line naming no item: skip/no-change, a continuation, or unread."""
    if _is_skip(line.text):
        reply.skip = True
    elif _is_no_change(line.text):
        reply.no_change = True
    elif _read_continuation(line, above, index, locale, reply):
        return
    elif _COURTESY_RE.fullmatch(line.text) or line.text.endswith(":"):
        reply.courtesy.append(line.text)
    elif _says_no_blocker(line.text):
        return
    else:
        reply.unread.append(line.text.strip(_FRAGMENT_EDGE))


def _says_no_blocker(text: str) -> bool:
    """`no blockers`, `kendala: tidak ada`: understood, and nothing to record."""
    if _NO_BLOCKER_RE.search(text) is not None:
        return True
    label, _, rest = text.rpartition(":")
    said_none = rest.strip(_NOTE_EDGE).casefold() in NO_BLOCKER_NOTES
    marked = _NOTE_LABEL_RE.search(text) or _NOTE_WORD_RE.search(label)
    return said_none and marked is not None


def _is_skip(text: str) -> bool:
    """A line that skips the week (`skip`, `lewati`), not `don't skip` or `skip 2`."""
    if _SKIP_RE.search(text) is None or _SKIP_NEGATED_RE.search(text) is not None:
        return False
    return _SKIP_ONE_RE.match(text) is None


def _is_no_change(text: str) -> bool:
    """A line that confirms last week's values (`no change`, `tetap`, `same as last week`)."""
    bare = text.strip(" .!,:;-")
    return _NO_CHANGE_RE.search(text) is not None or _NO_CHANGE_LINE_RE.fullmatch(bare) is not None


def _read_bare(line: _Line, index: _Index, locale: str, reply: _Reply) -> bool:
    """With one KR/KPI (or one initiative), a line like `74` or `done` is about it; with one
    item in all, a note or confidence too."""
    only_item = len(index.items) == 1
    for kinds in (("kr", "kpi"), ("initiative",)):
        owners = [item for item in index.items.values() if item.kind in kinds]
        if len(owners) != 1:
            continue
        item = owners[0]
        segment = _Segment(
            item, line.text, locale, index.known[item.n], strict=True, anchored=False
        )
        said = _read_segment(segment)
        decisive = said.value is not None or said.status is not None or only_item
        if not said.unsure and not said.empty and decisive:
            reply.unread.extend(said.rejected)
            reply.record(item.n, said, (line.number, 0))
            return True
    return False


def _read_continuation(
    line: _Line, above: _Line | None, index: _Index, locale: str, reply: _Reply
) -> bool:
    """`blocker: ...` or `conf 7` on its own line, for the item it is about (see
    `_continuation_targets`)."""
    targets = _continuation_targets(line, above, index, reply)
    said_any = False
    for n in targets:
        item = index.items[n]
        segment = _Segment(item, line.text, locale, index.known[n], anchored=False)
        said = _read_segment(segment)
        if said.value is not None or said.unsure or said.empty:
            return said_any
        reply.unread.extend(said.rejected)
        reply.record(n, said, reply.drafts[n].order if n in reply.drafts else (line.number, 0))
        said_any = True
    return said_any


def _continuation_targets(
    line: _Line, above: _Line | None, index: _Index, reply: _Reply
) -> list[int]:
    """Every KR/KPI read when it says `all`; else the item of the line above (interleaved
    layout), the only item read, or the one item its words name; else none (unread)."""
    if _ALL_RE.search(line.text) is not None:
        return [n for n in reply.drafts if index.items[n].kind != "initiative"]
    if above is not None and len(above.items) == 1:
        return [above.items[0]]
    if len(reply.drafts) == 1:
        return list(reply.drafts)
    named = {anchor.n for anchor in _word_anchors(line.text, index)}
    return list(named) if len(named) == 1 else []
