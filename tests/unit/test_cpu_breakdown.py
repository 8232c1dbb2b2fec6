"""The profile breakdown (bench/cpu_breakdown.py): samples sorted into CPU buckets."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from bench.cpu_breakdown import (
    IDLE,
    breakdown,
    classify,
    read_perf_dso,
    read_raw,
    render_libraries,
    render_threads,
    thread_cpu,
)

LOOP = "<module> (cli/main.py:1);run_forever (asyncio/base_events.py:607)"


def test_the_first_matching_bucket_wins_and_idle_waits_are_left_out(tmp_path: Path) -> None:
    verify_in_block = f"{LOOP};check_block (ledger/execution.py:9);verify (ledger/keys.py:70)"
    state_read = f"{LOOP};apply_tx (ledger/execution.py:1);decode (ledger/codec.py:3)"
    assert classify(verify_in_block) == "signature"
    assert classify(state_read) == "execution"  # a decode inside a contract is execution
    assert classify(f"{LOOP};submit_batch (node/rpc/routes_txs.py:5)") == "RPC (HTTP, JSON)"
    assert classify(f"{LOOP};select (selectors.py:468)") == IDLE
    raw = tmp_path / "profile.txt"
    raw.write_text(f"{verify_in_block} 30\n{state_read} 10\n{LOOP};select (selectors.py:468) 60\n")
    rows = {bucket: (share, micros) for bucket, share, micros in breakdown(read_raw(raw), 200)}
    assert rows["signature"] == (0.75, 150.0)  # idle samples do not dilute the shares
    assert rows["execution"] == (0.25, 50.0)


def test_thread_cpu_reads_every_thread_of_a_process_and_renders_us_per_tx() -> None:
    own = thread_cpu(os.getpid())
    assert threading.get_native_id() in own
    assert all(user >= 0 and system >= 0 for user, system in own.values())
    before = {1: (1.0, 0.5), 2: (2.0, 0.0)}
    after = {1: (1.5, 0.75), 2: (2.0, 0.0), 3: (0.25, 0.25)}  # thread 3 started meanwhile
    text = render_threads(before, after, {1: "MainThread"}, 1000)
    lines = text.splitlines()
    assert lines[0].endswith(" 1250 in all")  # 1.25 s of CPU over 1,000 transactions
    assert lines[1].split() == ["MainThread", "750.0", "(250.0)"]  # the busiest first
    assert lines[2].split()[:2] == ["thread", "3,"] and lines[2].endswith("500.0 (250.0)")
    assert len(lines) == 3  # a thread that used nothing is left out


PERF_REPORT = """\
# Samples: 2K of event 'cpu-clock:ppp'
#
# Overhead  Shared Object
# ........  ..............................................
#
    44.25%  python3.11
    32.91%  _sodium.abi3.so
     7.20%  [kernel.kallsyms]
     5.38%  libc.so.6
     4.06%  libleveldb-e43d8649.so.1.22.0
     3.10%  libcrypto.so.3
     1.37%  _cmsgpack.cpython-311-x86_64-linux-gnu.so
     0.54%  libstdc++.so.6.0.30
     0.33%  _hashlib.cpython-311-x86_64-linux-gnu.so
     0.86%  _cffi_backend.cpython-311-x86_64-linux-gnu.so
"""


def test_perf_shared_objects_are_summed_by_library_and_priced_per_transaction() -> None:
    shares = read_perf_dso(PERF_REPORT)
    assert round(shares["Python interpreter"], 2) == 44.25
    assert round(shares["C library (malloc, copies)"], 2) == 5.92  # libc and libstdc++
    assert round(shares["OpenSSL (sha256)"], 2) == 3.43  # libcrypto and _hashlib
    assert round(shares["other"], 2) == 0.86  # what no rule names
    assert round(sum(shares.values()), 2) == 100.0  # every row counted once
    rows = {
        line.split("  ")[1].strip(): line.split()[-1]
        for line in render_libraries(shares, 200.0).splitlines()[1:]
    }
    assert rows["libsodium (Ed25519)"] == "65.8"  # 32.91% of 200 µs
    assert rows["kernel"] == "14.4"
    assert read_perf_dso("# only comments\n") == {}
