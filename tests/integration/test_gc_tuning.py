"""The garbage collector tuning of config.toml's `[gc]`, applied in real validator
processes once they have started, and reported on /metrics (node/gc_tuning.py), next
to the process's resident memory by kind (node/memory_metrics.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from node.home import CONFIG_FILE, GcSettings, config_to_toml, load_home
from tests.integration.harness import LocalNet, http


def sample(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} is not on /metrics")


def test_each_node_applies_its_gc_settings_and_reports_them(tmp_path: Path) -> None:
    net = LocalNet(tmp_path / "net", count=2)
    chosen = [GcSettings(gen0_threshold=12_345, freeze=True), GcSettings(0, freeze=False)]
    for node, settings in zip(net.nodes, chosen, strict=True):
        config = load_home(node.home).config
        (node.home / CONFIG_FILE).write_text(
            config_to_toml(dataclasses.replace(config, gc=settings))
        )
    try:
        net.start_all()
        texts = []
        for index in range(2):
            code, text = http("GET", net.url(index, "/metrics"))
            assert code == 200
            texts.append(text)
        tuned, untuned = texts
        assert sample(tuned, 'pasar_gc_threshold{generation="0"}') == 12_345
        assert sample(tuned, "pasar_gc_frozen_objects") > 10_000  # modules, the opened chain
        # apply's own full collection, timed: the metrics see the process's collections
        assert sample(tuned, 'pasar_gc_collections_total{generation="2"}') >= 1
        assert sample(untuned, 'pasar_gc_threshold{generation="0"}') == 700
        assert sample(untuned, "pasar_gc_frozen_objects") == 0
        for text in texts:
            # the process's memory by kind sits next to its collections
            assert sample(text, 'pasar_memory_resident_bytes{kind="anonymous"}') > 10e6
            assert sample(text, 'pasar_memory_resident_bytes{kind="file"}') > 0
            assert sample(text, "pasar_memory_resident_peak_bytes") > 10e6
            for generation in "012":
                sample(text, f'pasar_gc_seconds_total{{generation="{generation}"}}')
                sample(text, f'pasar_gc_pause_max_seconds{{generation="{generation}"}}')
        assert "event=gc_tuned node=v0 thresholds=12345/10/10 frozen=" in net.log_text(0)
    finally:
        net.close()
