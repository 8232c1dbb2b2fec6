"""CPython's cyclic garbage collector in a running validator: tuning and timing.

Why tune it: a validator allocates many short-lived containers per transaction
(decoded transactions, receipts, state views) and keeps large long-lived ones (the
mempool, the state tree's hash memo, caches, every imported module). With the
interpreter's thresholds (700, 10, 10) a generation-0 collection runs after every
700 net container allocations, and each full collection walks every tracked
object, the long-lived ones included: CPU time, and a pause of the event loop and
of the block worker (the collector holds the GIL). Once the node has started,
`apply` collects once and `gc.freeze()`s what exists then (modules, configuration,
the opened chain), so later collections no longer walk it, and raises the
generation-0 threshold: most short-lived objects are freed by reference counting
before a collection would see them, so fewer collections find the same garbage.
config.toml's `[gc]` chooses (docs/node.md); `gen0_threshold = 0` and `freeze =
false` keep the interpreter's behaviour.

`GC_TIMER` times every collection of the process through `gc.callbacks` (whichever
thread triggered it), for the `pasar_gc_*` metrics (`GcCollector`).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator, Sequence
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from node.home import GcSettings
from node.log import log

GENERATIONS = ("0", "1", "2")


class GcTimer:
    """Collections, seconds inside them and the longest pause, per generation."""

    def __init__(self) -> None:
        self.collections = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self.longest = [0.0, 0.0, 0.0]
        self.collected = [0, 0, 0]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        # called with the GIL held, never re-entered: a collection does not start
        # while another runs
        if phase == "start":
            self._started = time.perf_counter()
            return
        took = time.perf_counter() - self._started
        generation = info["generation"]
        self.collections[generation] += 1
        self.seconds[generation] += took
        self.collected[generation] += info["collected"]
        if took > self.longest[generation]:
            self.longest[generation] = took


GC_TIMER = GcTimer()


def install_timer() -> None:
    """Time the process's collections from now on (once per process)."""
    if GC_TIMER not in gc.callbacks:
        gc.callbacks.append(GC_TIMER)


def apply(settings: GcSettings) -> None:
    """Tune the collector as configured; call once the node has started (its state
    opened, listeners and tasks running), so that what is frozen is what lives on."""
    install_timer()
    if settings.gen0_threshold:
        _, gen1, gen2 = gc.get_threshold()
        gc.set_threshold(settings.gen0_threshold, gen1, gen2)
    started = time.perf_counter()
    if settings.freeze:
        gc.collect()  # garbage frozen now would never be freed
        gc.freeze()
    took_ms = (time.perf_counter() - started) * 1000
    # the longest pause counts from here: start-up collections (imports, this one)
    # happen before the node serves anyone
    GC_TIMER.longest = [0.0, 0.0, 0.0]
    thresholds = "/".join(str(value) for value in gc.get_threshold())
    log("gc_tuned", thresholds=thresholds, frozen=gc.get_freeze_count(), took_ms=took_ms)


class GcCollector(Collector):
    """`pasar_gc_*` samples, read from `GC_TIMER` and the collector's settings."""

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        label = ["generation"]
        families: list[CounterMetricFamily | GaugeMetricFamily] = [
            CounterMetricFamily(
                "pasar_gc_collections", "Garbage collections, by generation", labels=label
            ),
            CounterMetricFamily(
                "pasar_gc_seconds", "Time spent inside garbage collections", labels=label
            ),
            GaugeMetricFamily(
                "pasar_gc_pause_max_seconds",
                "Longest garbage collection since the node started serving",
                labels=label,
            ),
            CounterMetricFamily(
                "pasar_gc_collected_objects",
                "Unreachable objects the collector freed",
                labels=label,
            ),
            GaugeMetricFamily(
                "pasar_gc_threshold", "The collector's threshold per generation", labels=label
            ),
        ]
        values: tuple[Sequence[float], ...] = (
            GC_TIMER.collections,
            GC_TIMER.seconds,
            GC_TIMER.longest,
            GC_TIMER.collected,
            gc.get_threshold(),
        )
        for family, per_generation in zip(families, values, strict=True):
            for name, value in zip(GENERATIONS, per_generation, strict=True):
                family.add_metric([name], value)
        frozen = GaugeMetricFamily(
            "pasar_gc_frozen_objects", "Objects moved out of collection by gc.freeze()"
        )
        frozen.add_metric([], gc.get_freeze_count())
        yield from families
        yield frozen
