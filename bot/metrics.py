"""Prometheus metrics, one registry per app so tests can build many apps side by side."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    # (kind, status) -> its request counter and latency histogram, looked up once:
    # `labels()` checks and locks on every call, a cost each Slack request paid.
    _answered: dict[tuple[str, int], tuple[Counter, Histogram]] = field(
        default_factory=dict, init=False, repr=False
    )

    def __post_init__(self) -> None:
        self.requests = Counter(
            "okrbot_slack_requests",
            "Requests received from Slack, by kind and HTTP status.",
            ["kind", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "okrbot_slack_request_seconds",
            "Time to answer a request from Slack.",
            ["kind"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )
        self.errors = Counter(
            "okrbot_errors",
            "Errors handled by the app's error handler, by type.",
            ["type"],
            registry=self.registry,
        )

        self.waiting = Gauge(
            "okrbot_db_waiting",
            "Units of work waiting for a database slot, by kind (read or write).",
            ["kind"],
            registry=self.registry,
        )

    def answered(self, kind: str, status: int, seconds: float) -> None:
        """Count one request from Slack (`kind`, answered with HTTP `status`) and its time."""
        children = self._answered.get((kind, status))
        if children is None:
            children = (
                self.requests.labels(kind=kind, status=str(status)),
                self.latency.labels(kind=kind),
            )
            self._answered[(kind, status)] = children
        counter, histogram = children
        counter.inc()
        histogram.observe(seconds)

    def render(self, *, waiting: dict[str, int] | None = None) -> bytes:
        """The metrics in Prometheus' text format; `waiting` is read at the moment of asking."""
        for kind, count in (waiting or {}).items():
            self.waiting.labels(kind=kind).set(count)
        return generate_latest(self.registry)
