"""The Slack stand-in and the signed sender, driven by the real slack_sdk and slack_bolt."""

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import FixedValueRetryIntervalCalculator
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.standin import SignedSender, SlackStandin, StandinThread

REPO = Path(__file__).resolve().parent.parent
SECRET = "standin-test-signing-secret"
ANA, GONE = "U0ANA", "U0GONE"


def section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


MODAL = {
    "type": "modal",
    "callback_id": "add_kr",
    "title": {"type": "plain_text", "text": "Add a KR"},
    "submit": {"type": "plain_text", "text": "Save"},
    "blocks": [
        {
            "type": "input",
            "block_id": "title",
            "label": {"type": "plain_text", "text": "Title"},
            "element": {"type": "plain_text_input", "action_id": "value"},
        }
    ],
}
HOME = {"type": "home", "blocks": [section("Your KRs")]}


@pytest.fixture
async def standin():
    async with SlackStandin() as server:
        server.add_user(ANA, name="ana", email="Ana@Example.com", tz="Asia/Jakarta", locale="id-ID")
        server.add_user(GONE, name="gone", deleted=True)
        yield server


@pytest.fixture
def client(standin):
    return AsyncWebClient(token="xoxb-test", base_url=standin.api_url)


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


# -- Web API shapes


async def test_auth_test_names_the_bot(client):
    answer = await client.auth_test()
    assert answer["user_id"] == "U0OKRBOT"
    assert answer["bot_id"] == "B0OKRBOT"
    assert answer["team_id"] == "T0DEMO"


async def test_bots_info_names_the_app_of_a_bot(client):
    answer = await client.bots_info(bot="B0OKRBOT")
    bot = answer["bot"]
    assert (bot["id"], bot["app_id"], bot["user_id"], bot["name"]) == (
        "B0OKRBOT",
        "A0OKRBOT",
        "U0OKRBOT",
        "okrbot",
    )
    assert bot["deleted"] is False and set(bot["icons"]) == {"image_36", "image_48", "image_72"}
    with pytest.raises(SlackApiError) as unknown:
        await client.bots_info(bot="B0NOBODY")
    assert unknown.value.response["error"] == "bot_not_found"


@pytest.mark.parametrize(
    ("token", "error"),
    [("bogus", "invalid_auth"), ("xapp-1-A1-1-x", "not_allowed_token_type")],
)
async def test_a_call_without_a_bot_token_is_refused(standin, token, error):
    bad = AsyncWebClient(token=token, base_url=standin.api_url)
    with pytest.raises(SlackApiError) as refused:
        await bad.auth_test()
    assert refused.value.response["error"] == error


async def test_a_call_without_any_token_is_not_authed(standin, http):
    async with http.post(f"{standin.api_url}auth.test") as answer:
        assert answer.status == 200
        assert await answer.json() == {"ok": False, "error": "not_authed"}


async def test_an_unknown_method_is_refused(client):
    with pytest.raises(SlackApiError) as refused:
        await client.api_call("reactions.add", params={"name": "tada"})
    assert refused.value.response["error"] == "unknown_method"


async def test_users_info_answers_get_with_locale_and_tz(client, standin, http):
    user = (await client.users_info(user=ANA, include_locale=True))["user"]
    assert user["profile"]["email"] == "Ana@Example.com"
    assert (user["tz"], user["tz_offset"], user["locale"]) == ("Asia/Jakarta", 25200, "id-ID")
    url = f"{standin.api_url}users.info"
    async with http.get(url, params={"user": ANA, "token": "xoxb-test"}) as answer:
        body = await answer.json()
    assert body["ok"] and "locale" not in body["user"]


async def test_unknown_users_are_not_found(client):
    with pytest.raises(SlackApiError) as refused:
        await client.users_info(user="U0NOBODY")
    assert refused.value.response["error"] == "user_not_found"
    with pytest.raises(SlackApiError) as refused:
        await client.users_lookupByEmail(email="nobody@example.com")
    assert refused.value.response["error"] == "users_not_found"


async def test_lookup_by_email_ignores_case(client):
    answer = await client.users_lookupByEmail(email="ana@example.com")
    assert answer["user"]["id"] == ANA


async def test_conversations_open_gives_each_member_one_stable_dm(client, standin):
    first = await client.conversations_open(users=ANA)
    again = await client.conversations_open(users=ANA)
    assert first["channel"]["id"] == again["channel"]["id"] == standin.dm_channel(ANA)
    assert first["channel"]["id"].startswith("D")
    assert again["already_open"] is True


async def test_a_deactivated_member_cannot_be_messaged(client, standin):
    for call in (
        client.conversations_open(users=GONE),
        client.chat_postMessage(channel=standin.dm_channel(GONE), text="hi"),
        client.chat_postMessage(channel=GONE, text="hi"),
    ):
        with pytest.raises(SlackApiError) as refused:
            await call
        assert refused.value.response["error"] == "user_disabled"


async def test_post_message_answers_slacks_shape_with_increasing_ts(client, standin):
    answers = [await client.chat_postMessage(channel="C0TEAM", text=f"n{i}") for i in range(5)]
    assert [a["channel"] for a in answers] == ["C0TEAM"] * 5
    stamps = [a["ts"] for a in answers]
    assert stamps == sorted(stamps, key=float) and len(set(stamps)) == 5
    seconds, micros = stamps[0].split(".")
    assert len(seconds) == 10 and len(micros) == 6
    message = answers[0]["message"]
    assert (message["text"], message["bot_id"], message["ts"]) == ("n0", "B0OKRBOT", stamps[0])


async def test_post_message_to_a_user_id_lands_in_their_dm(client, standin):
    answer = await client.chat_postMessage(channel=ANA, text="check-in time")
    assert answer["channel"] == standin.dm_channel(ANA)
    await client.chat_postEphemeral(channel="C0TEAM", user=ANA, text="only you")
    await client.chat_postMessage(channel="C0TEAM", text="everyone")
    texts = [call.params["text"] for call in standin.messages_to(ANA)]
    assert texts == ["check-in time", "only you"]
    assert [c.params["text"] for c in standin.messages_to("C0TEAM")] == ["only you", "everyone"]


@pytest.mark.parametrize(
    ("params", "error"),
    [({"text": "no channel"}, "channel_not_found"), ({"channel": "C0TEAM"}, "no_text")],
)
async def test_post_message_needs_a_channel_and_content(standin, http, params, error):
    data = {"token": "xoxb-test", **params}
    async with http.post(f"{standin.api_url}chat.postMessage", data=data) as answer:
        assert (await answer.json())["error"] == error


async def test_update_and_delete_act_on_posted_messages(client):
    posted = await client.chat_postMessage(channel="C0TEAM", text="draft")
    updated = await client.chat_update(channel="C0TEAM", ts=posted["ts"], text="final")
    assert (updated["ts"], updated["text"]) == (posted["ts"], "final")
    assert (await client.chat_delete(channel="C0TEAM", ts=posted["ts"]))["ok"]
    with pytest.raises(SlackApiError) as refused:
        await client.chat_update(channel="C0TEAM", ts=posted["ts"], text="again")
    assert refused.value.response["error"] == "message_not_found"


async def test_post_ephemeral_answers_a_message_ts(client):
    answer = await client.chat_postEphemeral(channel="C0TEAM", user=ANA, text="psst")
    assert answer["message_ts"]


# -- conversations.history

PROMPT = {"event_type": "okrbot_checkin_prompt", "event_payload": {"prompt_id": 7, "round_id": 2}}


async def test_history_lists_a_dms_messages_newest_first_however_addressed(client, standin):
    by_user = await client.chat_postMessage(channel=ANA, text="by user id", metadata=PROMPT)
    said = standin.workspace.post_as_member(ANA, "1: 74")
    by_dm = await client.chat_postMessage(channel=standin.dm_channel(ANA), text="by DM id")
    await client.chat_postMessage(channel=ANA, text="in a thread", thread_ts=said)
    await client.chat_postMessage(channel="C0TEAM", text="elsewhere")
    history = await client.conversations_history(channel=standin.dm_channel(ANA))
    assert (history["ok"], history["has_more"]) == (True, False)
    messages = history["messages"]
    assert [m["text"] for m in messages] == ["by DM id", "1: 74", "by user id"]  # no replies
    assert [m["ts"] for m in messages] == [by_dm["ts"], said, by_user["ts"]]
    bot, member = messages[0], messages[1]
    assert (bot["bot_id"], bot["user"], bot["type"]) == ("B0OKRBOT", "U0OKRBOT", "message")
    assert (member["user"], "bot_id" in member) == (ANA, False)
    assert all("metadata" not in m for m in messages)  # only with include_all_metadata


async def test_history_shows_metadata_when_asked(client, standin):
    await client.chat_postMessage(channel=ANA, text="prompt", metadata=PROMPT)
    history = await client.conversations_history(
        channel=standin.dm_channel(ANA), include_all_metadata=True
    )
    (message,) = history["messages"]
    assert message["metadata"] == PROMPT


async def test_history_honours_oldest_latest_and_inclusive(client, standin):
    stamps = [(await client.chat_postMessage(channel=ANA, text=f"n{i}"))["ts"] for i in range(5)]
    dm = standin.dm_channel(ANA)

    async def texts(**window: object) -> list[str]:
        answer = await client.conversations_history(channel=dm, **window)
        return [m["text"] for m in answer["messages"]]

    assert await texts(oldest=stamps[1], latest=stamps[3]) == ["n2"]
    assert await texts(oldest=stamps[1], latest=stamps[3], inclusive=True) == ["n3", "n2", "n1"]
    assert await texts(oldest=stamps[3]) == ["n4"]
    assert await texts(latest=stamps[1]) == ["n0"]


async def test_history_pages_with_limit_has_more_and_cursor(client, standin):
    for i in range(5):
        await client.chat_postMessage(channel=ANA, text=f"n{i}")
    dm, pages, cursor = standin.dm_channel(ANA), [], None
    while True:
        answer = await client.conversations_history(channel=dm, limit=2, cursor=cursor)
        pages.append(([m["text"] for m in answer["messages"]], answer["has_more"]))
        cursor = answer["response_metadata"]["next_cursor"]
        if not answer["has_more"]:
            break
    assert pages == [(["n4", "n3"], True), (["n2", "n1"], True), (["n0"], False)]
    assert cursor == ""


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"channel": "C0NOWHERE"}, "channel_not_found"),
        ({"channel": "D0ANA", "oldest": "yesterday"}, "invalid_ts_oldest"),
        ({"channel": "D0ANA", "latest": "soon"}, "invalid_ts_latest"),
        ({"channel": "D0ANA", "cursor": "not-a-cursor"}, "invalid_cursor"),
    ],
)
async def test_history_refuses_what_slack_refuses(client, params, error):
    with pytest.raises(SlackApiError) as refused:
        await client.conversations_history(**params)
    assert refused.value.response["error"] == error


async def test_an_empty_dm_has_an_empty_history(client, standin):
    answer = await client.conversations_history(channel=standin.dm_channel(ANA))
    assert (answer["messages"], answer["has_more"]) == ([], False)


@pytest.mark.parametrize(
    "metadata",
    [{"event_type": "x"}, {"event_payload": {}}, {"event_type": "", "event_payload": {}}],
)
async def test_malformed_metadata_is_refused(client, metadata):
    with pytest.raises(SlackApiError) as refused:
        await client.chat_postMessage(channel=ANA, text="hi", metadata=metadata)
    assert refused.value.response["error"] == "invalid_metadata_format"


# -- Block Kit validation

BUTTON_WITHOUT_TEXT = {"type": "actions", "elements": [{"type": "button", "action_id": "go"}]}
LONG_BUTTON = {
    "type": "actions",
    "elements": [
        {"type": "button", "action_id": "go", "text": {"type": "plain_text", "text": "x" * 76}}
    ],
}


@pytest.mark.parametrize(
    "blocks",
    [
        [section("x")] * 51,
        [section("x" * 3001)],
        [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}],
        [BUTTON_WITHOUT_TEXT],
        [LONG_BUTTON],
        [{"type": "no_such_block"}],
        [{"type": "actions", "elements": [{"type": "no_such_element", "action_id": "a"}]}],
    ],
    ids=[
        "51-blocks",
        "long-section",
        "long-header",
        "button-no-text",
        "long-button",
        "unknown-block",
        "unknown-element",
    ],
)
async def test_invalid_blocks_are_refused(client, standin, blocks):
    with pytest.raises(SlackApiError) as refused:
        await client.chat_postMessage(channel="C0TEAM", text="fallback", blocks=blocks)
    assert refused.value.response["error"] == "invalid_blocks"
    assert refused.value.response["response_metadata"]["messages"]
    assert standin.calls_to("chat.postMessage")[0].status == 200


async def test_valid_blocks_pass_at_the_limits(client):
    blocks = [section("x" * 3000)] + [{"type": "divider"}] * 49
    assert (await client.chat_postMessage(channel="C0TEAM", text="t", blocks=blocks))["ok"]


async def test_form_encoded_blocks_are_decoded_and_checked(standin, http):
    url = f"{standin.api_url}chat.postMessage"
    good = {
        "token": "xoxb-test",
        "channel": "C0TEAM",
        "text": "t",
        "blocks": json.dumps([section("hi")]),
    }
    async with http.post(url, data=good) as answer:
        assert (await answer.json())["ok"]
    assert standin.calls[-1].params["blocks"] == [section("hi")]
    async with http.post(url, data=good | {"blocks": "[not json"}) as answer:
        assert (await answer.json())["error"] == "invalid_blocks_format"


# -- views


async def test_views_open_returns_the_stored_modal(client):
    view = (await client.views_open(trigger_id="1.2.abc", view=MODAL))["view"]
    assert view["id"].startswith("V") and view["hash"]
    assert view["callback_id"] == "add_kr" and view["state"] == {"values": {}}


@pytest.mark.parametrize(
    "view",
    [
        MODAL | {"title": {"type": "plain_text", "text": "x" * 25}},
        MODAL | {"blocks": [section("x")] * 101},
        {key: value for key, value in MODAL.items() if key != "submit"},
        MODAL | {"type": "sheet"},
        MODAL | {"blocks": [BUTTON_WITHOUT_TEXT]},
    ],
    ids=["long-title", "101-blocks", "input-without-submit", "bad-type", "bad-block"],
)
async def test_invalid_views_are_refused(client, view):
    with pytest.raises(SlackApiError) as refused:
        await client.views_open(trigger_id="1.2.abc", view=view)
    assert refused.value.response["error"] == "invalid_arguments"


async def test_views_update_checks_the_hash(client):
    view = (await client.views_open(trigger_id="1.2.abc", view=MODAL))["view"]
    updated = await client.views_update(view_id=view["id"], hash=view["hash"], view=MODAL)
    assert updated["view"]["id"] == view["id"]
    with pytest.raises(SlackApiError) as refused:
        await client.views_update(view_id=view["id"], hash=view["hash"], view=MODAL)
    assert refused.value.response["error"] == "hash_conflict"


async def test_views_publish_sets_the_home_tab(client, standin):
    published = await client.views_publish(user_id=ANA, view=HOME)
    assert published["view"]["type"] == "home"
    assert standin.workspace.home_view(ANA)["blocks"] == HOME["blocks"]
    with pytest.raises(SlackApiError):
        await client.views_publish(user_id=ANA, view=MODAL)


# -- files and response_url


async def test_files_upload_v2_stores_the_bytes(client, standin):
    answer = await client.files_upload_v2(
        content=b"\x89PNG chart", filename="chart.png", title="Chart", channel="C0TEAM"
    )
    file_id = answer["file"]["id"]
    assert standin.uploaded_files == {file_id: b"\x89PNG chart"}
    assert answer["file"]["title"] == "Chart"
    [complete] = standin.calls_to("files.completeUploadExternal")
    assert complete.params["channel_id"] == "C0TEAM"


async def test_response_url_posts_are_recorded_with_their_tag(standin):
    url = standin.response_url("ana-status")
    answer = await AsyncWebhookClient(url).send(text="status", response_type="ephemeral")
    assert answer.status_code == 200
    [call] = standin.calls_to("response_url")
    assert call.params == {"text": "status", "response_type": "ephemeral", "_tag": "ana-status"}


async def test_response_url_refuses_bad_blocks_and_unknown_urls(standin):
    bad = await AsyncWebhookClient(standin.response_url()).send(text="t", blocks=[LONG_BUTTON])
    assert bad.status_code == 400 and "invalid_blocks" in bad.body
    unknown = await AsyncWebhookClient(f"{standin.base_url}response/nope").send(text="t")
    assert unknown.status_code == 404


# -- faults


async def test_429_is_retried_after_retry_after_then_succeeds(standin):
    standin.fail("chat.postMessage", status=429, retry_after=0)
    retrying = AsyncWebClient(
        token="xoxb-test",
        base_url=standin.api_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)],
    )
    assert (await retrying.chat_postMessage(channel="C0TEAM", text="hi"))["ok"]
    assert [c.status for c in standin.calls_to("chat.postMessage")] == [429, 200]


async def test_429_carries_retry_after_and_slacks_error(standin, http):
    standin.fail("auth.test", status=429, retry_after=7)
    url = f"{standin.api_url}auth.test"
    async with http.post(url, headers={"Authorization": "Bearer xoxb-test"}) as answer:
        assert answer.status == 429
        assert answer.headers["Retry-After"] == "7"
        assert (await answer.json())["error"] == "ratelimited"


@pytest.mark.parametrize("status", [500, 503])
async def test_server_errors_are_retried_then_succeed(standin, status):
    standin.fail("users.info", status=status, times=2)
    retrying = AsyncWebClient(
        token="xoxb-test",
        base_url=standin.api_url,
        retry_handlers=[AsyncServerErrorRetryHandler(2, FixedValueRetryIntervalCalculator(0.01))],
    )
    assert (await retrying.users_info(user=ANA))["ok"]
    assert [c.status for c in standin.calls_to("users.info")] == [status, status, 200]


async def test_fail_with_an_error_answers_200_ok_false(client, standin):
    standin.fail("conversations.open", error="account_inactive")
    with pytest.raises(SlackApiError) as refused:
        await client.conversations_open(users=ANA)
    assert refused.value.response.status_code == 200
    assert refused.value.response["error"] == "account_inactive"
    assert (await client.conversations_open(users=ANA))["ok"]


async def test_rate_limit_answers_429_past_the_burst(standin, http):
    standin.rate_limit("chat.postMessage", per_second=2, burst=3)
    url = f"{standin.api_url}chat.postMessage"
    data = {"token": "xoxb-test", "channel": "C0TEAM", "text": "hi"}

    async def post() -> aiohttp.ClientResponse:
        async with http.post(url, data=data) as answer:
            await answer.read()
            return answer

    answers = await asyncio.gather(*(post() for _ in range(8)))
    assert sorted(a.status for a in answers) == [200] * 3 + [429] * 5
    assert {a.headers["Retry-After"] for a in answers if a.status == 429} == {"1"}
    assert len(standin.calls_to("chat.postMessage")) == 8
    await asyncio.sleep(0.55)
    assert (await post()).status == 200


def test_fractional_retry_after_is_refused_because_slack_sdk_reads_int():
    standin = SlackStandin()
    with pytest.raises(ValueError, match="whole seconds"):
        standin.rate_limit("chat.postMessage", per_second=10, retry_after=0.5)
    with pytest.raises(ValueError, match="whole seconds"):
        standin.fail("chat.postMessage", status=429, retry_after=0.25)


async def test_slow_delays_the_answer(client, standin):
    standin.slow("auth.test", 0.3)
    started = time.monotonic()
    await client.auth_test()
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    await client.auth_test()
    assert time.monotonic() - started < 0.3


# -- recording


async def test_wait_for_returns_once_enough_calls_arrive(client, standin):
    async def post_later() -> None:
        for text in ("one", "two"):
            await asyncio.sleep(0.05)
            await client.chat_postMessage(channel="C0TEAM", text=text)

    task = asyncio.create_task(post_later())
    calls = await standin.wait_for("chat.postMessage", count=2, timeout=2)
    await task
    assert [c.params["text"] for c in calls] == ["one", "two"]
    [two] = await standin.wait_for("chat.postMessage", where=lambda c: c.params["text"] == "two")
    assert two.response["ok"]


async def test_wait_for_timeout_lists_what_was_received(client, standin):
    await client.chat_postMessage(channel="C0TEAM", text="hello")
    with pytest.raises(TimeoutError) as timed_out:
        await standin.wait_for("views.publish", timeout=0.1)
    message = str(timed_out.value)
    assert "views.publish" in message and "got 0" in message
    assert "chat.postMessage -> 200 ok" in message and "hello" in message


async def test_clear_forgets_calls(client, standin):
    await client.auth_test()
    standin.clear()
    assert standin.calls == []


def test_only_loopback_is_ever_bound():
    with pytest.raises(ValueError, match="loopback"):
        SlackStandin(host="0.0.0.0")


def test_standin_thread_serves_synchronous_callers():
    with StandinThread() as running:
        running.standin.add_user(ANA, name="ana")
        client = WebClient(token="xoxb-test", base_url=running.api_url)
        assert client.users_info(user=ANA)["user"]["name"] == "ana"
        [call] = running.run(running.standin.wait_for("users.info"))
        assert call.status == 200


def test_cli_prints_the_api_url_and_serves_until_terminated(tmp_path):
    users = tmp_path / "users.json"
    users.write_text(json.dumps([{"id": ANA, "name": "ana", "tz": "Asia/Jakarta"}]))
    command = [sys.executable, "-m", "bot.standin", "--port", "0", "--users", str(users)]
    with subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True) as process:
        try:
            line = process.stdout.readline().strip()
            assert line.startswith("SLACK_API_URL=http://127.0.0.1:")
            client = WebClient(token="xoxb-test", base_url=line.split("=", 1)[1])
            assert client.users_info(user=ANA)["user"]["tz"] == "Asia/Jakarta"
        finally:
            process.terminate()
        assert process.wait(timeout=10) == 0


def test_cli_refuses_a_non_loopback_host():
    command = [sys.executable, "-m", "bot.standin", "--host", "0.0.0.0"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "loopback" in done.stderr


# -- SignedSender against a real Bolt app


@pytest.fixture
async def bolt_url(standin):
    """A minimal Bolt app served on loopback, using the stand-in as its Slack."""
    app = AsyncApp(
        client=AsyncWebClient(token="xoxb-test", base_url=standin.api_url),
        signing_secret=SECRET,
    )

    @app.command("/okr")
    async def okr(ack, respond, say, command):
        await ack(f"got {command['text']}")
        await respond(text="status for you")
        await say(text="posted")

    @app.message("")
    async def dm(message, say, request):
        retry = request.headers.get("x-slack-retry-num", ["-"])[0]
        await say(text=f"read {message['text']} retry={retry}")

    @app.event({"type": "message", "subtype": "message_changed"})
    async def edited(event, say):
        await say(text=f"edited to {event['message']['text']}", channel=event["channel"])

    @app.event("app_home_opened")
    async def home(event, client):
        await client.views_publish(user_id=event["user"], view=HOME)

    @app.action("undo")
    async def undo(ack, respond, body):
        await ack()
        await respond(text=f"undone {body['actions'][0]['value']}", replace_original=True)

    @app.view("add_kr")
    async def add_kr(ack, view):
        title = view["state"]["values"]["title"]["value"]["value"]
        await ack(response_action="errors", errors={"title": f"taken: {title}"})

    runner = web.AppRunner(app.web_app(path="/slack/events"), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events"
    await runner.cleanup()


@pytest.fixture
async def sender(bolt_url):
    async with SignedSender(bolt_url, SECRET) as signed:
        yield signed


async def test_signatures_verify_with_slack_sdk(sender):
    body = b'{"type":"url_verification","challenge":"c"}'
    verifier = SignatureVerifier(SECRET)

    def valid(signer: SignedSender) -> bool:
        headers = signer.signature_headers(body)
        return verifier.is_valid(
            body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
        )

    assert valid(sender)
    assert not valid(sender.tampered(bad_signature=True))
    assert not valid(sender.tampered(stale=True))


async def test_signed_url_verification_gets_the_challenge(sender):
    answer = await sender.url_verification("challenge-123")
    assert answer.status == 200
    assert answer.json == {"challenge": "challenge-123"}


@pytest.mark.parametrize("tamper", [{"bad_signature": True}, {"stale": True}])
async def test_bad_or_stale_signatures_get_401(sender, tamper):
    answer = await sender.tampered(**tamper).url_verification("challenge-123")
    assert answer.status == 401


async def test_slash_command_reaches_bolt_and_respond_reaches_the_standin(sender, standin):
    url = standin.response_url("ana")
    answer = await sender.slash_command("/okr", "status", user_id=ANA, response_url=url)
    assert (answer.status, answer.body) == (200, "got status")
    [responded] = await standin.wait_for("response_url")
    assert responded.params["text"] == "status for you" and responded.params["_tag"] == "ana"
    [said] = await standin.wait_for("chat.postMessage")
    assert said.params["channel"] == "C0GENERAL"


async def test_message_im_and_its_retry_reach_bolt(sender, standin):
    first = await sender.message_im(ANA, "1: 74")
    assert first.status == 200
    payload = first.payload
    await sender.event(payload["event"], event_id=payload["event_id"], retry_num=1)
    said = await standin.wait_for("chat.postMessage", count=2)
    assert sorted(c.params["text"] for c in said) == ["read 1: 74 retry=-", "read 1: 74 retry=1"]
    assert {c.response["channel"] for c in said} == {standin.dm_channel(ANA)}


async def test_message_changed_reaches_bolt(sender, standin):
    first = await sender.message_im(ANA, "1: 74")
    await standin.wait_for("chat.postMessage")
    ts = first.payload["event"]["ts"]
    await sender.message_changed(ANA, "1: 75", ts=ts, previous_text="1: 74")
    [edited] = await standin.wait_for(
        "chat.postMessage", where=lambda c: c.params["text"] == "edited to 1: 75"
    )
    assert edited.response["ok"]


async def test_app_home_opened_reaches_bolt(sender, standin):
    assert (await sender.app_home_opened(ANA)).status == 200
    [published] = await standin.wait_for("views.publish")
    assert published.params["user_id"] == ANA and published.response["ok"]


async def test_block_action_reaches_bolt_with_its_message(sender, standin, client):
    posted = await client.chat_postMessage(channel=ANA, text="recorded", blocks=[section("x")])
    answer = await sender.block_action(
        "undo",
        "update-42",
        user_id=ANA,
        channel_id=posted["channel"],
        message=posted["message"],
        response_url=standin.response_url("undo"),
    )
    assert answer.status == 200
    assert answer.payload["container"]["message_ts"] == posted["ts"]
    [responded] = await standin.wait_for("response_url")
    assert responded.params["text"] == "undone update-42"


async def test_view_submission_reaches_bolt(sender):
    values = {"title": {"value": {"type": "plain_text_input", "value": "NPS"}}}
    answer = await sender.view_submission("add_kr", values, user_id=ANA)
    assert answer.status == 200
    assert answer.json == {"response_action": "errors", "errors": {"title": "taken: NPS"}}
