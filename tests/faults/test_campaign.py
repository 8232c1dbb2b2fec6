"""Seeded fault campaigns on real validators: a short one by default, longer ones with -m slow.

pytest tests/faults -m slow          # 10 seeds x 30 s
python -m tests.faults.campaign --seeds 20
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.campaign import KINDS, run, schedule

# Three seeds whose 20-second schedules together cover every fault kind (checked below).
DEFAULT_SEEDS = (3, 20, 58)
DEFAULT_DURATION = 20.0


def test_schedules_are_reproducible_bounded_and_varied() -> None:
    assert schedule(11, 30.0) == schedule(11, 30.0)
    assert schedule(11, 30.0) != schedule(12, 30.0)
    for seed in range(50):
        faults = schedule(seed, 30.0)
        assert faults, seed
        for earlier, later in zip(faults, faults[1:], strict=False):
            assert earlier.start + earlier.duration < later.start  # one fault at a time
        assert faults[-1].start + faults[-1].duration <= 28.0
    covered = {f.kind for seed in DEFAULT_SEEDS for f in schedule(seed, DEFAULT_DURATION)}
    assert covered == set(KINDS)


@pytest.mark.parametrize("seed", DEFAULT_SEEDS)
def test_short_campaign(seed: int, tmp_path: Path) -> None:
    result = run(seed, DEFAULT_DURATION, tmp_path)
    assert result.verdict.ok, result.summary()
    assert result.verdict.committed > 0
    assert len(result.recoveries) == len(result.faults)
    assert all(r is not None for r in result.recoveries), result.summary()


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(100, 110))
def test_long_campaign(seed: int, tmp_path: Path) -> None:
    result = run(seed, 30.0, tmp_path)
    assert result.verdict.ok, result.summary()
