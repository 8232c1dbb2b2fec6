"""Seeded random fault schedules: agreement, certificates, bounded logs, liveness, and
an idle chain staying idle (the node's block policy, late mempool notices).

The default run covers 500 seeds (n = 4, 7 or 10: schedules.validators_for); see
conftest.py for running more or replaying one. A failure names its seed.
"""

from __future__ import annotations

from tests.sim.schedules import run_schedule
from tests.sim.simnet import SIM_CONFIG, InvariantViolation


def test_random_schedules_keep_agreement_and_recover(sim_seeds: list[int]) -> None:
    for seed in sim_seeds:
        try:
            run_schedule(seed)
        except InvariantViolation:
            raise  # its message names the seed
        except Exception as exc:  # a crash inside the run is a failure of this seed too
            raise AssertionError(f"seed {seed}: {type(exc).__name__}: {exc}") from exc


def test_random_schedules_with_empty_blocks() -> None:
    """The replica's other mode: an empty block after `empty_block_interval` idle."""
    for seed in range(10_000, 10_040):
        try:
            run_schedule(seed, config=SIM_CONFIG)
        except InvariantViolation:
            raise
        except Exception as exc:
            raise AssertionError(f"seed {seed}: {type(exc).__name__}: {exc}") from exc


def test_schedule_is_reproducible_from_its_seed() -> None:
    first = run_schedule(3)
    again = run_schedule(3)
    assert first == again
