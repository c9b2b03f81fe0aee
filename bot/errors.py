"""The project's exceptions.

    OkrbotError                      base: every error okrbot raises on purpose
    ├── ConfigError                  bad settings; the CLI prints one line and exits 2
    ├── ImportFileError              an import file that cannot be applied (collects Problems)
    ├── NotFound                     a KR, KPI, team... named by a user does not exist
    ├── NotAllowed                   the caller may not change that item
    │   └── Closed                   ...because its cycle is closed (SPEC §8)
    └── InvalidInput                 a value a user typed cannot be used
        └── InvalidField             ...in a named field of an API request (`path`)
            └── KeyReused            an Idempotency-Key sent again with another request

Each user-facing error carries a message id (English text with `{placeholders}`) and its
parameters, so the one `@app.error` handler can tell the user in their own language.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.i18n import N_


class OkrbotError(Exception):
    """Base class; `msgid` and `params` say what to tell a person."""

    msgid = N_("Something went wrong.")

    def __init__(self, msgid: str | None = None, /, **params: object) -> None:
        self.msgid = msgid or type(self).msgid
        self.params = params
        super().__init__(self.msgid.format(**params) if params else self.msgid)


class ConfigError(OkrbotError):
    """A setting is missing or malformed; `variable` names it."""

    def __init__(self, variable: str, reason: str) -> None:
        self.variable = variable
        self.reason = reason
        super().__init__("{variable}: {reason}", variable=variable, reason=reason)


@dataclass(frozen=True)
class Problem:
    """One thing wrong in an import file: where (`objectives[0].title`) and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}" if self.path else self.reason


class ImportFileError(OkrbotError):
    """An import file failed validation; nothing was written."""

    def __init__(self, filename: str, problems: list[Problem]) -> None:
        self.filename = filename
        self.problems = problems
        lines = "\n".join(f"{filename}: {problem}" for problem in problems)
        super().__init__("{lines}", lines=lines)


class NotFound(OkrbotError):
    """Something a user named does not exist."""

    msgid = N_("I could not find {what}.")


class NotAllowed(OkrbotError):
    """The caller may not change this item."""

    msgid = N_("You can't change that.")


class Closed(NotAllowed):
    """A KR (or its initiative) of a closed cycle: it takes no more updates."""

    msgid = N_("{kr} is closed: cycle {cycle} has ended, so it takes no more updates.")


class InvalidInput(OkrbotError):
    """A value typed by a user cannot be used."""

    msgid = N_("That doesn't look right.")


class InvalidField(InvalidInput):
    """A field of an API request that the request's schema allows but the data does not
    (a weekly period for a monthly KPI, an idempotency key reused for another request)."""

    def __init__(self, path: str, msgid: str, /, **params: object) -> None:
        self.path = path
        super().__init__(msgid, **params)


class KeyReused(InvalidField):
    """An `Idempotency-Key` already answered a different request (HTTP 409)."""
