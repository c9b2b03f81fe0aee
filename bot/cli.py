"""`okrbot`: parse the command line, load settings, start the right thing. Nothing else."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bot import runtime
from bot.config import Settings, load_settings
from bot.demo import run_demo
from bot.errors import ConfigError, ImportFileError, InvalidInput, NotFound
from bot.importsummary import describe_close, describe_import
from bot.notify import DigestReport, RetroReport
from bot.replycases import read_rate, run_cases, show_reply
from bot.services.tokens import TokenInfo
from bot.services.webhooks import EVENTS, WebhookInfo


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="okrbot", description="OKR and KPI check-ins in Slack.")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="serve Slack and run the scheduler")
    mode = run.add_mutually_exclusive_group()
    mode.add_argument("--http", dest="socket", action="store_false", default=None)
    mode.add_argument("--socket", dest="socket", action="store_true")
    run.add_argument("--port", type=int)

    demo = commands.add_parser("demo", help="a scripted week against a local Slack stand-in")
    demo.add_argument("--db", type=Path, default=Path("demo-out/okrbot-demo.db"))

    parse = commands.add_parser("parse", help="check the reply reader")
    parse.add_argument("--cases", type=Path, help="a JSONL file of cases (SPEC §7)")
    parse.add_argument("--items", type=Path, help="a JSON file of numbered prompt items")
    parse.add_argument("--locale", default="en", choices=("en", "id"))
    parse.add_argument("text", nargs="?", help="the reply to read, with --items")

    db = commands.add_parser("db", help="database maintenance")
    db.add_subparsers(dest="db_command", required=True).add_parser("upgrade")

    imp = commands.add_parser("import", help="create or update OKRs and KPIs from a YAML file")
    imp.add_argument("file", type=Path)
    imp.add_argument("--workspace", help="Slack workspace id (T…) when it cannot be inferred")

    exp = commands.add_parser("export", help="write everything out as YAML or CSV")
    exp.add_argument("--format", choices=("yaml", "csv"), default="yaml")
    exp.add_argument("--out", type=Path)
    exp.add_argument("--workspace")

    checkin = commands.add_parser("checkin", help="check-in rounds")
    start = checkin.add_subparsers(dest="checkin_command", required=True).add_parser(
        "start", help="open a check-in round for a team now"
    )
    start.add_argument("--team", required=True, help="the team's name")
    start.add_argument("--workspace", help="Slack workspace id (T…) when it cannot be inferred")

    cycle = commands.add_parser("cycle", help="OKR cycles")
    cycle_commands = cycle.add_subparsers(dest="cycle_command", required=True)
    cycle_start = cycle_commands.add_parser(
        "start", help="create a cycle (it must overlap no other)"
    )
    cycle_start.add_argument("name", help="the cycle's name, e.g. 2027-Q1")
    cycle_start.add_argument("--start", required=True, type=_date, help="first day, YYYY-MM-DD")
    cycle_start.add_argument("--end", required=True, type=_date, help="last day, YYYY-MM-DD")
    cycle_start.add_argument(
        "--scoring-days", type=int, default=7, help="days of scoring at the end"
    )
    cycle_start.add_argument(
        "--workspace", help="Slack workspace id (T…) when it cannot be inferred"
    )

    cycle_close = cycle_commands.add_parser(
        "close", help="freeze a cycle's progress, statuses and scores; carry KRs over"
    )
    cycle_close.add_argument("name", help="the cycle's name, e.g. 2026-Q4")
    cycle_close.add_argument(
        "--carry",
        choices=("unfinished", "none"),
        default="unfinished",
        help="KRs short of their target start the next cycle where they ended (default)",
    )
    cycle_close.add_argument(
        "--workspace", help="Slack workspace id (T…) when it cannot be inferred"
    )

    digest = commands.add_parser("digest", help="managers' digests")
    send = digest.add_subparsers(dest="digest_command", required=True).add_parser(
        "send", help="send a team's digest to its managers (and channel) now"
    )
    send.add_argument("--team", required=True, help="the team's name")
    send.add_argument("--workspace", help="Slack workspace id (T…) when it cannot be inferred")
    _token_commands(commands)
    _webhook_commands(commands)
    kpi = commands.add_parser("kpi", help="KPI history")
    history = kpi.add_subparsers(dest="kpi_command", required=True).add_parser(
        "import", help="load KPI history from a CSV file: kpi,period,value[,note]"
    )
    history.add_argument("file", type=Path)
    history.add_argument("--workspace", help="Slack workspace id (T…) when it cannot be inferred")
    return parser


def _token_commands(commands: argparse._SubParsersAction) -> None:
    token = commands.add_parser("token", help="tokens for the HTTP API")
    actions = token.add_subparsers(dest="token_command", required=True)
    create = actions.add_parser("create", help="create a token; it is printed once")
    create.add_argument("--name", required=True)
    create.add_argument("--scope", required=True, help="read,kpis:write,krs:write")
    listing = actions.add_parser("list", help="names, scopes and last use")
    revoke = actions.add_parser("revoke", help="revoke a token by name")
    revoke.add_argument("name")
    for action in (create, listing, revoke):
        action.add_argument(
            "--workspace", help="Slack workspace id (T…) when it cannot be inferred"
        )


def _webhook_commands(commands: argparse._SubParsersAction) -> None:
    webhook = commands.add_parser("webhook", help="signed webhooks for OKR and KPI events")
    actions = webhook.add_subparsers(dest="webhook_command", required=True)
    add = actions.add_parser("add", help="add a webhook; its signing secret is printed once")
    add.add_argument("url")
    add.add_argument("--events", required=True, help=",".join(EVENTS))
    listing = actions.add_parser("list", help="URLs, events and deliveries")
    remove = actions.add_parser("remove", help="remove a webhook by id or URL")
    remove.add_argument("ref", metavar="ID|URL")
    for action in (add, listing, remove):
        action.add_argument(
            "--workspace", help="Slack workspace id (T…) when it cannot be inferred"
        )


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2027-01-01") from None


def _fail(message: str) -> int:
    print(f"okrbot: {message}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    level = logging.INFO if args.command == "run" else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return _dispatch(args)
    except ConfigError as exc:
        return _fail(str(exc))
    except ImportFileError as exc:
        print(str(exc), file=sys.stderr)
        return _fail("nothing was imported")
    except OSError as exc:
        return _fail(f"{exc.filename or ''}: {exc.strerror or exc}")
    except (NotFound, InvalidInput) as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "parse":
        return _parse(args)
    settings = load_settings()
    if args.command == "demo":
        return asyncio.run(run_demo(args.db))
    if args.command == "run":
        settings.require_bot_token()
        asyncio.run(runtime.run(settings, socket=args.socket, port=args.port))
    elif args.command == "db":
        asyncio.run(runtime.db_upgrade(settings))
        print("okrbot: database is up to date")
    elif args.command == "import":
        text = args.file.read_text(encoding="utf-8")
        report = asyncio.run(
            runtime.import_text(settings, text, filename=str(args.file), workspace=args.workspace)
        )
        print("okrbot: " + describe_import(report, settings.okrbot_locale))
    elif args.command == "checkin":
        settings.require_bot_token()
        name, sent = asyncio.run(
            runtime.start_checkin(settings, team=args.team, workspace=args.workspace)
        )
        print(f"okrbot: check-in round for {name} opened; {sent} prompts sent")
    elif args.command == "digest":
        settings.require_bot_token()
        report = asyncio.run(
            runtime.send_digest(settings, team=args.team, workspace=args.workspace)
        )
        print(_digest_summary(report))
        return 1 if report.failed else 0
    elif args.command == "token":
        return _token(settings, args)
    elif args.command == "webhook":
        return _webhook(settings, args)
    elif args.command == "kpi":
        text = args.file.read_text(encoding="utf-8")
        done = asyncio.run(
            runtime.import_kpi_history(
                settings, text, filename=str(args.file), workspace=args.workspace
            )
        )
        print(f"okrbot: {done.added} measurements imported, {done.unchanged} already there")
    elif args.command == "cycle" and args.cycle_command == "close":
        closed, retros = asyncio.run(
            runtime.close_cycle(
                settings, name=args.name, carry=args.carry, workspace=args.workspace
            )
        )
        print("okrbot: " + describe_close(closed, settings.okrbot_locale))
        _retro_summary(retros)
    elif args.command == "cycle":
        cycle = asyncio.run(
            runtime.start_cycle(
                settings,
                name=args.name,
                start=args.start,
                end=args.end,
                scoring_days=args.scoring_days,
                workspace=args.workspace,
            )
        )
        print(f"okrbot: cycle {cycle.name} created, {cycle.start} to {cycle.end}")
    elif args.command == "export":
        text = asyncio.run(runtime.export_text(settings, fmt=args.format, workspace=args.workspace))
        if args.out:
            args.out.write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
    return 0


def _token(settings: Settings, args: argparse.Namespace) -> int:
    if args.token_command == "create":
        issued = asyncio.run(
            runtime.create_api_token(
                settings, name=args.name, scopes=args.scope, workspace=args.workspace
            )
        )
        scopes = ", ".join(issued.scopes)
        print(f"okrbot: token {issued.name} ({scopes}); shown only now:", file=sys.stderr)
        print(issued.token)
    elif args.token_command == "list":
        found = asyncio.run(runtime.list_api_tokens(settings, workspace=args.workspace))
        print("\n".join(_token_line(info) for info in found) or "okrbot: no tokens")
    else:
        asyncio.run(runtime.revoke_api_token(settings, name=args.name, workspace=args.workspace))
        print(f"okrbot: token {args.name} revoked")
    return 0


def _webhook(settings: Settings, args: argparse.Namespace) -> int:
    if args.webhook_command == "add":
        added = asyncio.run(
            runtime.add_webhook(
                settings, url=args.url, events=args.events, workspace=args.workspace
            )
        )
        events = ", ".join(added.events)
        heading = f"okrbot: webhook {added.id} to {added.url} ({events})"
        print(f"{heading}; signing secret, shown only now:", file=sys.stderr)
        print(added.secret)
    elif args.webhook_command == "list":
        found = asyncio.run(runtime.list_webhooks(settings, workspace=args.workspace))
        print("\n".join(_webhook_line(info) for info in found) or "okrbot: no webhooks")
    else:
        url = asyncio.run(runtime.remove_webhook(settings, ref=args.ref, workspace=args.workspace))
        print(f"okrbot: webhook to {url} removed")
    return 0


def _webhook_line(info: WebhookInfo) -> str:
    return (
        f"{info.id}  {info.url}  {','.join(info.events)}  "
        f"{info.pending} pending, {info.delivered} delivered, {info.failed} given up"
    )


def _token_line(info: TokenInfo) -> str:
    used = (
        f"last used {info.last_used_at:%Y-%m-%d %H:%M} UTC" if info.last_used_at else "never used"
    )
    revoked = f"  revoked {info.revoked_at:%Y-%m-%d %H:%M} UTC" if info.revoked_at else ""
    return f"{info.name}  {','.join(info.scopes)}  {used}{revoked}"


def _digest_summary(report: DigestReport) -> str:
    lines = [f"okrbot: digest of {report.team} ({report.period})"]
    for label, who in (
        ("sent to", report.sent),
        ("already sent to", report.already),
        ("failed for", report.failed),
    ):
        if who:
            lines.append(f"  {label}: {', '.join(who)}")
    if not (report.sent or report.already or report.failed):
        lines.append("  nobody to send it to: the team has no managers and no channel")
    return "\n".join(lines)


def _retro_summary(report: RetroReport | None) -> None:
    """What became of the retrospective digests a close owes (stdout), or why they wait."""
    if report is None:
        print(
            "okrbot: no SLACK_BOT_TOKEN, so the retrospective digests wait for `okrbot run`",
            file=sys.stderr,
        )
        return
    sent = ", ".join(f"{team} → {who}" for team, who in report.sent)
    print(f"okrbot: retrospective digests sent: {sent or 'none'}")
    if report.failed:
        failed = ", ".join(f"{team} → {who}" for team, who in report.failed)
        print(f"okrbot: retrospective digests not sent (see the log): {failed}", file=sys.stderr)


def _parse(args: argparse.Namespace) -> int:
    if args.cases:
        started = time.perf_counter()
        lines, passed, failed = run_cases(args.cases)
        seconds = time.perf_counter() - started
        print("\n".join(lines))
        print(f"{passed} passed, {failed} failed")
        # The score is stdout's last line (SPEC §7); the reading speed goes beside it.
        print(read_rate(passed + failed, seconds), file=sys.stderr)
        return 0 if failed == 0 else 1
    if args.items and args.text is not None:
        print(show_reply(args.items, args.text, args.locale))
        return 0
    return _fail("parse needs --cases FILE, or --items FILE and the reply text")


if __name__ == "__main__":
    raise SystemExit(main())
