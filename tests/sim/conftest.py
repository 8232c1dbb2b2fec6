"""Simulator seeds (options registered in tests/conftest.py) and a shared signature cache.

pytest tests/sim --sim-seeds 5000    # more schedules (env: PASAR_SIM_SEEDS)
pytest tests/sim --sim-seed 1234     # replay exactly one failing seed
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator

import pytest

from tests.sim.simnet import VERIFY_FUNCTIONS, VERIFY_USERS, cached_verify

DEFAULT_SEEDS = 500


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "sim_seeds" not in metafunc.fixturenames:
        return
    config = metafunc.config
    only = config.getoption("--sim-seed")
    if only is not None:
        seeds = [only]
    else:
        count = config.getoption("--sim-seeds")
        if count is None:
            count = int(os.environ.get("PASAR_SIM_SEEDS", DEFAULT_SEEDS))
        seeds = list(range(count))
    # batches keep the test count readable while every seed still runs
    batch = 50
    batches = [seeds[i : i + batch] for i in range(0, len(seeds), batch)]
    metafunc.parametrize("sim_seeds", batches, ids=[f"seeds{b[0]}-{b[-1]}" for b in batches])


@pytest.fixture(autouse=True)
def shared_signature_cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in VERIFY_USERS:
        for function in VERIFY_FUNCTIONS:
            monkeypatch.setattr(importlib.import_module(name), function, cached_verify)
    yield
