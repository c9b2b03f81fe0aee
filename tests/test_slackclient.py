"""The Web API client's logging: slack_sdk builds a call's debug lines only when someone
asked to see them (an unset level counts as "show" for slack_sdk, and costs every call)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from bot.config import Settings
from bot.slackclient import make_client, sdk_logger
from bot.standin.server import SlackStandin

SDK = "slack_sdk.web.async_base_client"


@pytest.fixture(autouse=True)
def kept_levels() -> Iterator[None]:
    """Logger levels are process-wide: every test leaves them as it found them."""
    names = [SDK, "okrbot-test", "okrbot-test.sdk"]
    saved = {name: logging.getLogger(name).level for name in names}
    yield
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


def test_a_logger_without_a_level_of_its_own_takes_the_one_it_inherits() -> None:
    logging.getLogger("okrbot-test").setLevel(logging.INFO)
    logging.getLogger("okrbot-test.sdk").setLevel(logging.NOTSET)
    assert sdk_logger("okrbot-test.sdk").level == logging.INFO


def test_a_level_set_before_is_kept() -> None:
    logging.getLogger("okrbot-test").setLevel(logging.WARNING)
    logging.getLogger("okrbot-test.sdk").setLevel(logging.DEBUG)
    assert sdk_logger("okrbot-test.sdk").level == logging.DEBUG


async def test_slack_sdk_debug_lines_still_show_when_asked_for(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logging.getLogger(SDK).setLevel(logging.DEBUG)
    async with SlackStandin() as standin:
        settings = Settings(slack_bot_token="xoxb-test", slack_api_url=standin.api_url)
        with caplog.at_level(logging.DEBUG, logger=SDK):
            await make_client(settings).auth_test()
    assert any("Sending a request" in record.getMessage() for record in caplog.records)


async def test_the_apps_client_takes_the_level_the_app_logs_at(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logging.getLogger(SDK).setLevel(logging.NOTSET)
    caplog.set_level(logging.INFO)  # the root logger, as `okrbot run` sets it
    async with SlackStandin() as standin:
        settings = Settings(slack_bot_token="xoxb-test", slack_api_url=standin.api_url)
        await make_client(settings).auth_test()
    assert logging.getLogger(SDK).level == logging.INFO
    assert not [record for record in caplog.records if record.levelno < logging.INFO]
