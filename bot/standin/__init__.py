"""The local Slack stand-in used by the demo, the tests and the benchmarks.

`SlackStandin` answers the Slack Web API on 127.0.0.1 for the real slack_sdk client;
`SignedSender` sends Slack's signed requests to the app's own HTTP endpoint.
"""

from bot.standin.sender import Response, SignedSender
from bot.standin.server import Call, SlackStandin, StandinThread

__all__ = ["Call", "Response", "SignedSender", "SlackStandin", "StandinThread"]
