"""The validator process's resident memory, split by what holds it, for /metrics.

Why split it: a validator's RSS counts the pages of LevelDB's table files that it
maps to read them (file-backed, clean: page cache the kernel takes back under
memory pressure without writing anything), next to its own memory (the Python
heap, caches, LevelDB's memtables and block cache). Under a read-heavy load the
mapped pages were up to 190 MB of a 413 MB RSS (docs/node.md, "What holds a
commerce validator's memory"), so an alert on the total fires on memory the
process does not need. `pasar_memory_resident_bytes{kind}` gives each part as
Linux accounts it in /proc/self/status: `anonymous` (RssAnon), `file` (RssFile)
and `shared` (RssShmem); `pasar_memory_resident_peak_bytes` is the largest total
so far (VmHWM). Elsewhere than Linux the samples are absent.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

STATUS = Path("/proc/self/status")
KINDS = (("RssAnon", "anonymous"), ("RssFile", "file"), ("RssShmem", "shared"))


def read_status(path: Path = STATUS) -> dict[str, int]:
    """The `kB` lines of a /proc status file, in bytes ({} when it cannot be read)."""
    try:
        text = path.read_text()
    except OSError:
        return {}
    found: dict[str, int] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        fields = rest.split()
        if len(fields) == 2 and fields[1] == "kB" and fields[0].isdigit():
            found[name] = int(fields[0]) * 1024
    return found


class MemoryCollector(Collector):
    """`pasar_memory_*` samples, read from the status file at each scrape."""

    def __init__(self, path: Path = STATUS) -> None:
        self.path = path

    def collect(self) -> Iterator[GaugeMetricFamily]:
        status = read_status(self.path)
        if not status:
            return
        resident = GaugeMetricFamily(
            "pasar_memory_resident_bytes",
            "Resident memory of the node process by kind: anonymous (its own), file "
            "(mapped files, mostly LevelDB's table pages, which the kernel can take "
            "back), shared",
            labels=["kind"],
        )
        for field, kind in KINDS:
            if field in status:
                resident.add_metric([kind], float(status[field]))
        yield resident
        if "VmHWM" in status:
            yield GaugeMetricFamily(
                "pasar_memory_resident_peak_bytes",
                "The largest resident memory of the node process so far",
                value=float(status["VmHWM"]),
            )
