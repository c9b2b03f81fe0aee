"""Settings, read once at start from the environment and `.env` (SPEC §3)."""

from __future__ import annotations

import zoneinfo
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigError

SLACK_API_URL = "https://slack.com/api/"


class Settings(BaseSettings):
    """Everything okrbot reads from its environment; validated, never global."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = SLACK_API_URL
    database_url: str = "sqlite:///okrbot.db"
    host: str = "0.0.0.0"
    port: int = Field(default=3000, ge=1, le=65535)
    okrbot_timezone: str = "UTC"
    okrbot_locale: Literal["en", "id"] = "en"
    # The HTTP API's per-token limit (SPEC §9): requests a second, and the burst allowed.
    okrbot_api_rate: float = Field(default=10.0, gt=0)
    okrbot_api_burst: int = Field(default=20, ge=1)
    # Worker processes that read check-in replies while the app records the ones before
    # (`okrbot run`; 0: read in the app's process).
    okrbot_reader_processes: int = Field(default=1, ge=0, le=16)
    # Outgoing webhooks: how often the outbox is looked at, how long a receiver may take to
    # answer, and the first retry's delay (doubling up to an hour, for 24 h) — all in seconds.
    okrbot_webhook_poll: float = Field(default=1.0, gt=0)
    okrbot_webhook_timeout: float = Field(default=10.0, gt=0)
    okrbot_webhook_first_retry: float = Field(default=10.0, gt=0)

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError("must be an http(s) URL such as https://slack.com/api/")
        return value if value.endswith("/") else value + "/"

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        scheme = value.split("://", 1)[0] if "://" in value else ""
        if scheme.split("+")[0] not in {"sqlite", "postgresql", "postgres"}:
            raise ValueError("must be a sqlite:///FILE or postgresql://USER@HOST/DB URL")
        return value

    @field_validator("okrbot_timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r}") from exc
        return value

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("must be a bot token starting with xoxb-")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xapp-"):
            raise ValueError("must be an app-level token starting with xapp-")
        return value

    def require_bot_token(self) -> str:
        if self.slack_bot_token is None:
            raise ConfigError("SLACK_BOT_TOKEN", "is required (a bot token xoxb-…)")
        return self.slack_bot_token.get_secret_value()

    def require_signing_secret(self) -> str:
        if self.slack_signing_secret is None or not self.slack_signing_secret.get_secret_value():
            raise ConfigError("SLACK_SIGNING_SECRET", "is required to verify requests in HTTP mode")
        return self.slack_signing_secret.get_secret_value()


def load_settings(**overrides: object) -> Settings:
    """Build Settings, turning pydantic's report into one ConfigError naming the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors()[0]
        variable = str(error["loc"][0]).upper() if error["loc"] else "configuration"
        reason = error["msg"].removeprefix("Value error, ")
        raise ConfigError(variable, reason) from None
