"""Word tables (English and Bahasa Indonesia) for the reply reader.

Phrases are lower case; a space also matches a hyphen, so "on track" reads "on-track"
too. Longer phrases win over their parts.
"""

from __future__ import annotations

from decimal import Decimal

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
        "wrapped up", "all done", "rolled out", "deployed", "merged", "sudah deploy",
        "udah deploy", "sudah jadi", "udah jadi", "sudah beres", "udah beres", "sudah kelar",
        "udah kelar",
    ), "done"),
    **dict.fromkeys((
        "in progress", "inprogress", "on progress", "ongoing", "on going", "started", "kicked off",
        "begun", "underway", "under way", "wip", "working on it", "almost done", "nearly done",
        "berjalan", "sedang berjalan", "masih berjalan", "lagi jalan", "dikerjakan",
        "sedang dikerjakan", "lagi dikerjakan", "dalam proses", "sedang proses", "sudah mulai",
        "dimulai", "hampir selesai", "in flight", "rolling out", "under construction",
        "sudah jalan", "udah jalan", "mulai jalan",
        "sedang jalan", "sudah berjalan", "udah berjalan", "lagi dikerjain", "dikerjain",
        "sedang digarap", "lagi digarap", "digarap",
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
TARGET_CONNECTORS: tuple[str, ...] = (
    "to", "ke", "jadi", "menjadi", "sampai", "hingga", "now", "sekarang", "kini",
)  # fmt: skip
# Between a value and a second one, these make the second the old value: "74 (was 72)".
PREVIOUS_MARKERS: frozenset[str] = frozenset((
    "from", "was", "vs", "versus", "previously", "previous", "prev", "last", "compared",
    "dari", "sebelumnya", "kemarin", "lalu", "dibanding", "dibandingkan",
))  # fmt: skip
# In the clause of the first of two values, these say it is the old one and the second, after
# the break, the new one: "74 last week, 76 this week", "last month 1,180; 1,250 now".
BEFORE_WORDS: frozenset[str] = frozenset((
    "last", "before", "previously", "previous", "prev", "earlier", "yesterday", "ago", "lalu",
    "kemarin", "sebelumnya", "sebelum", "tadinya",
))  # fmt: skip
# Words that say "now" of the second value ("this week", "minggu ini", "today").
NOW_WORDS: frozenset[str] = frozenset((
    "now", "this", "today", "currently", "current", "week", "month", "quarter", "sekarang",
    "kini", "ini", "saat", "minggu", "bulan", "hari", "kuartal", "sudah", "udah", "jadi",
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
# Right before a value ("target 80") or right after one ("74 to 80 target"), these make it
# the item's target, not where it stands.
TARGET_WORDS: tuple[str, ...] = ("target", "targetnya", "goal", "sasaran")
# Right after a value, these make it an amount added, not the new value: "booked 2 more demos",
# "5 extra", "2 lagi", "3 tambahan" ("72 more or less" is about 72: see values._added_after).
ADDED_WORDS: frozenset[str] = frozenset(("more", "extra", "additional", "lagi", "tambahan"))
# Words of movement between an item's name and its value: "fell to 71", "naik jadi 10%".
# Beside a value they say nothing of their own; right before one, RELATIVE_WORDS still
# make it a change ("up 2").
MOVEMENT_WORDS: frozenset[str] = frozenset((
    "rose", "rise", "risen", "rising", "fell", "fall", "fallen", "falling", "dropped", "drop",
    "dipped", "dip", "climbed", "climb", "climbing", "crept", "creep", "creeping", "crawled",
    "went", "gone", "going", "jumped", "jump", "grew", "grown", "growing", "slipped", "sank",
    "sunk", "edged", "ticked", "moved", "increased", "decreased", "improved", "declined",
    "recovered", "bounced", "inched", "shot", "soared", "slid", "back", "up", "down", "over",
    "higher", "lower", "slightly", "further", "again", "steadily", "slowly", "has", "have",
    "had", "come", "came", "held", "holding", "stayed", "stays", "remained", "remains",
    "naik", "turun", "merangkak", "meningkat", "menurun", "melonjak", "anjlok", "merosot",
    "bertambah", "berkurang", "kembali", "lagi", "sedikit", "pelan", "perlahan", "tembus",
    "menembus", "bertahan", "membaik", "memburuk", "terus", "sempat", "pun",
))  # fmt: skip
# A number followed by one of these counts people or things, not the item's value
# ("4 people on leave", "3 vendor"); unless the word is the item's own ("1,240 tickets").
COUNT_NOUNS: frozenset[str] = frozenset((
    "people", "person", "persons", "folks", "guys", "engineers", "engineer", "devs", "dev",
    "developers", "developer", "agents", "agent", "reps", "staff", "members", "member", "hires",
    "hire", "candidates", "interviews", "vendors", "vendor", "partners", "partner", "clients",
    "client", "customers", "customer", "users", "user", "accounts", "account", "deals", "deal",
    "leads", "lead", "calls", "call", "meetings", "meeting", "demos", "demo", "sessions",
    "workshops", "webinars", "bugs", "bug", "incidents", "incident", "outages", "tickets",
    "ticket", "surveys", "survey", "responses", "respondents", "attendees", "visitors",
    "servers", "server", "teams", "squads", "sprints", "releases", "features", "tests",
    "emails", "campaigns", "articles", "posts", "stores", "cities", "countries", "markets",
    "orang", "karyawan", "engineer", "vendor", "klien", "pelanggan", "customer", "user",
    "pengguna", "akun", "peserta", "responden", "tiket", "bug", "insiden", "rapat", "meeting",
    "panggilan", "sesi", "server", "tim", "anggota", "kandidat", "mitra", "toko", "kota",
    "subscribers", "followers", "recipients", "participants", "applicants", "employees",
    "stakeholders", "shifts", "vendors", "slides", "pages", "laptops", "trucks", "orders",
    "buah", "unit", "kali", "artikel", "kampanye", "fitur", "agen", "staf", "cs", "pelamar",
    "pegawai", "pesanan", "halaman", "sif", "shift", "pengikut", "subscriber",
    "detractors", "promoters", "complaints", "reviews", "churns", "refunds", "escalations",
    "keluhan", "komplain", "ulasan", "eskalasi",
))  # fmt: skip
# Between a number and a counted noun: "2 new hires", "3 more vendors".
COUNT_ADJECTIVES: frozenset[str] = frozenset((
    "new", "more", "extra", "other", "additional", "senior", "junior", "key", "big", "major",
    "minor", "open", "baru", "lagi", "tambahan", "lain", "besar", "kecil",
))  # fmt: skip
# A number of these is a span of time ("over 2 weeks", "3 bulan"), not the value of an item
# that is not itself a time.
SPAN_WORDS: frozenset[str] = frozenset((
    "second", "seconds", "minute", "minutes", "hour", "hours", "hrs", "day", "days", "week",
    "weeks", "month", "months", "quarter", "quarters", "year", "years", "detik", "menit", "jam",
    "hari", "minggu", "bulan", "kuartal", "tahun",
))  # fmt: skip
# Before "now" in a second clause: "dipped to 70 but now 74" reads 74.
TURN_WORDS: frozenset[str] = frozenset(("but", "tapi", "tetapi", "namun", "however", "yet"))
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
    "arrow_right": "→",
    "arrow_forward": "→",
    "point_right": "→",
    "heavy_arrow_right": "→",
    "long_arrow_right": "→",
}
EMOJI_CHARS: dict[str, str] = {
    "✅": "done",
    "✔": "done",
    "☑": "done",
    "🟢": "green",
    "🟡": "yellow",
    "🟠": "amber",
    "🔴": "red",
    "➡": "→",
    "▶": "→",
    "👉": "→",
}
