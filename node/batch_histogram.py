"""A Prometheus histogram fed a whole block's observations in one call.

`prometheus_client.Histogram.observe` takes a lock and walks the buckets for every
value. A validator observes how long each committed transaction waited since it
first saw it: at 1,500 tx/s that is 1,500 calls a second on the event loop, for a
figure nobody reads more than once per scrape. `BatchHistogram.observe_many`
sorts a block's waits once and adds each bucket's count by bisection, so its cost
follows the number of buckets, not of transactions. It exposes what a
`Histogram` of the same name and buckets exposes (`_bucket{le=...}`, `_count`,
`_sum`), without the `_created` sample.
"""

from __future__ import annotations

import math
import threading
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence

from prometheus_client.core import HistogramMetricFamily
from prometheus_client.registry import Collector


class BatchHistogram(Collector):
    """Cumulative bucket counts and a sum, updated a batch of values at a time."""

    def __init__(self, name: str, documentation: str, buckets: Sequence[float]) -> None:
        bounds = [float(bound) for bound in buckets]
        if not bounds or bounds != sorted(set(bounds)) or any(map(math.isnan, bounds)):
            raise ValueError("buckets must be distinct, ascending numbers")
        if bounds[-1] != math.inf:
            bounds.append(math.inf)
        self.name = name
        self.documentation = documentation
        self.bounds = tuple(bounds)
        # values at or below each bound so far (cumulative, as Prometheus exposes them)
        self._counts = [0] * len(bounds)
        self._sum = 0.0
        self._lock = threading.Lock()  # a scrape may read while a commit adds

    def observe_many(self, values: Iterable[float]) -> None:
        ordered = sorted(values)
        if not ordered:
            return
        with self._lock:
            counts = self._counts
            for index, bound in enumerate(self.bounds):
                counts[index] += bisect_right(ordered, bound)
            self._sum += math.fsum(ordered)

    def collect(self) -> Iterator[HistogramMetricFamily]:
        with self._lock:
            counts = list(self._counts)
            total = self._sum
        family = HistogramMetricFamily(self.name, self.documentation)
        family.add_metric(
            [],
            [(_bound_text(bound), count) for bound, count in zip(self.bounds, counts, strict=True)],
            total,
        )
        yield family


def _bound_text(bound: float) -> str:
    """A bucket's `le` label as Prometheus clients write it: +Inf, or the float's repr
    (the buckets used here have no exponent, where Go's formatting would differ)."""
    return "+Inf" if bound == math.inf else repr(bound)
