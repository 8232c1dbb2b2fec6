"""Seeded random fault schedules: agreement, certificates, bounded logs and liveness.

The default run covers 500 seeds (even seeds n = 4, odd seeds n = 7); see
conftest.py for running more or replaying one. A failure names its seed.
"""

from __future__ import annotations

from tests.sim.schedules import run_schedule


def test_random_schedules_keep_agreement_and_recover(sim_seeds: list[int]) -> None:
    for seed in sim_seeds:
        outcome = run_schedule(seed)
        assert outcome.heights, f"seed {seed}: no nodes"


def test_schedule_is_reproducible_from_its_seed() -> None:
    first = run_schedule(3)
    again = run_schedule(3)
    assert first == again
