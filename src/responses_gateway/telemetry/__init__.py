"""Telemetry: metrics, tracing and logging set up for a process, passed to what records into them."""

from __future__ import annotations

from dataclasses import dataclass, field

from responses_gateway.telemetry.metrics import Metrics
from responses_gateway.telemetry.tracing import Tracing


@dataclass
class Telemetry:
    """What one process records into: its metrics always, its tracer when tracing is on."""

    metrics: Metrics = field(default_factory=Metrics)
    tracing: Tracing | None = None


__all__ = ["Metrics", "Telemetry", "Tracing"]
