"""Check-in rounds (SPEC §4, §5): who is due a prompt, the exactly-once claims, what a prompt
lists, reading and recording a reply, reminders, closing, and `/okr away`.

Exactly-once rests on unique rows. A round is claimed by inserting (team, scheduled_for); a
prompt by inserting (round, member) *before* the DM is sent, then marked `sent` with its ts. A
crash between the two leaves a `claimed` row, which anyone may take back once its claim has not
been renewed for the lease (a conditional UPDATE decides who), so no prompt is lost. The lease
is short because a live sender renews it: every HEARTBEAT it bumps its round's `heartbeat_at`
and its claims' `renewed_at`, however long Slack keeps it waiting; a process killed -9 stops
beating, and its round is taken over within the lease. A sender killed after Slack accepted a
DM but before `sent` was written leaves such a claim too, and Slack has no idempotency key: so
the taker-over is handed the claim's first time (`Delivery.abandoned_at`) and first looks for
the prompt, by the id in its message metadata, in the member's DM since then
(`scheduler.jobs.post_prompt`); only when it is not there is it sent again. Claims are taken one
at a time just before each send, so only the requests in flight when a process dies are exposed.
Reminders are claimed the same way (`reminder_claimed_at`, renewed by the same heartbeat), marked
by `reminded_at` once sent, and tried a bounded number of times.
Nothing here talks to Slack: the jobs and handlers send, then report back.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from apscheduler.triggers.cron import CronTrigger
from babel.dates import get_month_names
from sqlalchemy import ColumnElement, and_, func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from bot.domain import InitiativeStatus, PromptState, Role, Source
from bot.errors import NotAllowed, NotFound
from bot.i18n import cldr_locale
from bot.progress import KpiStatus, expected_progress, kpi_status
from bot.replies import Item, ItemKind, ItemUpdate, Reading, read_reply
from bot.services.okrs import current_cycle, kr_view
from bot.services.people import local_today
from bot.services.updates import (
    Actor,
    Change,
    Origin,
    apply_initiative_status,
    apply_kpi_log,
    apply_kr_update,
    know_cycle,
    latest_kpi_values,
    period_of,
    preload_krs,
    revert_reply,
)
from storage.db import Database
from storage.models import (
    CheckinPrompt,
    CheckinRound,
    Cycle,
    Initiative,
    KeyResult,
    Kpi,
    Membership,
    Objective,
    Person,
    ReplyMessage,
    SlackEvent,
    Team,
    Workspace,
)

# A missed schedule is still opened on start within this window; older slots are skipped.
GRACE = dt.timedelta(hours=6)
# A live sender renews its round and its claims this often...
HEARTBEAT = dt.timedelta(seconds=5)
# ...so a round or a `claimed` prompt not renewed for this long was abandoned by a crashed
# sender and may be taken over (three missed beats, then some margin for a slow database).
LEASE = dt.timedelta(seconds=20)
# Sends of one reminder (each with the client's own retries) before it is given up.
MAX_REMINDER_ATTEMPTS = 5
# How far back the start-up catch-up looks for a missed slot worth mentioning in the log.
MISSED_LOOKBACK = dt.timedelta(days=8)
MEMBER_TIMEZONE = "member"
NO_ITEMS = "no_items"
DEACTIVATED = "deactivated"
OPEN_INITIATIVES = (InitiativeStatus.PLANNED, InitiativeStatus.IN_PROGRESS)


# -- what the edge gets back ----------------------------------------------------------------


@dataclass(frozen=True)
class CheckinItem:
    """One numbered line of a member's check-in: what the prompt shows and a reply may change."""

    n: int
    kind: ItemKind
    ref_id: int
    title: str
    unit: str = ""
    short_id: str = ""
    aliases: tuple[str, ...] = ()
    last: float | None = None
    target: float | None = None
    progress: float | None = None
    exceeded: bool = False
    status: str | None = None
    period: str | None = None

    def for_reader(self) -> Item:
        """The item as the reply reader sees it."""
        status = self.status if self.kind == "initiative" else None
        return Item(self.n, self.kind, self.title, self.unit, self.aliases, self.last, status)


@dataclass(frozen=True)
class Delivery:
    """A prompt to send now: to whom, in which language (None: ask Slack), listing what.

    `prompt_id` and `round_id` name its claim (None outside a round). `abandoned_at` is set only
    on a take-over: when the claim was first taken, the earliest its DM may have reached Slack.
    `claimed_at` is that same first time, kept for a retry after a send whose fate is unknown."""

    prompt_id: int | None
    workspace_id: str
    user_id: str
    locale: str | None
    team_name: str
    items: tuple[CheckinItem, ...]
    round_id: int | None = None
    abandoned_at: dt.datetime | None = None
    claimed_at: dt.datetime | None = None


@dataclass(frozen=True)
class RoundWork:
    """What one sweep should send for one round: members now due, and abandoned claims."""

    round_id: int
    team_name: str
    due: tuple[tuple[str, dt.datetime], ...] = ()
    stale: tuple[int, ...] = ()
    workspace_id: str = ""


@dataclass(frozen=True)
class Reminder:
    """A reminder to send now. `check_since` is set when an earlier try may have reached Slack
    (the prompt's send time): the DM is looked at before sending again."""

    prompt_id: int
    workspace_id: str
    user_id: str
    locale: str | None
    team_name: str
    channel_id: str | None
    message_ts: str | None
    items: tuple[CheckinItem, ...]
    check_since: dt.datetime | None = None


@dataclass(frozen=True)
class IncomingReply:
    """A person's DM to the bot, as the event handler hands it over."""

    workspace_id: str
    user_id: str
    channel_id: str
    ts: str
    text: str
    event_id: str | None = None
    thread_ts: str | None = None


@dataclass(frozen=True)
class ReplyResult:
    """What a reply recorded, for the confirmation in its thread."""

    reply_id: int
    round_id: int | None
    items: tuple[CheckinItem, ...]
    changes: tuple[Change, ...] = ()
    unread: tuple[str, ...] = ()
    skipped: bool = False
    no_change: bool = False
    refused: tuple[str, ...] = ()
    answer_ts: str | None = None

    @property
    def read_nothing(self) -> bool:
        """True when nothing in the reply could be used (it is answered with an example)."""
        return not (self.changes or self.skipped or self.no_change)


@dataclass
class _Applied:
    changes: list[Change] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


# -- schedules (pure) ------------------------------------------------------------------------


def latest_slot(
    schedule: str, timezone: str, now: dt.datetime, *, within: dt.timedelta
) -> dt.datetime | None:
    """The latest time the cron `schedule` fired in `timezone` at or before `now`, looking back
    no further than `within`; None when it did not fire in that window."""
    trigger = CronTrigger.from_crontab(schedule, timezone=zoneinfo.ZoneInfo(timezone))
    fire = trigger.get_next_fire_time(None, now - within)
    latest = None
    while fire is not None and fire <= now:
        latest = fire
        fire = trigger.get_next_fire_time(fire, fire + dt.timedelta(seconds=1))
    return latest


def round_key(slot: dt.datetime, *, per_member: bool) -> dt.datetime:
    """The round's `scheduled_for`: the slot's instant, or for `timezone: member` its wall time
    (Monday 09:00) labelled UTC, which every member's own Monday 09:00 shares."""
    if per_member:
        return slot.replace(tzinfo=None).replace(tzinfo=dt.UTC)
    return slot.astimezone(dt.UTC)


def _member_due(key: dt.datetime, timezone: str) -> dt.datetime:
    """When a `timezone: member` round's wall time comes in one member's timezone."""
    wall = key.replace(tzinfo=None)
    return wall.replace(tzinfo=zoneinfo.ZoneInfo(timezone)).astimezone(dt.UTC)


def is_away(person: Person | None, now: dt.datetime) -> bool:
    """Away until (and including) `away_until`, a day in the person's own timezone."""
    if person is None or person.away_until is None:
        return False
    return local_today(person.timezone, now) <= person.away_until


# -- members and their items -----------------------------------------------------------------


async def _members(session: AsyncSession, team_id: int) -> list[str]:
    query = (
        select(Membership.user_id)
        .where(Membership.team_id == team_id, Membership.role == Role.MEMBER)
        .distinct()
        .order_by(col(Membership.user_id))
    )
    return list((await session.exec(query)).all())


async def _people(
    session: AsyncSession, workspace_id: str, user_ids: Iterable[str]
) -> dict[str, Person]:
    query = select(Person).where(
        Person.workspace_id == workspace_id, col(Person.user_id).in_(list(user_ids))
    )
    return {person.user_id: person for person in (await session.exec(query)).all()}


async def _person(session: AsyncSession, workspace_id: str, user_id: str) -> Person | None:
    return (await _people(session, workspace_id, [user_id])).get(user_id)


async def member_items(
    session: AsyncSession, workspace_id: str, user_id: str, team_id: int | None, now: dt.datetime
) -> tuple[CheckinItem, ...]:
    """A member's KRs and open initiatives in the current cycle and the KPIs they own (of one
    team, or all teams), numbered from 1 in the order the prompt shows them."""
    cycle = await current_cycle(session, workspace_id, now.date())
    objectives = select(Objective.id).where(Objective.workspace_id == workspace_id)
    if cycle is not None:
        objectives = objectives.where(Objective.cycle_id == cycle.id)
    if team_id is not None:
        objectives = objectives.where(Objective.team_id == team_id)
    expected = expected_progress(cycle.start, cycle.end, now) if cycle else 0.0
    krs = await _kr_items(session, user_id, objectives, expected)
    kpis = await _kpi_items(session, workspace_id, user_id, team_id, now)
    initiatives = await _initiative_items(session, user_id, objectives)
    numbered = enumerate([*krs, *kpis, *initiatives], start=1)
    return tuple(dataclasses.replace(item, n=n) for n, item in numbered)


Objectives = SelectOfScalar[int | None]


async def _kr_items(
    session: AsyncSession, user_id: str, objectives: Objectives, expected: float
) -> list[CheckinItem]:
    query = (
        select(KeyResult)
        .join(Objective, col(Objective.id) == KeyResult.objective_id)
        .where(col(KeyResult.objective_id).in_(objectives), KeyResult.owner_id == user_id)
        .order_by(col(Objective.position), col(KeyResult.position), col(KeyResult.id))
    )
    items = []
    for kr in (await session.exec(query)).all():
        view = kr_view(kr, expected)
        items.append(
            CheckinItem(
                n=0,
                kind="kr",
                ref_id=kr.id or 0,
                title=kr.title,
                unit=kr.unit,
                short_id=view.short_id,
                aliases=tuple(kr.aliases),
                last=kr.current,
                target=kr.target,
                progress=view.progress,
                exceeded=view.exceeded,
                status=view.status,
            )
        )
    return items


async def _kpi_items(
    session: AsyncSession, workspace_id: str, user_id: str, team_id: int | None, now: dt.datetime
) -> list[CheckinItem]:
    query = select(Kpi).where(Kpi.workspace_id == workspace_id, Kpi.owner_id == user_id)
    if team_id is not None:
        query = query.where(Kpi.team_id == team_id)
    kpis = (await session.exec(query.order_by(col(Kpi.id)))).all()
    latest = await latest_kpi_values(session, [kpi.id or 0 for kpi in kpis])
    items = []
    for kpi in kpis:
        last = latest.get(kpi.id or 0)
        status: KpiStatus | None = None
        if last is not None:
            status = kpi_status(last, target=kpi.target, warn=kpi.warn, direction=kpi.direction)
        period = period_of(now.date(), kpi.period)
        items.append(
            CheckinItem(
                n=0,
                kind="kpi",
                ref_id=kpi.id or 0,
                title=kpi.name,
                unit=kpi.unit,
                aliases=tuple(kpi.aliases),
                last=last,
                target=kpi.target,
                status=status,
                period=period,
            )
        )
    return items


async def _initiative_items(
    session: AsyncSession, user_id: str, objectives: Objectives
) -> list[CheckinItem]:
    query = (
        select(Initiative, KeyResult.number)
        .join(KeyResult, col(KeyResult.id) == Initiative.kr_id)
        .where(
            col(KeyResult.objective_id).in_(objectives),
            Initiative.owner_id == user_id,
            col(Initiative.status).in_(OPEN_INITIATIVES),
        )
        .order_by(col(Initiative.id))
    )
    return [
        CheckinItem(0, "initiative", i.id or 0, i.title, short_id=f"KR-{n}", status=i.status)
        for i, n in (await session.exec(query)).all()
    ]


# -- rounds ------------------------------------------------------------------------------------


async def find_team(*, database: Database, name: str, workspace_id: str | None = None) -> Team:
    """A team by name (case-insensitive), in one workspace or in whichever holds it."""
    async with database.session() as session:
        query = select(Team).where(func.lower(Team.name) == name.strip().lower())
        if workspace_id:
            query = query.where(Team.workspace_id == workspace_id)
        team = (await session.exec(query)).first()
    if team is None:
        raise NotFound(what=name)
    return team


async def members_without_timezone(*, database: Database, team_id: int) -> list[tuple[str, str]]:
    """(workspace, member) of a `timezone: member` team whose Slack timezone is not known yet."""
    async with database.session() as session:
        team = await session.get(Team, team_id)
        if team is None or team.checkin_timezone != MEMBER_TIMEZONE:
            return []
        members = await _members(session, team_id)
        people = await _people(session, team.workspace_id, members)
    missing = [user for user in members if not (people.get(user) and people[user].timezone)]
    return [(team.workspace_id, user) for user in missing]


async def due_rounds(
    *,
    database: Database,
    team_id: int,
    now: dt.datetime,
    default_timezone: str,
    lease: dt.timedelta = LEASE,
) -> list[RoundWork]:
    """Open the team's rounds whose slot has come (within the grace window), then say what to
    send in each open round: members now due who have no prompt yet, and abandoned claims.

    A round another sender is working on (a claim within the lease) is left to it, so replicas
    do not split one workspace's rate limit between them; the claims keep them apart anyway."""
    async with database.session() as session:
        team = await session.get(Team, team_id)
        if team is None or not team.checkin_schedule:
            return []
        timezones = await _member_timezones(session, team, default_timezone)
    opened = set()
    for key in _new_slots(team, timezones, now):
        round_id, mine = await _claim_round(database, team, key, timezones, now)
        if mine:
            opened.add(round_id)
    work = await _open_rounds_work(database, team, timezones, now, lease, opened)
    return [item for item in work if item.due or item.stale]


async def _member_timezones(
    session: AsyncSession, team: Team, default_timezone: str
) -> dict[str, str]:
    """Each member's timezone for this team's check-ins: the team's, or with `timezone: member`
    the member's own Slack timezone (the default until it is known)."""
    members = await _members(session, team.id or 0)
    if team.checkin_timezone != MEMBER_TIMEZONE:
        return dict.fromkeys(members, team.checkin_timezone or default_timezone)
    people = await _people(session, team.workspace_id, members)
    return {
        user: (people[user].timezone if user in people else None) or default_timezone
        for user in members
    }


def _new_slots(team: Team, timezones: dict[str, str], now: dt.datetime) -> set[dt.datetime]:
    """Round keys whose slot came for some member within the grace window."""
    per_member = team.checkin_timezone == MEMBER_TIMEZONE
    keys = set()
    for timezone in set(timezones.values()):
        slot = latest_slot(team.checkin_schedule or "", timezone, now, within=GRACE)
        if slot is not None:
            keys.add(round_key(slot, per_member=per_member))
    return keys


def _due_at(team: Team, key: dt.datetime, timezone: str) -> dt.datetime:
    """When a member's prompt of the round keyed `key` is due."""
    return _member_due(key, timezone) if team.checkin_timezone == MEMBER_TIMEZONE else key


async def _claim_round(
    database: Database,
    team: Team,
    key: dt.datetime,
    timezones: dict[str, str],
    now: dt.datetime,
) -> tuple[int, bool]:
    """(round id, True when this call opened it). The unique (team, scheduled_for) decides.
    The round closes `close_after` past the last member's due time."""
    last_due = max([key, *(_due_at(team, key, tz) for tz in timezones.values())])
    try:
        async with database.session() as session:
            row = CheckinRound(
                workspace_id=team.workspace_id,
                team_id=team.id or 0,
                scheduled_for=key,
                opened_at=now,
                heartbeat_at=now,
                closes_at=last_due + dt.timedelta(minutes=team.close_after_minutes),
            )
            session.add(row)
            await session.flush()
            return row.id or 0, True
    except IntegrityError:
        pass  # another replica (or an earlier run) opened it
    async with database.session() as session:
        query = select(CheckinRound.id).where(
            CheckinRound.team_id == team.id, CheckinRound.scheduled_for == key
        )
        return (await session.exec(query)).one() or 0, False


async def open_round_now(
    *, database: Database, team_id: int, now: dt.datetime, default_timezone: str = "UTC"
) -> RoundWork:
    """`okrbot checkin start`: a round for the team right now, every member due at once."""
    async with database.session() as session:
        team = await session.get(Team, team_id)
        if team is None:
            raise NotFound(what=f"team #{team_id}")
        timezones = await _member_timezones(session, team, default_timezone)
    key = now.astimezone(dt.UTC).replace(microsecond=0)
    round_id, mine = await _claim_round(database, team, key, timezones, now)
    due = tuple((user, key) for user in sorted(timezones)) if mine else ()
    return RoundWork(round_id, team.name, due, workspace_id=team.workspace_id)


async def _open_rounds_work(
    database: Database,
    team: Team,
    timezones: dict[str, str],
    now: dt.datetime,
    lease: dt.timedelta,
    opened: set[int],
) -> list[RoundWork]:
    """For each open round of the team: members due without a prompt, and stale claims."""
    async with database.session() as session:
        query = select(CheckinRound).where(
            CheckinRound.team_id == team.id,
            col(CheckinRound.closed_at).is_(None),
            CheckinRound.closes_at > now,
        )
        rounds = (await session.exec(query.order_by(col(CheckinRound.scheduled_for)))).all()
        prompts = (
            await session.exec(
                select(CheckinPrompt).where(col(CheckinPrompt.round_id).in_([r.id for r in rounds]))
            )
        ).all()
    work, idle = [], []
    for round_ in rounds:
        mine = [p for p in prompts if p.round_id == round_.id]
        if round_.id in opened or not _sender_active(round_, now, lease):
            found = _round_work(team, round_, timezones, mine, now, lease)
            work.append(found)
            if round_.heartbeat_at is not None and not (found.due or found.stale):
                idle.append(found.round_id)
    await _forget_heartbeats(database, idle, now - lease)
    return work


async def _forget_heartbeats(database: Database, round_ids: list[int], cutoff: dt.datetime) -> None:
    """Rounds whose sender died with nothing left to send: no longer worth a take-over look."""
    if not round_ids:
        return
    async with database.session() as session:
        await session.exec(
            update(CheckinRound)
            .where(col(CheckinRound.id).in_(round_ids), col(CheckinRound.heartbeat_at) < cutoff)
            .values(heartbeat_at=None)
        )


def _round_work(
    team: Team,
    round_: CheckinRound,
    timezones: dict[str, str],
    prompts: Sequence[CheckinPrompt],
    now: dt.datetime,
    lease: dt.timedelta,
) -> RoundWork:
    claimed = {prompt.user_id for prompt in prompts}
    due = tuple(
        (user, at)
        for user, tz in sorted(timezones.items())
        if user not in claimed and (at := _due_at(team, round_.scheduled_for, tz)) <= now
    )
    stale = tuple(
        p.id or 0
        for p in prompts
        if p.state == PromptState.CLAIMED and (p.renewed_at or p.claimed_at) < now - lease
    )
    return RoundWork(round_.id or 0, team.name, due, stale, team.workspace_id)


def _sender_active(round_: CheckinRound, now: dt.datetime, lease: dt.timedelta) -> bool:
    """A live sender is working on the round: its heartbeat is within the lease."""
    return round_.heartbeat_at is not None and round_.heartbeat_at > now - lease


def _lapsed(lease_cutoff: dt.datetime) -> ColumnElement[bool]:
    """A `claimed` prompt whose claim was last renewed (or taken) before the cutoff."""
    return or_(
        and_(col(CheckinPrompt.renewed_at).is_(None), col(CheckinPrompt.claimed_at) < lease_cutoff),
        col(CheckinPrompt.renewed_at) < lease_cutoff,
    )


async def team_workspace(*, database: Database, team_id: int) -> str | None:
    """The workspace a team belongs to."""
    async with database.session() as session:
        team = await session.get(Team, team_id)
    return team.workspace_id if team else None


async def abandoned_teams(
    *, database: Database, now: dt.datetime, lease: dt.timedelta = LEASE
) -> list[int]:
    """Teams with an open round whose sender stopped beating without finishing (killed)."""
    async with database.session() as session:
        query = select(CheckinRound.team_id).where(
            col(CheckinRound.closed_at).is_(None),
            CheckinRound.closes_at > now,
            col(CheckinRound.heartbeat_at) < now - lease,
        )
        return sorted(set((await session.exec(query)).all()))


async def beat(
    *,
    database: Database,
    now: dt.datetime,
    round_id: int | None = None,
    prompt_ids: Iterable[int] = (),
    reminder_ids: Iterable[int] = (),
) -> None:
    """A live sender's heartbeat: its round, and the prompt and reminder claims it holds."""
    prompt_ids, reminder_ids = list(prompt_ids), list(reminder_ids)
    async with database.session() as session:
        if round_id is not None:
            await session.exec(
                update(CheckinRound)
                .where(col(CheckinRound.id) == round_id)
                .values(heartbeat_at=now)
            )
        if prompt_ids:
            await session.exec(
                update(CheckinPrompt)
                .where(
                    col(CheckinPrompt.id).in_(prompt_ids),
                    col(CheckinPrompt.state) == PromptState.CLAIMED,
                )
                .values(renewed_at=now)
            )
        if reminder_ids:
            await session.exec(
                update(CheckinPrompt)
                .where(
                    col(CheckinPrompt.id).in_(reminder_ids),
                    col(CheckinPrompt.reminded_at).is_(None),
                    col(CheckinPrompt.reminder_claimed_at).is_not(None),
                )
                .values(reminder_claimed_at=now)
            )


async def release_round(*, database: Database, round_id: int) -> None:
    """The sender is done with the round for now: nobody need wait for its heartbeat."""
    async with database.session() as session:
        await session.exec(
            update(CheckinRound).where(col(CheckinRound.id) == round_id).values(heartbeat_at=None)
        )


async def release_prompt(
    *, database: Database, prompt_id: int, now: dt.datetime, lease: dt.timedelta = LEASE
) -> None:
    """Hand a claim this sender could not settle to whoever sweeps next: it is left `claimed`
    with its renewal a lease old, so it counts as abandoned at once (and its DM is looked at
    before any new send)."""
    async with database.session() as session:
        await session.exec(
            update(CheckinPrompt)
            .where(
                col(CheckinPrompt.id) == prompt_id, col(CheckinPrompt.state) == PromptState.CLAIMED
            )
            .values(renewed_at=now - lease)
        )


async def claim_prompt(
    *,
    database: Database,
    round_id: int,
    user_id: str,
    due_at: dt.datetime,
    now: dt.datetime,
) -> Delivery | None:
    """Claim (round, member) before sending. Away or deactivated members, and members with
    nothing to check in on, get their row in that state and nothing to send. None when someone
    else holds the claim or there is nothing to send."""
    try:
        async with database.session() as session:
            round_ = await session.get(CheckinRound, round_id)
            team = await session.get(Team, round_.team_id) if round_ else None
            if round_ is None or team is None:
                return None
            person = await _person(session, round_.workspace_id, user_id)
            items = await member_items(session, round_.workspace_id, user_id, team.id, now)
            state, error = _initial_state(person, items, now)
            row = CheckinPrompt(
                workspace_id=round_.workspace_id,
                round_id=round_id,
                user_id=user_id,
                state=state,
                due_at=due_at,
                claimed_at=now,
                error=error,
            )
            session.add(row)
            await session.flush()
    except IntegrityError:
        return None
    if state != PromptState.CLAIMED:
        return None
    locale = person.locale if person else None
    return Delivery(
        row.id, round_.workspace_id, user_id, locale, team.name, items, round_id, claimed_at=now
    )


async def _prompt_id(session: AsyncSession, round_id: int, user_id: str) -> int:
    query = select(CheckinPrompt.id).where(
        CheckinPrompt.round_id == round_id, CheckinPrompt.user_id == user_id
    )
    return (await session.exec(query)).one() or 0


def _initial_state(
    person: Person | None, items: Sequence[CheckinItem], now: dt.datetime
) -> tuple[PromptState, str | None]:
    if is_away(person, now):
        return PromptState.AWAY, None
    if person is not None and person.deactivated:
        return PromptState.FAILED, DEACTIVATED
    if not items:
        return PromptState.SKIPPED, NO_ITEMS
    return PromptState.CLAIMED, None


async def reclaim_prompt(
    *, database: Database, prompt_id: int, now: dt.datetime, lease: dt.timedelta = LEASE
) -> Delivery | None:
    """Take over a claim abandoned by a crashed sender; None when someone else took it first.

    The delivery carries the claim's first time: any sender that held it may have reached
    Slack after it, so the caller must look there before sending again. `claimed_at` never
    moves (only `renewed_at` does), so a chain of failed take-overs still looks back far
    enough."""
    async with database.session() as session:
        prompt = await session.get(CheckinPrompt, prompt_id)
        if prompt is None:
            return None
        result = await session.exec(
            update(CheckinPrompt)
            .where(
                col(CheckinPrompt.id) == prompt_id,
                col(CheckinPrompt.state) == PromptState.CLAIMED,
                _lapsed(now - lease),
            )
            .values(renewed_at=now)
        )
        if result.rowcount != 1:
            return None
        round_ = await session.get(CheckinRound, prompt.round_id)
        team = await session.get(Team, round_.team_id) if round_ else None
        if round_ is None or team is None:
            return None
        person = await _person(session, prompt.workspace_id, prompt.user_id)
        items = await member_items(session, prompt.workspace_id, prompt.user_id, team.id, now)
    return Delivery(
        prompt_id,
        prompt.workspace_id,
        prompt.user_id,
        person.locale if person else None,
        team.name,
        items,
        prompt.round_id,
        prompt.claimed_at,
        prompt.claimed_at,
    )


async def sent_count(*, database: Database, round_id: int) -> int:
    """How many prompts of a round went out."""
    async with database.session() as session:
        query = select(func.count()).where(
            CheckinPrompt.round_id == round_id, CheckinPrompt.state == PromptState.SENT
        )
        return int((await session.exec(query)).one())


async def mark_sent(
    *, database: Database, prompt_id: int, channel_id: str, ts: str, now: dt.datetime
) -> None:
    """The DM went out: remember where, so replies and reminders find it."""
    async with database.session() as session:
        await session.exec(
            update(CheckinPrompt)
            .where(col(CheckinPrompt.id) == prompt_id)
            .values(state=PromptState.SENT, channel_id=channel_id, message_ts=ts, sent_at=now)
        )


async def mark_failed(
    *, database: Database, prompt_id: int, error: str, deactivated: bool = False
) -> None:
    """The DM cannot be delivered (the member left Slack, say): never tried again this round.

    A deactivated member is remembered as such, and skipped by later rounds."""
    async with database.session() as session:
        prompt = await session.get(CheckinPrompt, prompt_id)
        if prompt is None:
            return
        prompt.state, prompt.error = PromptState.FAILED, error[:200]
        session.add(prompt)
        person = await _person(session, prompt.workspace_id, prompt.user_id)
        if deactivated and person is not None:
            person.deactivated = True
            session.add(person)


async def prompt_now(
    *, database: Database, workspace_id: str, user_id: str, now: dt.datetime
) -> Delivery:
    """`/okr checkin`: the caller's prompt now, in their open round if they have one (claiming
    it, so the round does not send a second one), else outside any round."""
    async with database.session() as session:
        open_round = await _open_round_of(session, workspace_id, user_id, now)
        team = await session.get(Team, open_round.team_id) if open_round else None
        items = await member_items(session, workspace_id, user_id, team.id if team else None, now)
        person = await _person(session, workspace_id, user_id)
    prompt_id = round_id = None
    if open_round is not None:
        prompt_id = await _claim_for_caller(database, open_round, user_id, now)
        round_id = open_round.id
    locale = person.locale if person else None
    team_name = team.name if team else ""
    return Delivery(prompt_id, workspace_id, user_id, locale, team_name, items, round_id)


async def _open_round_of(
    session: AsyncSession, workspace_id: str, user_id: str, now: dt.datetime
) -> CheckinRound | None:
    """The most recent open round of one of the member's teams."""
    teams = select(Membership.team_id).where(
        Membership.workspace_id == workspace_id, Membership.user_id == user_id
    )
    query = (
        select(CheckinRound)
        .where(
            col(CheckinRound.team_id).in_(teams),
            col(CheckinRound.closed_at).is_(None),
            CheckinRound.closes_at > now,
        )
        .order_by(col(CheckinRound.scheduled_for).desc())
    )
    return (await session.exec(query)).first()


async def _claim_for_caller(
    database: Database, round_: CheckinRound, user_id: str, now: dt.datetime
) -> int | None:
    """The caller's prompt row in the round: claimed now, or the one already there."""
    try:
        async with database.session() as session:
            row = CheckinPrompt(
                workspace_id=round_.workspace_id,
                round_id=round_.id or 0,
                user_id=user_id,
                due_at=now,
                claimed_at=now,
            )
            session.add(row)
            await session.flush()
            return row.id
    except IntegrityError:
        async with database.session() as session:
            return await _prompt_id(session, round_.id or 0, user_id)


# -- reminders and closing -------------------------------------------------------------------


async def due_reminders(
    *, database: Database, team_id: int, now: dt.datetime, lease: dt.timedelta = LEASE
) -> list[Reminder]:
    """Claim the reminders now due in the team's open rounds: prompts sent `remind_after` ago
    and not answered, to members not away, not reminded yet and not being reminded by someone
    else, with tries left. The conditional claim decides who sends, whoever runs this."""
    async with database.session() as session:
        team = await session.get(Team, team_id)
        if team is None:
            return []
        since = now - dt.timedelta(minutes=team.remind_after_minutes)
        query = (
            select(CheckinPrompt)
            .join(CheckinRound, col(CheckinRound.id) == CheckinPrompt.round_id)
            .where(
                CheckinRound.team_id == team_id,
                col(CheckinRound.closed_at).is_(None),
                CheckinRound.closes_at > now,
                col(CheckinPrompt.sent_at) <= since,
                _reminder_free(now - lease),
            )
        )
        candidates = (await session.exec(query)).all()
    reminders = []
    for prompt in candidates:
        reminder = await _claim_reminder(database, prompt, team.name, now, lease)
        if reminder is not None:
            reminders.append(reminder)
    return reminders


def _reminder_free(lease_cutoff: dt.datetime) -> ColumnElement[bool]:
    """A sent prompt whose reminder is neither sent, nor held by a live sender, nor given up."""
    return and_(
        col(CheckinPrompt.state) == PromptState.SENT,
        col(CheckinPrompt.reminded_at).is_(None),
        col(CheckinPrompt.reminder_attempts) < MAX_REMINDER_ATTEMPTS,
        or_(
            col(CheckinPrompt.reminder_claimed_at).is_(None),
            col(CheckinPrompt.reminder_claimed_at) < lease_cutoff,
        ),
    )


async def _claim_reminder(
    database: Database, prompt: CheckinPrompt, team_name: str, now: dt.datetime, lease: dt.timedelta
) -> Reminder | None:
    async with database.session() as session:
        person = await _person(session, prompt.workspace_id, prompt.user_id)
        if is_away(person, now):
            return None  # not claimed: nothing is sent while away
        result = await session.exec(
            update(CheckinPrompt)
            .where(col(CheckinPrompt.id) == prompt.id, _reminder_free(now - lease))
            .values(
                reminder_claimed_at=now,
                reminder_attempts=col(CheckinPrompt.reminder_attempts) + 1,
            )
        )
        if result.rowcount != 1:
            return None
        round_ = await session.get(CheckinRound, prompt.round_id)
        team_id = round_.team_id if round_ else None
        items = await member_items(session, prompt.workspace_id, prompt.user_id, team_id, now)
    return Reminder(
        prompt.id or 0,
        prompt.workspace_id,
        prompt.user_id,
        person.locale if person else None,
        team_name,
        prompt.channel_id,
        prompt.message_ts,
        items,
        # An earlier try may have reached Slack before it failed or its sender died.
        prompt.sent_at if prompt.reminder_attempts > 0 else None,
    )


async def mark_reminded(*, database: Database, prompt_id: int, now: dt.datetime) -> None:
    """The reminder is in the member's DM: never sent again."""
    async with database.session() as session:
        await session.exec(
            update(CheckinPrompt).where(col(CheckinPrompt.id) == prompt_id).values(reminded_at=now)
        )


async def release_reminder(*, database: Database, prompt_id: int, give_up: bool = False) -> None:
    """A reminder that was not sent: tried again by the next sweep while tries are left, or
    (`give_up`, the member cannot be written to) never."""
    values: dict[str, object] = {"reminder_claimed_at": None}
    if give_up:
        values["reminder_attempts"] = MAX_REMINDER_ATTEMPTS
    async with database.session() as session:
        await session.exec(
            update(CheckinPrompt)
            .where(col(CheckinPrompt.id) == prompt_id, col(CheckinPrompt.reminded_at).is_(None))
            .values(**values)
        )


async def close_rounds(*, database: Database, team_id: int, now: dt.datetime) -> list[int]:
    """Close the team's rounds past `closes_at`; the ids this call closed (once each)."""
    async with database.session() as session:
        query = select(CheckinRound.id).where(
            CheckinRound.team_id == team_id,
            col(CheckinRound.closed_at).is_(None),
            CheckinRound.closes_at <= now,
        )
        closed = []
        for round_id in (await session.exec(query)).all():
            result = await session.exec(
                update(CheckinRound)
                .where(col(CheckinRound.id) == round_id, col(CheckinRound.closed_at).is_(None))
                .values(closed_at=now)
            )
            if result.rowcount == 1:
                closed.append(round_id or 0)
    return closed


async def missed_slot(
    *, database: Database, team_id: int, now: dt.datetime, default_timezone: str
) -> dt.datetime | None:
    """The team's latest slot when it was missed by more than the grace window (and so will not
    be sent); None when the latest slot is recent, or was held."""
    async with database.session() as session:
        team = await session.get(Team, team_id)
        if team is None or not team.checkin_schedule:
            return None
        timezone = team.checkin_timezone or default_timezone
        if timezone == MEMBER_TIMEZONE:
            timezone = default_timezone
        slot = latest_slot(team.checkin_schedule, timezone, now, within=MISSED_LOOKBACK)
        if slot is None or slot > now - GRACE:
            return None
        query = select(CheckinRound.id).where(
            CheckinRound.team_id == team_id,
            CheckinRound.scheduled_for >= slot - dt.timedelta(days=1),
        )
        held = (await session.exec(query)).first()
    return None if held else slot


# -- replies ---------------------------------------------------------------------------------


async def take_reply(
    *, database: Database, message: IncomingReply, now: dt.datetime
) -> ReplyResult | None:
    """Read a DM and record what it says. None for a Slack retry or a message already recorded
    (event id and (channel, ts) are unique rows).

    The reading (the member's items, the reader) is done in a read unit; only recording it
    takes a write unit, so a burst of replies queues for the writer as briefly as it can."""
    reading = await _read(database, message, now)
    try:
        return await database.transact(lambda session: _record_new(session, message, reading))
    except IntegrityError:
        return None


async def retake_reply(
    *, database: Database, message: IncomingReply, now: dt.datetime
) -> ReplyResult | None:
    """An edited DM: revert what it recorded, then record the edited text in its place. A
    message never seen before is taken as new; an edit that leaves the text alone is ignored."""
    reading = await _read(database, message, now)
    try:
        result = await database.transact(
            lambda session: _record_edit(session, message, reading, now)
        )
    except IntegrityError:
        return None
    if result is not _UNSEEN:
        return result
    unseen = dataclasses.replace(message, event_id=None)  # its event id was claimed above
    return await take_reply(database=database, message=unseen, now=now)


@dataclass(frozen=True)
class _Reading:
    """A reply read against the member's items, before anything is recorded."""

    prompt_id: int | None
    round_id: int | None
    items: tuple[CheckinItem, ...]
    reading: Reading | None
    received_at: dt.datetime
    deactivated: bool = False  # the writer was marked deactivated: evidently not any more
    cycle: Cycle | None = None


# Returned by `_record_edit` for an edit of a message okrbot never recorded.
_UNSEEN = ReplyResult(0, None, ())


async def _read(database: Database, message: IncomingReply, now: dt.datetime) -> _Reading:
    """The prompt a reply answers, the member's items, and what the reply says of them."""
    async with database.read() as session:
        prompt = await _answered_prompt(session, message, now)
        round_ = await session.get(CheckinRound, prompt.round_id) if prompt else None
        team_id = round_.team_id if round_ else None
        items = await member_items(session, message.workspace_id, message.user_id, team_id, now)
        person = await _person(session, message.workspace_id, message.user_id)
        cycle = await current_cycle(session, message.workspace_id, now.date())
    if not items:
        return _Reading(None, round_.id if round_ else None, (), None, now)
    locale = person.locale if person and person.locale else "en"
    reading = read_reply(message.text, [item.for_reader() for item in items], locale=locale)
    return _Reading(
        prompt.id if prompt else None,
        prompt.round_id if prompt else None,
        items,
        reading,
        now,
        deactivated=bool(person and person.deactivated),
        cycle=cycle,
    )


async def _record_new(
    session: AsyncSession, message: IncomingReply, reading: _Reading
) -> ReplyResult | None:
    if not await _first_delivery(session, message):
        return None
    reply = ReplyMessage(
        workspace_id=message.workspace_id,
        channel_id=message.channel_id,
        ts=message.ts,
        user_id=message.user_id,
        text=message.text[:40000],
        received_at=reading.received_at,
    )
    session.add(reply)
    await session.flush()
    return await _apply(session, reply, message, reading)


async def _record_edit(
    session: AsyncSession, message: IncomingReply, reading: _Reading, now: dt.datetime
) -> ReplyResult | None:
    if not await _first_delivery(session, message):
        return None
    reply = await _reply_at(session, message.channel_id, message.ts)
    if reply is None:
        return _UNSEEN
    if reply.text == message.text:
        return None
    await revert_reply(session, reply.id or 0)
    reply.text, reply.edited_at, reply.undone_at = message.text[:40000], now, None
    session.add(reply)
    return await _apply(session, reply, message, reading)


async def _first_delivery(session: AsyncSession, message: IncomingReply) -> bool:
    """Claim the event id (Slack retries repeat it); False when it was handled already."""
    if message.event_id is None:
        return True
    if await session.get(SlackEvent, message.event_id) is not None:
        return False
    if await session.get(Workspace, message.workspace_id) is None:
        session.add(Workspace(id=message.workspace_id))
    session.add(SlackEvent(event_id=message.event_id, workspace_id=message.workspace_id))
    await session.flush()
    return True


async def _reply_at(session: AsyncSession, channel_id: str, ts: str) -> ReplyMessage | None:
    query = select(ReplyMessage).where(ReplyMessage.channel_id == channel_id, ReplyMessage.ts == ts)
    return (await session.exec(query)).first()


async def _apply(
    session: AsyncSession, reply: ReplyMessage, message: IncomingReply, read: _Reading
) -> ReplyResult:
    """Record what the reading found: the items' updates, the prompt answered."""
    reply.round_id = read.round_id if read.round_id is not None else reply.round_id
    session.add(reply)
    if read.reading is None:
        return ReplyResult(reply.id or 0, reply.round_id, (), answer_ts=reply.answer_ts)
    reading, now = read.reading, read.received_at
    know_cycle(session, message.workspace_id, now.date(), read.cycle)
    origin = Origin(round_id=reply.round_id, reply_id=reply.id, message_ts=reply.ts)
    actor = Actor(message.workspace_id, message.user_id, Source.DM)
    applied = await _apply_reading(session, reading, read.items, actor, origin, now)
    prompt = await session.get(CheckinPrompt, read.prompt_id) if read.prompt_id else None
    if prompt is not None:
        _mark_answered(session, prompt, reading, now)
    if read.deactivated:
        await _reactivate(session, message.workspace_id, message.user_id)
    return ReplyResult(
        reply.id or 0,
        reply.round_id,
        read.items,
        tuple(applied.changes),
        reading.unread,
        reading.skip,
        reading.no_change,
        tuple(applied.refused),
        reply.answer_ts,
    )


async def _answered_prompt(
    session: AsyncSession, message: IncomingReply, now: dt.datetime
) -> CheckinPrompt | None:
    """The prompt a reply answers: the one it is threaded under, else the member's latest in an
    open round. None outside a round (after the close, replies still count, without a round)."""
    query = (
        select(CheckinPrompt)
        .join(CheckinRound, col(CheckinRound.id) == CheckinPrompt.round_id)
        .where(
            CheckinPrompt.workspace_id == message.workspace_id,
            CheckinPrompt.user_id == message.user_id,
            col(CheckinPrompt.state).in_(
                [PromptState.CLAIMED, PromptState.SENT, PromptState.ANSWERED, PromptState.SKIPPED]
            ),
            col(CheckinRound.closed_at).is_(None),
            CheckinRound.closes_at > now,
        )
        .order_by(col(CheckinPrompt.claimed_at).desc(), col(CheckinPrompt.id).desc())
    )
    prompts = (await session.exec(query)).all()
    threaded = [p for p in prompts if message.thread_ts and p.message_ts == message.thread_ts]
    return (threaded or list(prompts) or [None])[0]


def _mark_answered(
    session: AsyncSession, prompt: CheckinPrompt, reading: Reading, now: dt.datetime
) -> None:
    if prompt.state == PromptState.SKIPPED and prompt.error == NO_ITEMS:
        return
    prompt.state = PromptState.SKIPPED if reading.skip else PromptState.ANSWERED
    prompt.answered_at = prompt.answered_at or now
    session.add(prompt)


async def _reactivate(session: AsyncSession, workspace_id: str, user_id: str) -> None:
    """Someone who writes to the bot is evidently not deactivated any more."""
    await session.exec(
        update(Person)
        .where(col(Person.workspace_id) == workspace_id, col(Person.user_id) == user_id)
        .values(deactivated=False)
    )  # type: ignore[call-overload]


async def _apply_reading(
    session: AsyncSession,
    reading: Reading,
    items: Sequence[CheckinItem],
    actor: Actor,
    origin: Origin,
    now: dt.datetime,
) -> _Applied:
    """Record each update the reader was sure of; `no change` confirms the KRs not mentioned."""
    applied = _Applied()
    if reading.skip:
        return applied
    by_number = {item.n: item for item in items}
    await preload_krs(session, [item.ref_id for item in items if item.kind == "kr"])
    for update_ in reading.updates:
        item = by_number.get(update_.n)
        if item is not None:
            await _apply_one(session, item, update_, actor, origin, now, applied)
    if reading.no_change:
        mentioned = {update_.n for update_ in reading.updates}
        for item in items:
            if item.kind == "kr" and item.n not in mentioned:
                await _apply_one(session, item, ItemUpdate(item.n), actor, origin, now, applied)
    return applied


async def _apply_one(
    session: AsyncSession,
    item: CheckinItem,
    said: ItemUpdate,
    actor: Actor,
    origin: Origin,
    now: dt.datetime,
    applied: _Applied,
) -> None:
    """One item's update through the shared write path. Permission is checked before anything
    is written, so a refusal (the item changed hands since) costs only that line."""
    try:
        if item.kind == "kr":
            applied.changes.append(await _apply_kr(session, item, said, actor, origin, now))
        elif item.kind == "kpi" and said.value is not None:
            applied.changes += await apply_kpi_log(
                session,
                actor=actor,
                kpi_id=item.ref_id,
                value=said.value,
                note=said.note,
                origin=origin,
                now=now,
            )
        elif item.kind == "initiative" and said.status and said.status != item.status:
            applied.changes.append(
                await apply_initiative_status(
                    session,
                    actor=actor,
                    initiative_id=item.ref_id,
                    status=said.status,
                    note=said.note,
                    origin=origin,
                )
            )
    except (NotAllowed, NotFound):
        applied.refused.append(item.title)


async def _apply_kr(
    session: AsyncSession,
    item: CheckinItem,
    said: ItemUpdate,
    actor: Actor,
    origin: Origin,
    now: dt.datetime,
) -> Change:
    # A reply that names no status keeps the one the owner set before ("no change" confirms it).
    kr = await session.get(KeyResult, item.ref_id)
    status = said.status if said.status is not None else (kr.status if kr else None)
    return await apply_kr_update(
        session,
        actor=actor,
        kr_id=item.ref_id,
        value=said.value,
        confidence=said.confidence,
        status=status,
        note=said.note,
        origin=origin,
        now=now,
    )


async def remember_answer(*, database: Database, reply_id: int, answer_ts: str) -> None:
    """Where the bot's confirmation of a reply is, so an edit updates it in place."""
    async with database.session() as session:
        await session.exec(
            update(ReplyMessage).where(col(ReplyMessage.id) == reply_id).values(answer_ts=answer_ts)
        )


# -- away ------------------------------------------------------------------------------------


_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DAY_MONTH = re.compile(r"^(\d{1,2})\.?\s+([^\W\d_]+)\.?(?:\s+(\d{4}))?$")
_MONTH_DAY = re.compile(r"^([^\W\d_]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?(?:\s+(\d{4}))?$")


def parse_until(text: str, today: dt.date) -> dt.date | None:
    """`2026-12-01`, `Dec 1`, `December 1st`, `1 Des`, `1 Desember 2026` -> a date (the next
    such day when no year is given); None when it is not a date."""
    words = " ".join(text.strip().lower().split())
    iso = _ISO_DATE.match(words)
    if iso:
        return _date(int(iso[1]), int(iso[2]), int(iso[3]))
    day_month = _DAY_MONTH.match(words)
    month_day = _MONTH_DAY.match(words)
    if day_month:
        day, name, year = day_month.groups()
    elif month_day:
        name, day, year = month_day.groups()
    else:
        return None
    month = _month_number(name)
    if month is None:
        return None
    if year:
        return _date(int(year), month, int(day))
    found = _date(today.year, month, int(day))
    return _date(today.year + 1, month, int(day)) if found and found < today else found


def _date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _month_number(name: str) -> int | None:
    """A month by its English or Indonesian name or abbreviation (`des`, `agu`, `sept`)."""
    for locale in ("en", "id"):
        for width in ("wide", "abbreviated"):
            names = get_month_names(width, locale=cldr_locale(locale))
            for number, month in names.items():
                if month.lower().rstrip(".") == name or (
                    len(name) >= 3 and month.lower().startswith(name)
                ):
                    return number
    return None


async def set_away(
    *, database: Database, workspace_id: str, user_id: str, until: dt.date | None
) -> None:
    """Pause (or, with None, resume) a person's prompts and reminders."""
    async with database.session() as session:
        person = await _person(session, workspace_id, user_id)
        if person is None:
            if await session.get(Workspace, workspace_id) is None:
                session.add(Workspace(id=workspace_id))
            person = Person(workspace_id=workspace_id, user_id=user_id)
        person.away_until = until
        session.add(person)
