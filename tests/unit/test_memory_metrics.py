"""`pasar_memory_*` (node/memory_metrics.py): resident memory by kind from /proc."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

from node.memory_metrics import MemoryCollector, read_status

STATUS = """Name:\tpython
VmHWM:\t  300000 kB
VmRSS:\t  250000 kB
RssAnon:\t  180000 kB
RssFile:\t   69000 kB
RssShmem:\t    1000 kB
Threads:\t5
"""


def render(path: Path) -> str:
    registry = CollectorRegistry()
    registry.register(MemoryCollector(path))
    return generate_latest(registry).decode()


def test_each_kind_of_resident_memory_is_a_sample_in_bytes(tmp_path: Path) -> None:
    status = tmp_path / "status"
    status.write_text(STATUS)
    text = render(status)
    assert 'pasar_memory_resident_bytes{kind="anonymous"} 1.8432e+08' in text
    assert 'pasar_memory_resident_bytes{kind="file"} 7.0656e+07' in text
    assert 'pasar_memory_resident_bytes{kind="shared"} 1.024e+06' in text
    assert "pasar_memory_resident_peak_bytes 3.072e+08" in text
    assert read_status(status)["VmRSS"] == 250_000 * 1024
    assert "Threads" not in read_status(status)  # not a kB line


def test_without_a_status_file_the_samples_are_absent(tmp_path: Path) -> None:
    assert "pasar_memory" not in render(tmp_path / "absent")


def test_this_process_parts_add_up_to_its_rss() -> None:
    status = read_status()
    if not status:  # not Linux
        return
    parts = status["RssAnon"] + status["RssFile"] + status["RssShmem"]
    assert parts == status["VmRSS"] and status["RssAnon"] > 0
