"""The seed example (`examples/`): its people on the stand-in and its OKRs in the database."""

from __future__ import annotations

import json
from pathlib import Path

from bot.runtime import email_resolver
from bot.sandbox import Sandbox
from bot.services.imports import ImportReport, import_file

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SEED_OKRS = EXAMPLES / "okrs.yaml"
SEED_PEOPLE = EXAMPLES / "people.json"


def seed_people() -> list[dict[str, str]]:
    return json.loads(SEED_PEOPLE.read_text(encoding="utf-8"))


def seed_okrs() -> str:
    return SEED_OKRS.read_text(encoding="utf-8")


async def load_seed(box: Sandbox, text: str | None = None) -> ImportReport:
    """Add the seed's people to the stand-in, then import the seed OKRs as `okrbot import` does
    (e-mail addresses looked up with `users.lookupByEmail` through the stand-in)."""
    for person in seed_people():
        user_id = person["id"]
        details = {key: value for key, value in person.items() if key != "id"}
        box.standin.add_user(user_id, **details)
    return await import_file(
        database=box.database,
        workspace_id=box.standin.team_id,
        text=seed_okrs() if text is None else text,
        filename=str(SEED_OKRS),
        resolve_email=email_resolver(box.client),
    )
