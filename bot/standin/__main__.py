"""Runs the Slack stand-in on its own: `python -m bot.standin [--port N] [--users FILE.json]`.

Prints `SLACK_API_URL=...` on one line, then serves until SIGTERM or SIGINT.
"""

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

from bot.standin.server import SlackStandin, require_loopback


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot.standin", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="a loopback address")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--users",
        type=Path,
        help='JSON list of members: [{"id": "U1", "name": "ana", "email": ..., "tz": ...}]',
    )
    return parser.parse_args(argv)


def load_users(path: Path) -> list[dict[str, Any]]:
    """The members in a users file; each needs `id` and `name`."""
    users = json.loads(path.read_text("utf-8"))
    if not isinstance(users, list) or not all(
        isinstance(u, dict) and "id" in u and "name" in u for u in users
    ):
        raise ValueError(f"{path}: expected a JSON list of objects with id and name")
    return users


async def serve(standin: SlackStandin) -> None:
    """Serves until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with standin:
        print(f"SLACK_API_URL={standin.api_url}", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        require_loopback(args.host)
        standin = SlackStandin(host=args.host, port=args.port)
        for user in load_users(args.users) if args.users else []:
            standin.add_user(user.pop("id"), **user)
    except (OSError, ValueError, TypeError) as exc:
        print(f"standin: {exc}", file=sys.stderr)
        return 2
    asyncio.run(serve(standin))
    return 0


if __name__ == "__main__":
    sys.exit(main())
