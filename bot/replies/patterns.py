"""Regular expressions of the reply reader, compiled once from the word tables."""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.replies.words import (
    ALL_WORDS,
    CONFIDENCE_WORDS,
    COURTESY_WORDS,
    DATE_KEYWORDS,
    FORECAST_WORDS,
    INITIATIVE_STATUS_WORDS,
    KR_STATUS_WORDS,
    MONTHS,
    NO_BLOCKER_PHRASES,
    NO_CHANGE_FRAME,
    NO_CHANGE_PHRASES,
    NO_CHANGE_SHORT,
    NOTE_CONJUNCTIONS,
    NOTE_LABELS,
    NOTE_WORDS,
    SAME_WORDS,
    SKIP_NEGATIONS,
    SKIP_PHRASES,
    SKIP_WORDS,
    TARGET_WORDS,
    TIME_UNITS,
)

_NUM = r"[0-9][0-9.,]*[0-9]|[0-9]"
_CURRENCY_MARK = r"(?:us\$|s\$|\$|€|£|¥|rp\.?|idr|usd|eur|sgd)"


def _phrase_body(phrase: str) -> str:
    """A phrase as a pattern: a space also matches a hyphen or several spaces."""
    return r"[\s-]+".join(re.escape(word) for word in phrase.split())


def _words_regex(phrases: Iterable[str], *, prefix: str = "", suffix: str = "") -> re.Pattern[str]:
    """One case-insensitive pattern for whole-word phrases, longest first."""
    ordered = sorted(set(phrases), key=len, reverse=True)
    body = "|".join(_phrase_body(phrase) for phrase in ordered)
    # The lookahead on the phrases' first letters lets the engine skip most positions at once
    # (about 2.5x faster on replies than trying every phrase at every position).
    first = re.escape("".join(sorted({phrase[0] for phrase in ordered})))
    return re.compile(rf"(?<![\w]){prefix}(?=[{first}])(?:{body}){suffix}(?![\w])", re.IGNORECASE)


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
_TARGET_BEFORE_RE = _words_regex(TARGET_WORDS, suffix=r"(?:\s+(?:for|untuk|of))?\s*$")
_NO_BLOCKER_RE = _words_regex(NO_BLOCKER_PHRASES)
_NOTE_LABEL_RE = _words_regex(NOTE_LABELS, suffix=r"\s*(?::|-\s|=)")
_NOTE_WORD_RE = _words_regex(NOTE_WORDS)
_NOTE_DASH_RE = re.compile(r"(?<=\S)\s+-{1,2}\s+(?=[^\W\d_])")
_NOTE_DASH_COUNT_RE = re.compile(r"(?<=\S)\s+-{1,2}\s+(?=[0-9]+\s+(?P<word>[^\W\d_]+))")
_CONJUNCTION_RE = _words_regex(NOTE_CONJUNCTIONS)
# After "but"/"tapi": the value as it stands now ("but now 74", "tapi sekarang 9,8%").
_TURN_TO_VALUE_RE = re.compile(
    r"(?:\s+(?:it's|it|is|sudah|udah|already))*\s+(?:now|sekarang|kini|currently)"
    r"(?:\s+(?:is|at|di|sudah|udah|jadi))*\s*(?:rp\.?\s?|\$)?[0-9]",
    re.IGNORECASE,
)
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
_DAYPART = "pagi|siang|sore|malam|subuh|dini hari"
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
            # jam 9 malam, pkl 14.00, 9 pagi, 9 o'clock: a clock time ("4 jam" is a duration)
            rf"(?<![0-9] )(?:jam|pkl\.?)\s*[0-9]{{1,2}}(?:[:.][0-9]{{2}})?(?:\s*(?:{_DAYPART}))?",
            rf"(?:jam|pkl\.?)\s*[0-9]{{1,2}}(?:[:.][0-9]{{2}}(?:\s*(?:{_DAYPART}))?|\s*(?:{_DAYPART}))",
            rf"[0-9]{{1,2}}(?:[:.][0-9]{{2}})?\s*(?:{_DAYPART}|o'?clock)",
            r"(?:at|@)\s*[0-9]{1,2}[:.][0-9]{2}",  # at 14:30
            r"(?:tgl|tanggal|tang)\.?\s*[0-9]{1,2}(?:[/-][0-9]{1,2})?",  # tgl 20
            r"[0-9]+(?:st|nd|rd|th)",  # 2nd
            r"(?:q[1-4]|h[12]|fy[0-9]{2,4}|w[0-9]{1,2}|wk[0-9]{1,2}|v[0-9]+(?:\.[0-9]+)*)",
            r"(?:sprint|minggu\s+ke-?|ke-)\s*[0-9]+",
            r"(?:in|tahun|year|since|sejak|fy)\s+(?:19|20)[0-9]{2}",
            rf"(?:target|goal|sasaran)(?:nya)?\s*(?::|=|is|of|adalah|di)?\s*"
            rf"{_CURRENCY_MARK}?\s?[0-9][0-9.,]*(?:\s?(?:{_TARGET_SUFFIX}))?",  # (target 80)
        )
    ).join((r"(?<![\w.,])(?=[0-9a-z@])(?:", r")(?![\w]|[.,][0-9])")),
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
# Words that start a clause about something else: "NPS 77 while open rate was 31%".
_CLAUSE_WORDS = (
    "and", "dan", "but", "tapi", "while", "whereas", "although", "though", "even", "with",
    "after", "before", "since", "when", "sedangkan", "sementara", "padahal", "walau",
    "walaupun", "meski", "meskipun", "setelah", "sesudah", "sebelum", "sejak", "dengan", "saat",
    "ketika", "waktu", "over", "during", "within", "across", "selama", "dalam",
)  # fmt: skip
_CLAUSE_BREAK_RE = re.compile(
    rf"(?<![0-9]),|,(?![0-9])|;|\(|[.!?](?=\s)|(?<!\w)(?:{'|'.join(_CLAUSE_WORDS)})(?!\w)", re.I
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
      (?=[0-9\#(\[inpb])  # where a reference can start: most positions are skipped at once
    (?:
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
    )
    """,
    re.IGNORECASE | re.VERBOSE,
)
_WEAK_FORMS = ("f", "g", "h", "i")
_COMPACT_RE = re.compile(r"[0-9]{1,2}:[0-9]")  # "1:74 2:4.5": every item written this way
_TOKEN_RE = re.compile(r"[^\W\d_]+|[0-9]+")
_WORD_RE = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
_NEXT_WORD_RE = re.compile(r"\s*([^\W\d_]+)")

_LINK_RE = re.compile(r"<((?:https?|mailto):[^<>|]*)(?:\|([^<>]*))?>")
_MENTION_RE = re.compile(r"<[@!][^<>]*>")
_CHANNEL_RE = re.compile(r"<#[A-Z0-9]+(?:\|([^<>]*))?>")
_EMOJI_RE = re.compile(
    r":([a-z0-9_+'-]*[a-z][a-z0-9_+'-]*|100|1234|\+1|-1):(?::skin-tone-[0-9]:)?", re.I
)
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
