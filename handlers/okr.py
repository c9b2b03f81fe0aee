"""`/okr` subcommands: status, tree, mine, update, history, score, close, add."""

from __future__ import annotations

from slack_bolt.async_app import AsyncRespond
from slack_bolt.context.async_context import AsyncBoltContext

from bot.blocks.message import Message
from bot.blocks.modals import build_close_cycle, build_okr_add
from bot.blocks.status import build_status
from bot.blocks.tree import build_tree
from bot.blocks.updates import build_changes, build_history, build_mine, build_scored
from bot.commandtext import ValueText, read_score, read_value, split_reference
from bot.domain import Source
from bot.errors import InvalidInput, OkrbotError
from bot.i18n import N_, t
from bot.services import closing, okrs, scoring, tree, updates
from bot.services.container import Services
from handlers.common import Caller, say_no_team, services_of
from handlers.home import home_changed
from storage.models import KeyResult, Team

UPDATE_USAGE = N_(
    "Write it as `/okr update KR-7 74 [note]`, or with a word of the KR: `/okr update nps 74`."
)

SCORE_USAGE = N_(
    "Write it as `/okr score KR-7 0.7 [note]`: a score from 0 to 1 (or 0% to 100%), then a "
    "line of retrospective."
)


async def status(who: Caller, rest: str, context: AsyncBoltContext, respond: AsyncRespond) -> None:
    """`/okr status [team]`: the objectives of the named team, the channel's, or the caller's."""
    services = services_of(context)
    statuses = await okrs.status_for(
        database=services.database,
        workspace_id=who.workspace_id,
        user_id=who.user_id,
        channel_id=context.channel_id,
        name=rest or None,
        now=services.clock(),
    )
    if not statuses:
        await say_no_team(who, rest, respond)
        return
    message = build_status(statuses, who.locale, shareable=True)
    await respond(**message.as_kwargs(), response_type="ephemeral")


async def status_message(
    services: Services, who: Caller, teams: list[Team], *, shareable: bool, cycle: str | None = None
) -> Message:
    statuses = await okrs.team_status(
        database=services.database,
        workspace_id=who.workspace_id,
        teams=teams,
        now=services.clock(),
        cycle_name=cycle,
    )
    return build_status(statuses, who.locale, shareable=shareable)


async def show_tree(
    who: Caller, rest: str, context: AsyncBoltContext, respond: AsyncRespond
) -> None:
    """`/okr tree [team|O-n]`: how objectives align, from the top or from a team or one down."""
    services = services_of(context)
    found = await tree.tree_for(
        database=services.database,
        workspace_id=who.workspace_id,
        ref=rest or None,
        now=services.clock(),
    )
    await respond(**build_tree(found, who.locale).as_kwargs(), response_type="ephemeral")


async def mine(who: Caller, rest: str, context: AsyncBoltContext, respond: AsyncRespond) -> None:
    """`/okr mine`: the caller's key results and initiatives."""
    services = services_of(context)
    items = await okrs.my_items(
        database=services.database,
        workspace_id=who.workspace_id,
        user_id=who.user_id,
        now=services.clock(),
    )
    await respond(**build_mine(items, who.locale).as_kwargs(), response_type="ephemeral")


async def update(who: Caller, rest: str, context: AsyncBoltContext, respond: AsyncRespond) -> None:
    """`/okr update <KR> <value> [note]`: records a new value, if the caller may change the KR."""
    services = services_of(context)
    ref, tail = split_reference(rest)
    if not ref or not tail:
        raise InvalidInput(UPDATE_USAGE)

    def read(kr: KeyResult) -> ValueText:
        found = read_value(tail, title=kr.title, unit=kr.unit, last=kr.current, locale=who.locale)
        if found is None:
            raise InvalidInput(
                N_("I could not read a value in `{text}`. {usage}"),
                text=tail,
                usage=t(who.locale, UPDATE_USAGE),
            )
        return found

    actor = updates.Actor(who.workspace_id, who.user_id, Source.COMMAND)
    # A burst of updates is recorded a batch at a time, in one write unit.
    change = await services.kr_updates.submit(updates.NamedUpdate(actor, ref, read))
    if isinstance(change, OkrbotError):
        raise change
    await respond(**build_changes([change], who.locale).as_kwargs(), response_type="ephemeral")
    home_changed(context, who)


async def score(who: Caller, rest: str, context: AsyncBoltContext, respond: AsyncRespond) -> None:
    """`/okr score <KR> <score> [note]`: the KR's end-of-cycle score and a retrospective line."""
    services = services_of(context)
    ref, tail = split_reference(rest)
    said = read_score(tail) if ref and tail else None
    if said is None:
        raise InvalidInput(SCORE_USAGE)
    scored = await scoring.score_kr(
        database=services.database,
        actor=updates.Actor(who.workspace_id, who.user_id, Source.COMMAND),
        ref=ref,
        score=said.value,
        note=said.rest or None,
    )
    await respond(**build_scored(scored, who.locale).as_kwargs(), response_type="ephemeral")


async def history(who: Caller, rest: str, context: AsyncBoltContext, respond: AsyncRespond) -> None:
    """`/okr history <KR>`: every change to the KR, with who, when and from where."""
    services = services_of(context)
    if not rest:
        raise InvalidInput(N_("Which key result? For example `/okr history KR-7`."))
    kr = await okrs.find_kr(
        database=services.database, workspace_id=who.workspace_id, ref=rest, user_id=who.user_id
    )
    entries, total = await okrs.kr_history(database=services.database, kr=kr)
    await respond(
        **build_history(kr, entries, total, who.locale).as_kwargs(), response_type="ephemeral"
    )


async def add(who: Caller, rest: str, context: AsyncBoltContext, respond: AsyncRespond) -> None:
    """`/okr add`: opens the modal to create an objective with its key results."""
    services = services_of(context)
    teams = await okrs.find_teams(
        database=services.database, workspace_id=who.workspace_id, user_id=who.user_id
    )
    if not teams:
        await say_no_team(who, "", respond)
        return
    await context.client.views_open(
        trigger_id=context["trigger_id"], view=build_okr_add(teams, who.user_id, who.locale)
    )


async def close(who: Caller, rest: str, context: AsyncBoltContext, respond: AsyncRespond) -> None:
    """`/okr close [cycle]`: a manager's modal to close the cycle, a checkbox per unfinished KR."""
    services = services_of(context)
    draft = await closing.close_draft(
        database=services.database,
        workspace_id=who.workspace_id,
        user_id=who.user_id,
        name=rest or None,
        now=services.clock(),
    )
    await context.client.views_open(
        trigger_id=context["trigger_id"], view=build_close_cycle(draft, who.locale)
    )


SUBCOMMANDS = {
    "status": status,
    "tree": show_tree,
    "mine": mine,
    "update": update,
    "history": history,
    "score": score,
    "close": close,
    "add": add,
}
