"""bench/bench_worker.py: the offline replay of a validator's block worker runs and
times every part it reports, and leaves the functions it wraps as they were."""

from __future__ import annotations

from bench import bench_worker, loadgen
from ledger import chainstore, execution
from ledger.tx import SignedTransaction


def test_the_replay_times_each_part_and_unwraps_what_it_timed() -> None:
    wrapped = [getattr(module, name) for module, name in bench_worker.PARTS]
    accounts = [loadgen.account_key(index) for index in range(40)]
    totals = bench_worker.run(accounts, size=6, warm=2, blocks=2)
    for part in ("check", "commit", "update_tree", "receipt_leaves", "merkle_root"):
        assert totals[part] > 0, part
    for part in ("commit_batch", "prune", "store.write", "store.write wall"):
        assert totals[part] > 0, part
    assert totals["update_tree"] < totals["check"] and totals["store.write"] < totals["commit"]
    assert [getattr(module, name) for module, name in bench_worker.PARTS] == wrapped
    assert execution.update_tree is wrapped[0] and chainstore.commit_batch is wrapped[3]


def test_no_block_pays_one_of_its_own_senders() -> None:
    accounts = [loadgen.account_key(index) for index in range(40)]
    for raw_block in bench_worker.transfers(accounts, size=10, count=8):
        txs = [SignedTransaction.decode(raw) for raw in raw_block]
        senders = {stx.tx.sender for stx in txs}
        assert len(senders) == len(txs)
        assert not senders & {stx.tx.args[1] for stx in txs}
