"""Counters, gauges and histograms recorded on the event loop, exposed through prometheus-client.

Why not prometheus-client's own instruments: each `inc` and `observe` there
takes a lock and goes through three or four Python calls (thread- and
multiprocess-safe), about 60 calls per request for the gateway's eleven
recordings. Measured with callgrind (bench/bench_tracing.py's `serve`, tracing
off), that made `serve` cost more per request than the 3 % this telemetry may
add. Every recording here happens on the process's event loop thread, so a
series is a plain slot incremented in place. prometheus-client still does
what it is for: the families, the text and OpenMetrics formats, content
negotiation, exemplars.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Iterator, Sequence

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Exemplar

Labels = tuple[str, ...]


class CounterSeries:
    """One label set's running total."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        """Add `amount` (never negative)."""
        self.value += amount


class HistogramSeries:
    """One label set's bucket counts, sum, and the latest exemplar of each bucket."""

    __slots__ = ("bounds", "counts", "sum", "exemplars")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last is +Inf
        self.sum = 0.0
        self.exemplars: dict[int, Exemplar] = {}

    def observe(self, value: float, exemplar: dict[str, str] | None = None) -> None:
        """Count `value` in its bucket; `exemplar` (trace ids) is kept as that bucket's latest."""
        index = bisect.bisect_left(self.bounds, value)
        self.counts[index] += 1
        self.sum += value
        if exemplar is not None:
            self.exemplars[index] = Exemplar(exemplar, value, time.time())


class Counter:
    """A labelled counter (`name_total` in the exposition)."""

    def __init__(self, name: str, documentation: str, labelnames: Labels = ()) -> None:
        self.name, self.documentation, self.labelnames = name, documentation, labelnames
        self.series: dict[Labels, CounterSeries] = {}

    def labels(self, *values: str) -> CounterSeries:
        """The series of these label values (made on first use)."""
        series = self.series.get(values)
        if series is None:
            series = self.series[values] = CounterSeries()
        return series

    def inc(self, amount: float = 1.0) -> None:
        """For a counter without labels."""
        self.labels().inc(amount)

    def family(self) -> Metric:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for values, series in list(self.series.items()):
            family.add_metric(values, series.value)
        return family


class Gauge:
    """A gauge without labels that the loop raises and lowers."""

    def __init__(self, name: str, documentation: str) -> None:
        self.name, self.documentation = name, documentation
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        self.value += amount

    def dec(self, amount: float = 1.0) -> None:
        self.value -= amount

    def family(self) -> Metric:
        return GaugeMetricFamily(self.name, self.documentation, value=self.value)


class Histogram:
    """A labelled histogram with fixed bucket bounds."""

    def __init__(self, name: str, documentation: str, labelnames: Labels, buckets: Sequence[float]) -> None:
        self.name, self.documentation, self.labelnames = name, documentation, labelnames
        self.bounds = tuple(float(b) for b in buckets)
        self.series: dict[Labels, HistogramSeries] = {}

    def labels(self, *values: str) -> HistogramSeries:
        """The series of these label values (made on first use)."""
        series = self.series.get(values)
        if series is None:
            series = self.series[values] = HistogramSeries(self.bounds)
        return series

    def family(self) -> Metric:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for values, series in list(self.series.items()):
            buckets: list[tuple[str, float] | tuple[str, float, Exemplar]] = []
            running = 0
            for index, count in enumerate(list(series.counts)):
                running += count
                le = "+Inf" if index == len(self.bounds) else _bound(self.bounds[index])
                exemplar = series.exemplars.get(index)
                buckets.append((le, running, exemplar) if exemplar is not None else (le, running))
            family.add_metric(values, buckets, series.sum)
        return family


def _bound(value: float) -> str:
    # prometheus-client's own spelling of `le` values (0.005, 1.0, 300.0).
    return repr(float(value))


class Instruments(Collector):
    """The instruments of one registry, collected at each scrape."""

    def __init__(self) -> None:
        self._all: list[Counter | Gauge | Histogram] = []

    def add(self, instrument: Counter | Gauge | Histogram) -> None:
        self._all.append(instrument)

    def collect(self) -> Iterator[Metric]:
        for instrument in self._all:
            yield instrument.family()
