"""Slack surfaces, one module each. Each declares its routes as data (`COMMANDS`, `EVENTS`,
`ACTIONS`, `VIEWS`); `register(app)` wires them, and a test holds `manifest.yml` to the same
tables."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers import checkin, commands, events, home, people, views
from handlers.common import Listener, guarded

COMMANDS: dict[str, Listener] = {**commands.COMMANDS}
EVENTS: dict[str, Listener] = {**events.EVENTS, **home.EVENTS, **people.EVENTS}
ACTIONS: dict[str, Listener] = {**commands.ACTIONS, **home.ACTIONS, **checkin.ACTIONS}
VIEWS: dict[str, Listener] = {**views.VIEWS}


def register(app: AsyncApp) -> None:
    for command, listener in COMMANDS.items():
        app.command(command)(guarded(listener))
    for event, listener in EVENTS.items():
        app.event(event)(guarded(listener))
    for action_id, listener in ACTIONS.items():
        app.action(action_id)(guarded(listener))
    for callback_id, listener in VIEWS.items():
        app.view(callback_id)(guarded(listener))
