"""Slack surfaces, one module each; `register(app)` wires them all."""

from slack_bolt.async_app import AsyncApp

from handlers import commands, events, home


def register(app: AsyncApp) -> None:
    commands.register(app)
    events.register(app)
    home.register(app)
