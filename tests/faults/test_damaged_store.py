"""A stopped validator whose LevelDB directory has a file cut short.

Validator v3 is stopped under load with a write-ahead log and at least one
table on disk, and its data directory is saved. Then, one file at a time, from
the saved copy:
  - the newest table (.ldb) cut in half, or the MANIFEST cut in half: the node
    refuses to start (non-zero exit, one clear line naming the remedy) and never
    serves a request;
  - the write-ahead log (.log, the newest file) cut in half: LevelDB recovers the
    whole batches before the cut (each block is one batch), so the node starts
    at an older head and catches up from its peers;
and finally the remedy docs/node.md gives for a damaged directory (move it
aside, start again) rebuilds the node from its peers. The history checker then
holds all four validators to everything any of them answered.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from tests.faults.checker import check
from tests.faults.history import LoadClient
from tests.integration.harness import SYMBOL, LocalNet, wait_until

TARGET = 3
OTHERS = [0, 1, 2]


def truncate_half(path: Path) -> None:
    with open(path, "r+b") as handle:
        handle.truncate(path.stat().st_size // 2)


def newest(data: Path, pattern: str) -> Path:
    files = sorted(data.glob(pattern))
    assert files, f"no {pattern} in {sorted(p.name for p in data.iterdir())}"
    return files[-1]


def restore(saved: Path, data: Path) -> None:
    shutil.rmtree(data)
    shutil.copytree(saved, data)


def refuses_to_start(net: LocalNet, reason: str) -> None:
    """Start the target on its damaged store: it must exit non-zero, never serving."""
    started = net.log_text(TARGET).count("event=node_started")
    net.start(TARGET)
    process = net.processes[TARGET]
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"the node started on a damaged store ({reason})") from None
    net.processes.pop(TARGET)
    assert process.returncode != 0
    assert net.log_text(TARGET).count("event=node_started") == started  # no listener opened
    last = net.log_text(TARGET).rstrip().splitlines()[-1]
    assert last.startswith("Error: storage failed (damaged data)"), last
    assert "move" in last and "aside" in last and "docs/node.md" in last, last
    assert "Traceback" not in net.log_text(TARGET)


def caught_up(net: LocalNet) -> None:
    wait_until(
        lambda: net.height(TARGET) >= max(net.height(i) for i in OTHERS),
        40,
        "the validator to catch up",
    )


def test_truncated_leveldb_files_are_refused_or_recovered_never_served_wrong(
    tmp_path: Path,
) -> None:
    net = LocalNet(tmp_path, count=4, accounts=12)
    data = net.nodes[TARGET].home / "data"
    saved = tmp_path / "v3-data-saved"
    load = LoadClient(net)
    try:
        net.start_all()
        load.start()
        wait_until(lambda: net.height(TARGET) >= 5, 30, "blocks on the target")
        # A restart turns the first log into a table; more blocks go to a new log.
        assert net.terminate(TARGET) == 0
        net.start(TARGET)
        net.wait_up(TARGET)
        before = net.height(TARGET)
        wait_until(lambda: net.height(TARGET) >= before + 5, 30, "more blocks on the target")
        assert net.terminate(TARGET) == 0
        table_height = net.logged_heights(TARGET)[-1]  # the first log's blocks
        stopped_at = net.logged_heights(TARGET, "node_stopped")[-1]
        shutil.copytree(data, saved)

        truncate_half(newest(data, "*.ldb"))
        refuses_to_start(net, "table cut short")

        restore(saved, data)
        truncate_half(newest(data, "MANIFEST-*"))
        refuses_to_start(net, "manifest cut short")

        restore(saved, data)
        truncate_half(newest(data, "*.log"))
        net.start(TARGET)
        net.wait_up(TARGET)
        reopened = net.logged_heights(TARGET)[-1]
        # the table is intact and the log lost its tail: an older head, nothing torn
        assert table_height <= reopened < stopped_at, (table_height, reopened, stopped_at)
        caught_up(net)

        # The documented remedy for a damaged directory: move it aside, start again.
        assert net.terminate(TARGET) == 0
        data.rename(tmp_path / "v3-data-damaged")
        net.start(TARGET)
        net.wait_up(TARGET)
        assert net.logged_heights(TARGET)[-1] == 0
        caught_up(net)
        time.sleep(1.0)  # a little load with all four back
        load.stop()
        verdict = check(net, load.history, [0, 1, 2, 3], {SYMBOL: len(net.accounts) * 10**9})
        assert verdict.ok, verdict.defects
        assert verdict.committed > 0
    finally:
        load.stop()
        net.close()
