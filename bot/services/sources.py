"""KPI pull sources (SPEC §9): a CSV over HTTP or a read-only SQL query, read on the KPI's own
cron, its value stored like a pushed one (source `pull:csv` / `pull:sql`).

How a value is chosen, for both kinds: each row gives a period and a value (a CSV's
`period_column` and `value_column`, found by header name whatever their case; a query's first
and second columns). A period is written like the KPI's (`2026-11`, `2026-W47`) or is a date
(`2026-11-30`, or a date/datetime from the database), which stands for the period it falls in.
Rows with an empty period or value are skipped (a month not filled in yet); any other period or
value that cannot be read fails the pull, naming the row. The row with the latest period gives
the value (within that period the latest date, then the last row). A value already standing
for that period stores nothing, so an hourly pull of an unchanged sheet writes no history.

Reading is pure (`read_csv`, `latest`); fetching (`fetch_csv`, `run_query`) does the I/O with a
timeout. Where a source stands is one `SourceState` row per KPI, moved by conditional updates
(`claim_slot`, `claim_told`) so that every slot is pulled once, and each change of state told
once, however many replicas run the scheduler.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlsplit

import aiohttp
from babel.numbers import NumberFormatError, parse_decimal
from sqlalchemy import or_, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain import VALUE_LIMIT
from bot.errors import OkrbotError
from bot.i18n import N_, cldr_locale
from bot.importfile import CsvSourceSpec, SqlSourceSpec
from bot.services import updates
from storage.db import async_url, is_sqlite
from storage.models import SourceState

CSV_TIMEOUT_SECONDS = 30
CSV_MOST_BYTES = 5 * 1024 * 1024
# Retries after a failure: 1, 2, 4 … minutes, at most an hour apart, until a pull works.
RETRY_FIRST = dt.timedelta(minutes=1)
RETRY_MOST = dt.timedelta(hours=1)
FAILING = "failing"
OK = "ok"

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_WEEK = re.compile(r"^\d{4}-W(0[1-9]|[1-4]\d|5[0-3])$")
_DAY = re.compile(r"^(\d{4}-\d{2}-\d{2})([ T].*)?$")


class SourceFailed(OkrbotError):
    """A pull that did not give a value; `msgid` and `params` say why, in any language."""


@dataclass(frozen=True)
class Reading:
    """What a source says now: the value of its latest period."""

    period: str
    value: float


def retry_delay(failures: int) -> dt.timedelta:
    """How long to wait after `failures` failed pulls in a row (1 → 1 min, 2 → 2 min …)."""
    return min(RETRY_FIRST * 2 ** max(failures - 1, 0), RETRY_MOST)


def period_of(cell: object, kpi_period: str, row: int) -> tuple[str, dt.date | None] | None:
    """A row's period cell as the KPI's period (and the day, when it is a date); None when
    empty."""
    if isinstance(cell, dt.datetime):
        cell = cell.date()
    if isinstance(cell, dt.date):
        return updates.period_of(cell, kpi_period), cell
    text = "" if cell is None else str(cell).strip()
    if not text:
        return None
    weekly = kpi_period == "weekly"
    if (_WEEK if weekly else _MONTH).match(text):
        return text, None
    day = _DAY.match(text)
    if day:
        try:
            date = dt.date.fromisoformat(day.group(1))
        except ValueError:
            pass
        else:
            return updates.period_of(date, kpi_period), date
    raise SourceFailed(
        N_("row {row}: {cell} is not a period like {example} or a date like 2026-11-30"),
        row=row,
        cell=text,
        example="2026-W47" if weekly else "2026-11",
    )


def value_of(cell: object, locale: str, row: int) -> float | None:
    """A row's value cell as a number (`1,180.5` in en, `1.180,5` in id); None when empty."""
    if isinstance(cell, bool):
        cell = str(cell)
    if isinstance(cell, int | float | Decimal):
        return _within_limit(float(cell), row)
    text = "" if cell is None else str(cell).strip().removesuffix("%").strip()
    if not text:
        return None
    try:
        value = float(parse_decimal(text, locale=cldr_locale(locale), strict=True))
    except NumberFormatError:
        raise SourceFailed(N_("row {row}: {cell} is not a number"), row=row, cell=text) from None
    return _within_limit(value, row)


def _within_limit(value: float, row: int) -> float:
    if not abs(value) <= VALUE_LIMIT:  # also NaN
        raise SourceFailed(
            N_("row {row}: {cell} is out of range for a KPI"), row=row, cell=f"{value:g}"
        )
    return value


def latest(
    rows: Iterable[tuple[int, object, object]], kpi_period: str, locale: str = "en"
) -> Reading:
    """The value of the latest period among `(row number, period cell, value cell)`: within
    that period the latest date, then the last row."""
    found: tuple[tuple[str, dt.date], Reading] | None = None
    for row, period_cell, value_cell in rows:
        period = period_of(period_cell, kpi_period, row)
        value = value_of(value_cell, locale, row) if period else None
        if period is None or value is None:
            continue
        key = (period[0], period[1] or dt.date.min)
        if found is None or key >= found[0]:
            found = (key, Reading(period[0], value))
    if found is None:
        raise SourceFailed(N_("no row has both a period and a value"))
    return found[1]


def read_csv(text: str, spec: CsvSourceSpec, kpi_period: str) -> Reading:
    """The reading of a CSV document, its first line the header."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = [name.strip() for name in next(reader, [])]
    columns = {name.casefold(): index for index, name in enumerate(header) if name}
    wanted = []
    for name in (spec.period_column, spec.value_column):
        if name.casefold() not in columns:
            raise SourceFailed(
                N_("the CSV has no column {column} (its columns: {columns})"),
                column=name,
                columns=", ".join(header) or "-",
            )
        wanted.append(columns[name.casefold()])
    period_at, value_at = wanted

    def cell(line: list[str], index: int) -> str:
        return line[index] if index < len(line) else ""

    rows = (
        (number, cell(line, period_at), cell(line, value_at))
        for number, line in enumerate(reader, start=2)
    )
    return latest(rows, kpi_period, spec.locale)


async def fetch_csv(http: aiohttp.ClientSession, spec: CsvSourceSpec, kpi_period: str) -> Reading:
    """GET the CSV and read it; every way it can fail is a SourceFailed."""
    host = urlsplit(spec.csv).hostname or spec.csv
    timeout = aiohttp.ClientTimeout(total=CSV_TIMEOUT_SECONDS)
    try:
        async with http.get(spec.csv, timeout=timeout) as response:
            if response.status != 200:
                raise SourceFailed(
                    N_("{host} answered HTTP {status}"), host=host, status=response.status
                )
            body = await response.content.read(CSV_MOST_BYTES + 1)
            charset = response.charset or "utf-8"
    except TimeoutError:
        raise SourceFailed(
            N_("{host} did not answer within {seconds} s"), host=host, seconds=CSV_TIMEOUT_SECONDS
        ) from None
    except aiohttp.ClientError as exc:
        reason = str(exc) or type(exc).__name__
        failed = SourceFailed(N_("could not reach {host} ({reason})"), host=host, reason=reason)
        raise failed from None
    if len(body) > CSV_MOST_BYTES:
        raise SourceFailed(N_("the CSV is larger than {size} MB"), size=CSV_MOST_BYTES // 2**20)
    try:
        text = body.decode(charset)
    except (UnicodeDecodeError, LookupError):
        raise SourceFailed(N_("the CSV is not text in {charset}"), charset=charset) from None
    return read_csv(text, spec, kpi_period)


async def run_query(spec: SqlSourceSpec, environ: Mapping[str, str], kpi_period: str) -> Reading:
    """Run the query read-only on the DSN in `OKRBOT_SOURCE_<NAME>_URL`, within its timeout.

    Read-only is enforced by the database, not trusted: PostgreSQL runs it in a READ ONLY
    transaction (with `statement_timeout`), SQLite with `PRAGMA query_only`; the transaction
    is rolled back either way."""
    dsn = environ.get(spec.variable, "").strip()
    if not dsn:
        raise SourceFailed(N_("{variable} is not set"), variable=spec.variable)
    try:
        engine = create_async_engine(async_url(dsn), poolclass=NullPool)
    except (SQLAlchemyError, KeyError, ValueError):
        raise SourceFailed(
            N_("{variable} is not a PostgreSQL or SQLite URL"), variable=spec.variable
        ) from None
    try:
        rows = await asyncio.wait_for(_query(engine, spec, dsn), spec.timeout)
    except TimeoutError:
        raise SourceFailed(
            N_("the query did not finish within {seconds} s"), seconds=spec.timeout
        ) from None
    except (SQLAlchemyError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:300]
        raise SourceFailed(N_("the database refused the query: {reason}"), reason=reason) from None
    finally:
        await engine.dispose()
    if rows and len(rows[0]) < 2:
        raise SourceFailed(N_("the query must return two columns: the period, then the value"))
    return latest(((n, row[0], row[1]) for n, row in enumerate(rows, start=1)), kpi_period)


async def _query(engine, spec: SqlSourceSpec, dsn: str) -> list[tuple]:  # noqa: ANN001
    async with engine.connect() as connection:
        if is_sqlite(dsn):
            await connection.exec_driver_sql("PRAGMA query_only = ON")
        else:
            await connection.exec_driver_sql("SET TRANSACTION READ ONLY")
            await connection.exec_driver_sql(
                f"SET LOCAL statement_timeout = {int(spec.timeout * 1000)}"
            )
        try:
            result = await connection.exec_driver_sql(spec.query)
            return [tuple(row) for row in result.all()]
        finally:
            await connection.rollback()


async def claim_slot(session: AsyncSession, kpi_id: int, slot: dt.datetime) -> bool:
    """Take `slot` for this KPI's pull unless it (or a later one) was taken: True if won."""
    statement = (
        update(SourceState)
        .where(
            col(SourceState.kpi_id) == kpi_id,
            or_(col(SourceState.claimed_slot).is_(None), col(SourceState.claimed_slot) < slot),
        )
        .values(claimed_slot=slot)
    )
    return (await session.exec(statement)).rowcount == 1  # type: ignore[union-attr]


async def claim_told(session: AsyncSession, kpi_id: int, state: str) -> bool:
    """Record that the owner hears of `state` unless they already did: True if this caller
    is the one to tell them. A recovery is only told after a failure was."""
    where = [col(SourceState.kpi_id) == kpi_id]
    if state == OK:
        where.append(col(SourceState.told) == FAILING)
    else:
        where.append(or_(col(SourceState.told).is_(None), col(SourceState.told) != state))
    statement = update(SourceState).where(*where).values(told=state)
    return (await session.exec(statement)).rowcount == 1  # type: ignore[union-attr]
