"""The profile breakdown (bench/cpu_breakdown.py): samples sorted into CPU buckets."""

from __future__ import annotations

from pathlib import Path

from bench.cpu_breakdown import IDLE, breakdown, classify, read_raw

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
