"""BatchHistogram: the same exposition as prometheus_client's Histogram."""

from __future__ import annotations

import math
import random

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from node.batch_histogram import BatchHistogram

BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)


def samples(registry: CollectorRegistry) -> dict[str, float]:
    """name{labels} -> value, without the _created sample only Histogram has."""
    found = {}
    for line in generate_latest(registry).decode().splitlines():
        if line and not line.startswith("#") and "_created" not in line:
            key, _, value = line.rpartition(" ")
            found[key] = float(value)
    return found


def test_batches_expose_what_one_observation_at_a_time_exposes() -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    batch = BatchHistogram("pasar_wait_seconds", "waits", BUCKETS)
    ours.register(batch)
    single = Histogram("pasar_wait_seconds", "waits", buckets=BUCKETS, registry=theirs)
    rng = random.Random(7)
    for size in (0, 1, 37, 300, 5):
        # values on the bounds themselves count in that bucket (le: at or below)
        values = [rng.choice([rng.uniform(0, 12), rng.choice(BUCKETS)]) for _ in range(size)]
        batch.observe_many(values)
        for value in values:
            single.observe(value)
        got, want = samples(ours), samples(theirs)
        assert got.keys() == want.keys()
        for key, value in want.items():
            assert got[key] == pytest.approx(value), key
    assert samples(ours)['pasar_wait_seconds_bucket{le="+Inf"}'] == 343
    assert samples(ours)['pasar_wait_seconds_bucket{le="0.05"}'] > 0


def test_buckets_must_ascend() -> None:
    for bad in ((), (1.0, 0.5), (0.5, 0.5), (math.nan,)):
        with pytest.raises(ValueError):
            BatchHistogram("pasar_x", "x", bad)
