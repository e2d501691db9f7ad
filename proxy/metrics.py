"""Prometheus metrics, in one registry per process (no global registry: tests build many apps).

The background workers' counters and the streams' lag join this registry through
``proxy/worker_metrics.py``. With several worker processes the one that serves ``/metrics`` shows
the sum of them all (``proxy/server/metrics_share.py`` sets :attr:`Metrics.exposed`).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.registry import Collector


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.exposed: Collector = self.registry  # what render() shows: this process's numbers
        self.responses = Counter(
            "vernier_responses_total",
            "Responses by how Vernier handled the body.",
            ["handling"],  # streamed | injected | unchanged | not_modified | failed_open | error
            registry=self.registry,
        )
        self.fail_open = Counter(
            "vernier_fail_open_total",
            "Pages served with the origin's bytes because a stage failed or ran over budget.",
            ["stage", "reason"],
            registry=self.registry,
        )
        self.origin_errors = Counter(
            "vernier_origin_errors_total",
            "Origin requests that failed, by kind.",
            ["kind"],  # connect | timeout | protocol | connection | mid_body
            registry=self.registry,
        )
        self.client_gone = Counter(
            "vernier_client_gone_total",
            "Responses cut short because the client hung up (not an origin failure).",
            registry=self.registry,
        )
        self.intake = Counter(
            "vernier_intake_responses_total",
            "Answers of the event intake (/__vernier/e), by status: 202 stored; 400, 403, 405, "
            "408, 413, 415 refused; 429 rate-limited; 503 not stored (the tracker retries).",
            ["status"],
            registry=self.registry,
        )
        self.shed = Counter(
            "vernier_shed_total",
            "Pages served with less than usual because the worker was overloaded, by level "
            "(changes: origin bytes + tag; tag: origin bytes).",
            ["level"],
            registry=self.registry,
        )
        self.loop_lag = Gauge(
            "vernier_event_loop_lag_seconds",
            "The worst event-loop lag over the overload window (govern/overload.py).",
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "vernier_requests_in_flight",
            "Requests in the pipeline now.",
            registry=self.registry,
        )
        self.store_state = Gauge(
            "vernier_store_up",
            "1 once a store call succeeded and while its breaker is closed, else 0.",
            registry=self.registry,
        )
        self.html_work_seconds = Histogram(
            "vernier_html_work_seconds",
            "CPU time Vernier spent changing one HTML page (codecs excluded).",
            buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1),
            registry=self.registry,
        )
        self.rule_outcomes = Counter(
            "vernier_rule_outcomes_total",
            "Pages in a rule's or slot's scope, by outcome (applied | missed | failed).",
            ["rule", "outcome"],
            registry=self.registry,
        )
        self.rule_conflicts = Counter(
            "vernier_rule_conflicts_total",
            "Elements two rules changed; the winner was applied last.",
            ["winner", "loser"],
            registry=self.registry,
        )
        self.decisions = Counter(
            "vernier_decisions_total",
            "Slot decisions served, by variant and reason (rule | bandit | sticky | held | ...).",
            ["slot", "variant", "reason"],
            registry=self.registry,
        )
        self.rules_reloads = Counter(
            "vernier_rules_reloads_total",
            "Rule reloads (file change or SIGHUP), by result.",
            ["result"],  # ok | refused | unchanged
            registry=self.registry,
        )
        self.rules_info = Gauge(
            "vernier_rules_info",
            "1 for the version (content hash) of the live rule set.",
            ["version"],
            registry=self.registry,
        )
        self.rules_refused = Gauge(
            "vernier_rules_refused",
            "1 while the rule files on disk are refused and an older rule set stays live.",
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.exposed)
