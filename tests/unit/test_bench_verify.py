"""bench/bench_verify.py: the signature-check timing checks good signatures in each of
its settings, stops the busy thread and process it starts, and refuses bad input."""

from __future__ import annotations

import multiprocessing
import threading

import pytest

from bench import bench_verify


def test_each_setting_times_good_checks_and_leaves_nothing_running() -> None:
    made = bench_verify.checks(4)
    assert len({check[0] for check in made}) == 4  # four keys
    before = threading.active_count()
    for timing in (bench_verify.per_check, bench_verify.beside_thread, bench_verify.beside_process):
        assert timing(made) > 0
    assert threading.active_count() == before
    assert multiprocessing.active_children() == []


def test_a_signature_that_does_not_verify_is_an_error_not_a_figure() -> None:
    key, domain, chain, digest, signature = bench_verify.checks(1)[0]
    forged = (key, domain, chain, digest, bytes(64))
    with pytest.raises(ValueError, match="1 of the signatures did not verify"):
        bench_verify.per_check([forged])
