"""Modals as `build_*` / `parse_*` pairs: the view okrbot opens, and what its submission means.

`parse_*` returns either the typed input for a service or `{block_id: error}` for Slack's
`response_action="errors"`, so nothing is stored until every field is valid.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from bot.blocks import ids
from bot.blocks.common import escape
from bot.commandtext import read_value
from bot.domain import Direction, Period
from bot.i18n import N_, t
from bot.progress import percent
from bot.services.closing import CloseDraft
from bot.services.create import NewKpi, NewKr, NewObjective
from storage.models import KeyResult, Team

MAX_KRS = 5
FIELD = "value"  # every input block holds one element with this action_id
Errors = dict[str, str]
State = Mapping[str, Mapping[str, Mapping[str, Any]]]


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def _input(
    block_id: str, label: str, element: dict[str, Any], *, optional: bool = False
) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": block_id,
        "label": _plain(label),
        "optional": optional,
        "element": {**element, "action_id": FIELD},
    }


def _text_field(placeholder: str = "", initial: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input"}
    if placeholder:
        element["placeholder"] = _plain(placeholder)
    if initial:
        element["initial_value"] = initial
    return element


def _user_field(initial: str | None) -> dict[str, Any]:
    return {"type": "users_select", **({"initial_user": initial} if initial else {})}


def _options(pairs: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    return [{"text": _plain(label[:75]), "value": value} for value, label in pairs]


def _select(pairs: Sequence[tuple[str, str]], initial: str | None = None) -> dict[str, Any]:
    options = _options(pairs)
    element: dict[str, Any] = {"type": "static_select", "options": options}
    chosen = [option for option in options if option["value"] == initial]
    if chosen:
        element["initial_option"] = chosen[0]
    return element


def _modal(
    callback_id: str, title: str, blocks: list[dict[str, Any]], locale: str, meta: dict
) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": _plain(title[:24]),
        "submit": _plain(t(locale, "Save")),
        "close": _plain(t(locale, "Cancel")),
        "private_metadata": json.dumps(meta),
        "blocks": blocks,
    }


def _value(state: State, block_id: str) -> Any:
    element = state.get(block_id, {}).get(FIELD, {})
    kind = element.get("type")
    if kind == "users_select":
        return element.get("selected_user")
    if kind == "static_select":
        option = element.get("selected_option")
        return option.get("value") if option else None
    value = element.get("value")
    return value.strip() if isinstance(value, str) else value


def _number(
    state: State, block_id: str, locale: str, errors: Errors, *, required: bool = True
) -> float | None:
    text = _value(state, block_id)
    if not text:
        if required:
            errors[block_id] = t(locale, "Please enter a number.")
        return None
    read = read_value(text, title="", unit="", last=None, locale=locale)
    if read is None or read.rest:
        errors[block_id] = t(locale, "{text} is not a number.", text=text)
        return None
    return read.value


# ---- /okr add


def build_okr_add(teams: Sequence[Team], user_id: str, locale: str) -> dict[str, Any]:
    """The `/okr add` modal: an objective, its team and owner, and up to five KRs."""
    team_options = [(str(team.id), team.name) for team in teams]
    blocks = [
        _input(
            "objective_title",
            t(locale, "Objective"),
            _text_field(t(locale, "Increase customer satisfaction")),
        ),
        _input(
            "objective_team",
            t(locale, "Team"),
            _select(team_options, team_options[0][0] if team_options else None),
        ),
        _input("objective_owner", t(locale, "Owner"), _user_field(user_id)),
    ]
    for n in range(1, MAX_KRS + 1):
        optional = n > 1
        blocks += [
            {"type": "header", "text": _plain(t(locale, "Key result {n}", n=n))},
            _input(
                f"kr{n}_title",
                t(locale, "Title"),
                _text_field(t(locale, "Increase NPS from 70 to 80")),
                optional=optional,
            ),
            _input(f"kr{n}_owner", t(locale, "Owner"), _user_field(user_id), optional=True),
            _input(f"kr{n}_start", t(locale, "Start"), _text_field("70"), optional=optional),
            _input(f"kr{n}_target", t(locale, "Target"), _text_field("80"), optional=optional),
            _input(
                f"kr{n}_unit", t(locale, "Unit"), _text_field(t(locale, "points")), optional=True
            ),
        ]
    return _modal(ids.VIEW_OKR_ADD, t(locale, "New objective"), blocks, locale, {"locale": locale})


def _parse_kr(state: State, n: int, locale: str, errors: Errors) -> NewKr | None:
    title = _value(state, f"kr{n}_title")
    numbers = [_value(state, f"kr{n}_{field}") for field in ("start", "target")]
    if not title and not any(numbers):
        return None
    if not title:
        errors[f"kr{n}_title"] = t(locale, "Give this key result a title.")
    start = _number(state, f"kr{n}_start", locale, errors)
    target = _number(state, f"kr{n}_target", locale, errors)
    if start is not None and target is not None and start == target:
        errors[f"kr{n}_target"] = t(locale, "The target must differ from the start.")
    if not title or start is None or target is None:
        return None
    unit = (_value(state, f"kr{n}_unit") or "")[:32]
    return NewKr(title[:300], _value(state, f"kr{n}_owner"), start, target, unit)


def parse_okr_add(state: State, team_ids: set[int], locale: str) -> NewObjective | Errors:
    """The submitted `/okr add` modal as a NewObjective, or field errors."""
    errors: Errors = {}
    title = _value(state, "objective_title")
    if not title:
        errors["objective_title"] = t(locale, "Give the objective a title.")
    team = _value(state, "objective_team")
    if not team or not team.isdigit() or int(team) not in team_ids:
        errors["objective_team"] = t(locale, "Choose one of your teams.")
    krs = [kr for n in range(1, MAX_KRS + 1) if (kr := _parse_kr(state, n, locale, errors))]
    if not krs and not any(block_id.startswith("kr") for block_id in errors):
        errors["kr1_title"] = t(locale, "Add at least one key result.")
    if errors:
        return errors
    return NewObjective(title[:300], int(team), _value(state, "objective_owner"), tuple(krs))


# ---- /kpi add

DIRECTION_TEXT = {Direction.HIGHER: N_("higher is better"), Direction.LOWER: N_("lower is better")}
PERIOD_TEXT = {Period.MONTHLY: N_("monthly"), Period.WEEKLY: N_("weekly")}


def build_kpi_add(teams: Sequence[Team], user_id: str, locale: str) -> dict[str, Any]:
    """The `/kpi add` modal."""
    team_options = [(str(team.id), team.name) for team in teams]
    directions = [(str(key), t(locale, label)) for key, label in DIRECTION_TEXT.items()]
    periods = [(str(key), t(locale, label)) for key, label in PERIOD_TEXT.items()]
    blocks = [
        _input("kpi_name", t(locale, "Name"), _text_field(t(locale, "Tickets per month"))),
        _input(
            "kpi_team",
            t(locale, "Team"),
            _select(team_options, team_options[0][0] if team_options else None),
        ),
        _input("kpi_owner", t(locale, "Owner"), _user_field(user_id)),
        _input("kpi_unit", t(locale, "Unit"), _text_field("tickets"), optional=True),
        _input("kpi_direction", t(locale, "Direction"), _select(directions, Direction.HIGHER)),
        _input("kpi_target", t(locale, "Target"), _text_field("1000")),
        _input("kpi_warn", t(locale, "Warn at"), _text_field("1200"), optional=True),
        _input("kpi_period", t(locale, "Period"), _select(periods, Period.MONTHLY)),
        _input(
            "kpi_aliases",
            t(locale, "Other names (comma separated)"),
            _text_field("tickets"),
            optional=True,
        ),
    ]
    return _modal(ids.VIEW_KPI_ADD, t(locale, "New KPI"), blocks, locale, {"locale": locale})


def parse_kpi_add(state: State, team_ids: set[int], locale: str) -> NewKpi | Errors:
    """The submitted `/kpi add` modal as a NewKpi, or field errors."""
    errors: Errors = {}
    name = _value(state, "kpi_name")
    if not name:
        errors["kpi_name"] = t(locale, "Give the KPI a name.")
    team = _value(state, "kpi_team")
    if not team or not team.isdigit() or int(team) not in team_ids:
        errors["kpi_team"] = t(locale, "Choose one of your teams.")
    direction = _value(state, "kpi_direction") or Direction.HIGHER
    target = _number(state, "kpi_target", locale, errors)
    warn = _number(state, "kpi_warn", locale, errors, required=False)
    if target is not None and warn is not None:
        worse = warn < target if direction == Direction.HIGHER else warn > target
        if not worse:
            errors["kpi_warn"] = t(locale, "The warn level must be on the bad side of the target.")
    if errors or name is None or target is None or team is None:
        return errors
    aliases = tuple(a.strip() for a in (_value(state, "kpi_aliases") or "").split(",") if a.strip())
    unit = (_value(state, "kpi_unit") or "")[:32]
    period = _value(state, "kpi_period") or Period.MONTHLY
    return NewKpi(
        name[:200],
        int(team),
        _value(state, "kpi_owner"),
        unit,
        direction,
        target,
        warn,
        period,
        aliases,
    )


# ---- App Home *Update* button

CONFIDENCE_OPTIONS = [(str(n), f"{n}/10") for n in range(10, -1, -1)]


def build_kr_update(kr: KeyResult, locale: str) -> dict[str, Any]:
    """A small modal to record a KR's new value, confidence and note."""
    blocks = [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"*KR-{kr.number}* {escape(kr.title)}"},
        },
        _input("kr_value", t(locale, "New value"), _text_field(initial=_plain_number(kr.current))),
        _input(
            "kr_confidence", t(locale, "Confidence"), _select(CONFIDENCE_OPTIONS), optional=True
        ),
        _input(
            "kr_note",
            t(locale, "Note or blocker"),
            {**_text_field(), "multiline": True},
            optional=True,
        ),
    ]
    meta = {"locale": locale, "kr_id": kr.id}
    return _modal(
        ids.VIEW_KR_UPDATE, t(locale, "Update KR-{number}", number=kr.number), blocks, locale, meta
    )


def _plain_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def parse_kr_update(state: State, locale: str) -> tuple[float, int | None, str | None] | Errors:
    """The submitted update modal as (value, confidence, note), or field errors."""
    errors: Errors = {}
    value = _number(state, "kr_value", locale, errors)
    if errors or value is None:
        return errors
    confidence = _value(state, "kr_confidence")
    note = _value(state, "kr_note") or None
    return value, int(confidence) if confidence else None, note


CARRY_BLOCK = "carry_{n}"
_CHECKBOXES = 10  # Slack's most options in one checkboxes element
_CARRY_BLOCKS = 45  # with the notes, within a modal's 100 blocks


def build_close_cycle(draft: CloseDraft, locale: str) -> dict[str, Any]:
    """The `/okr close` modal: what closing does, and a checkbox per unfinished KR (all ticked)
    for what carries into the next cycle, ten to a block as Slack allows."""
    note = t(
        locale,
        "Closing {cycle} freezes every key result's progress, status and score; closed key "
        "results take no more updates.",
        cycle=draft.cycle,
    )
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": note}}]
    if draft.unfinished and draft.next_cycle:
        pairs = [
            (str(kr_id), f"{short_id} {title} — {percent(progress)}%")
            for kr_id, short_id, title, progress in draft.unfinished
        ]
        chunks = [pairs[i : i + _CHECKBOXES] for i in range(0, len(pairs), _CHECKBOXES)]
        label = t(locale, "Carry into {cycle}", cycle=draft.next_cycle)
        for n, chunk in enumerate(chunks[:_CARRY_BLOCKS]):
            options = [_option(value, text) for value, text in chunk]
            element = {"type": "checkboxes", "options": options, "initial_options": options}
            blocks.append(_input(CARRY_BLOCK.format(n=n), label, element, optional=True))
    elif draft.unfinished:
        text = t(
            locale,
            "No cycle follows {cycle}, so nothing can carry over: start one with `okrbot cycle "
            "start` first to carry unfinished key results.",
            cycle=draft.cycle,
        )
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": text}]})
    meta = {"cycle": draft.cycle, "locale": locale}
    modal = _modal(
        ids.VIEW_CYCLE_CLOSE, t(locale, "Close {cycle}", cycle=draft.cycle), blocks, locale, meta
    )
    modal["submit"] = _plain(t(locale, "Close cycle"))
    return modal


def _option(value: str, text: str) -> dict[str, Any]:
    return {"text": _plain(text[:75]), "value": value}


def parse_close_cycle(state: State) -> frozenset[int]:
    """The KR ids ticked to carry over, from every checkbox block of the modal."""
    ticked: set[int] = set()
    for block_id, fields in state.items():
        if not block_id.startswith("carry_"):
            continue
        for option in fields.get(FIELD, {}).get("selected_options") or []:
            value = str(option.get("value", ""))
            if value.isdigit():
                ticked.add(int(value))
    return frozenset(ticked)
