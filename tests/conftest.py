"""Command-line options shared by the test tree (registered here so they work from the root).

--sim-seeds N   how many seeded simulator schedules to run (env PASAR_SIM_SEEDS)
--sim-seed S    replay only simulator seed S
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pasar simulator")
    group.addoption(
        "--sim-seeds",
        type=int,
        default=None,
        help="number of random consensus schedules to run (default 500)",
    )
    group.addoption("--sim-seed", type=int, default=None, help="replay only this seed")
