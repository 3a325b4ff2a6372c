"""The long-lived dependencies of a running service, built once and passed around."""

from __future__ import annotations

from dataclasses import dataclass

import httpx2

from app.config import Settings
from app.intake import Intake
from app.jobs.base import Queue
from app.jobs.runner import Runner
from app.ledger import Ledger
from app.metrics import Metrics


@dataclass(slots=True)
class Services:
    settings: Settings
    ledger: Ledger
    intake: Intake
    queue: Queue
    http: httpx2.AsyncClient
    runner: Runner
    metrics: Metrics
