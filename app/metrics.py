"""Prometheus metrics, on a registry per app instance so tests and several apps never collide."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.deliveries = Counter(
            "relo_deliveries",
            "Webhook deliveries by event and outcome",
            ["event", "outcome"],
            registry=self.registry,
        )
        self.review_seconds = Histogram(
            "relo_review_duration_seconds",
            "Time to complete one review",
            buckets=(1, 2, 5, 10, 30, 60, 120, 300, 600),
            registry=self.registry,
        )
        self.reviews = Counter(
            "relo_reviews", "Reviews finished by state", ["state"], registry=self.registry
        )
        self.queue_depth = Gauge("relo_queue_depth", "Reviews waiting", registry=self.registry)
        self.in_flight = Gauge("relo_reviews_in_flight", "Reviews running", registry=self.registry)
        self.github_requests = Counter(
            "relo_github_requests",
            "Requests to GitHub by method and status",
            ["method", "status"],
            registry=self.registry,
        )
        self.github_remaining = Gauge(
            "relo_github_ratelimit_remaining",
            "GitHub rate limit remaining, last seen",
            ["installation"],
            registry=self.registry,
        )
        self.llm_tokens = Counter(
            "relo_llm_tokens", "LLM tokens by kind", ["model", "kind"], registry=self.registry
        )
        self.llm_cost = Counter(
            "relo_llm_cost_usd", "LLM cost in US dollars", ["model"], registry=self.registry
        )
        self.failures = Counter(
            "relo_failures", "Review failures by kind", ["kind"], registry=self.registry
        )

        self.loop_errors = Counter(
            "relo_loop_errors",
            "Failures caught by a worker or sweeper loop, which kept running",
            ["loop"],
            registry=self.registry,
        )
        self.loops_down = Gauge(
            "relo_loops_down",
            "Worker or sweeper loops of this process that have stopped",
            registry=self.registry,
        )

        # For the alert rules (deploy/alerts.yml): a queue that stalls, an LLM service that
        # keeps refusing, and a web service answering 5xx.
        self.queue_oldest_age = Gauge(
            "relo_queue_oldest_age_seconds",
            "Age of the oldest queued review (0 when none waits)",
            registry=self.registry,
        )
        self.llm_responses = Counter(
            "relo_llm_responses",
            "HTTP responses from the LLM service by status, retries included",
            ["status"],
            registry=self.registry,
        )
        self.http_responses = Counter(
            "relo_http_responses",
            "Responses of this web service by route and status",
            ["route", "status"],
            registry=self.registry,
        )

    async def llm_response(self, response: Any) -> None:
        """An httpx2 response hook for the LLM client: every answer, by status."""
        self.llm_responses.labels(status=str(response.status_code)).inc()

    def delivery(self, event: str, outcome: str) -> None:
        self.deliveries.labels(event=event[:64], outcome=outcome).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
