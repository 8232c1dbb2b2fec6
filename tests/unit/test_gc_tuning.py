"""config.toml's `[gc]` table (node/gc_tuning.py): what it accepts, what it refuses
with a clear message, through `pasar node` too, and the collections the
`pasar_gc_*` metrics count."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

import pytest

from node.gc_tuning import GC_TIMER, install_timer
from node.home import (
    CONFIG_FILE,
    GcSettings,
    HomeError,
    config_from_toml,
    config_to_toml,
    create_testnet,
)
from node.metrics import NodeMetrics

ROOT = Path(__file__).resolve().parents[2]
BASE = 'chain_id = "c"\nname = "a"\n'


def test_gc_settings_default_to_the_tuning_and_round_trip() -> None:
    assert config_from_toml(BASE).gc == GcSettings(gen0_threshold=50_000, freeze=True)
    config = config_from_toml(BASE + "[gc]\ngen0_threshold = 20000\nfreeze = false\n")
    assert config.gc == GcSettings(gen0_threshold=20_000, freeze=False)
    assert config_from_toml(config_to_toml(config)) == config


def test_zero_and_no_freeze_keep_the_interpreter_default() -> None:
    config = config_from_toml(BASE + "[gc]\ngen0_threshold = 0\nfreeze = false\n")
    assert config.gc == GcSettings(gen0_threshold=0, freeze=False)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("gen0_threshold = 50", "gc.gen0_threshold must be 0 (keep the interpreter's thresholds)"),
        ("gen0_threshold = 2000000", "or an integer from 100 to 1000000, not 2000000"),
        ("gen0_threshold = -1", "gc.gen0_threshold must be 0"),
        ('gen0_threshold = "big"', "not 'big'"),
        ("gen0_threshold = true", "gc.gen0_threshold must be 0"),
        ('freeze = "yes"', "gc.freeze must be true or false, not 'yes'"),
        ("freeze = 1", "gc.freeze must be true or false"),
        ("threshold = 1000", "unknown setting gc.threshold (known: gen0_threshold, freeze)"),
    ],
)
def test_invalid_gc_settings_are_refused(table: str, message: str) -> None:
    with pytest.raises(HomeError) as raised:
        config_from_toml(BASE + "[gc]\n" + table + "\n")
    assert message in str(raised.value)


def test_pasar_node_refuses_an_invalid_gc_setting_in_one_line(tmp_path: Path) -> None:
    (node,) = create_testnet(tmp_path, ["v0"], insecure=True)
    config = node.home / CONFIG_FILE
    config.write_text(config.read_text().replace("freeze = true", "freeze = 2"))
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "node", "--home", str(node.home)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        "Error: config.toml: gc.freeze must be true or false, not 2"
    ]


def test_metrics_count_the_collections_of_the_process() -> None:
    installed = GC_TIMER in gc.callbacks
    install_timer()
    install_timer()  # once per process, whoever asks
    try:
        assert gc.callbacks.count(GC_TIMER) == 1
        before = GC_TIMER.collections[2]
        gc.collect()
        assert GC_TIMER.collections[2] >= before + 1
        text = NodeMetrics().render().decode()
        threshold = gc.get_threshold()[0]
        assert f'pasar_gc_threshold{{generation="0"}} {float(threshold)}' in text
        assert f'pasar_gc_collections_total{{generation="2"}} {float(GC_TIMER.collections[2])}' in (
            text
        )
        for name in ("pasar_gc_seconds_total", "pasar_gc_pause_max_seconds"):
            assert f'{name}{{generation="1"}}' in text
        assert f"pasar_gc_frozen_objects {float(gc.get_freeze_count())}" in text
    finally:
        if not installed:
            gc.callbacks.remove(GC_TIMER)
