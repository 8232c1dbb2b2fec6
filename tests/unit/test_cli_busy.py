"""`pasar tx ... --busy-wait` against a real RPC server whose node is busy (429) for a
while: the same signed bytes are sent again, each wait is one line on stderr while
stdout keeps the command's output, and a node still busy at the end of the budget is
a one-line error naming the code. The waits run on a fake clock."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from rpc_fake_node import FakeNode
from rpc_helpers import ThreadedServer, write_plain_keys
from rpc_helpers import transfer as signed_transfer

from cli import submission
from cli.main import cli
from ledger.tx import SignedTransaction
from node.service import Admission

RETRY_AFTER = 1.5  # what FakeNode answers in a 429: Retry-After-Ms 1500 (Retry-After 2)


class BusyNode(FakeNode):
    """Refuses the next `busy` submissions with `code` (answered 429), then admits."""

    def __init__(self) -> None:
        super().__init__()
        self.busy = 0
        self.code = "mempool_full"
        self.refused: list[bytes] = []

    async def submit(
        self, raw_transactions: Sequence[bytes | SignedTransaction]
    ) -> list[Admission]:
        if self.busy <= 0:
            return await super().submit(raw_transactions)
        self.busy -= 1
        answers = []
        for raw in raw_transactions:
            stx = raw if isinstance(raw, SignedTransaction) else SignedTransaction.decode(raw)
            self.refused.append(stx.encode())
            answers.append(Admission(stx.hash, False, self.code, "the node is busy"))
        return answers


class FakeTime:
    """Stands in for the `time` module cli.submission reads its clock and sleep from."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def node() -> Iterator[tuple[BusyNode, str]]:
    busy = BusyNode()
    with ThreadedServer(busy) as running:
        yield busy, running.url


@pytest.fixture
def fake_time(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime()
    monkeypatch.setattr(submission, "time", fake)
    return fake


def transfer(url: str, tmp_path: Path, node: FakeNode, *options: str) -> Result:
    keys = write_plain_keys(tmp_path / "keys", [("alice", node.accounts.alice)])
    command = [
        "tx",
        "transfer",
        "--from",
        "alice",
        "--to",
        "alice",
        "--asset",
        "IDRA",
        "--amount",
        "5",
        "--node",
        url,
        "--keys-dir",
        str(keys),
        *options,
    ]
    return CliRunner().invoke(cli, command, catch_exceptions=False)


def retry_lines(result: Result, code: str = "mempool_full") -> list[str]:
    lines = result.stderr.splitlines()
    return [line for line in lines if line.startswith(f"node busy ({code}): retrying in ")]


def test_a_busy_node_is_waited_out_with_the_same_bytes_and_json_stays_on_stdout(
    node: tuple[BusyNode, str], fake_time: FakeTime, tmp_path: Path
) -> None:
    busy, url = node
    busy.busy = 2
    result = transfer(url, tmp_path, busy, "--json")
    assert result.exit_code == 0, result.output
    admission = json.loads(result.stdout)  # nothing else on stdout
    assert admission["accepted"] is True
    assert len(fake_time.slept) == 2
    assert all(RETRY_AFTER <= wait < RETRY_AFTER * 1.5 for wait in fake_time.slept)
    assert retry_lines(result) == [
        f"node busy (mempool_full): retrying in {wait:.1f} s" for wait in fake_time.slept
    ]
    assert busy.refused == busy.submitted * 2  # signed once, the same bytes three times
    assert SignedTransaction.decode(busy.submitted[0]).hash.hex() == admission["hash"]


def test_busy_wait_zero_fails_at_once_with_one_line(
    node: tuple[BusyNode, str], fake_time: FakeTime, tmp_path: Path
) -> None:
    busy, url = node
    busy.busy = 1
    result = transfer(url, tmp_path, busy, "--busy-wait", "0", "--json")
    assert result.exit_code == 1 and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("Error: node busy: ") and "(mempool_full, HTTP 429)" in line
    assert "not waited (--busy-wait 0)" in line and "later" in line
    assert fake_time.slept == [] and len(busy.refused) == 1 and busy.submitted == []


def test_a_node_busy_past_the_budget_fails_with_what_to_do(
    node: tuple[BusyNode, str], fake_time: FakeTime, tmp_path: Path
) -> None:
    busy, url = node
    busy.busy = 100
    busy.code = "sender_backlog_full"
    result = transfer(url, tmp_path, busy, "--busy-wait", "7")
    assert result.exit_code == 1 and result.stdout == ""
    waits = fake_time.slept
    # waits of 2-3 s: at least two fit in 7 s, and none that would start past it
    assert len(waits) >= 2 and sum(waits) < 7 and len(busy.refused) == len(waits) + 1
    assert len(set(busy.refused)) == 1 and busy.submitted == []
    assert len(retry_lines(result, "sender_backlog_full")) == len(waits)
    last = result.stderr.splitlines()[-1]
    assert last.startswith(f"Error: node still busy after {len(waits)} retries within ")
    assert "--busy-wait 7 s" in last and "(sender_backlog_full, HTTP 429)" in last
    assert "a longer --busy-wait" in last and "Traceback" not in result.output


def test_submit_of_a_signed_transaction_waits_out_a_busy_node(
    node: tuple[BusyNode, str], fake_time: FakeTime
) -> None:
    busy, url = node
    busy.busy = 1
    stx = signed_transfer(busy.accounts.alice, busy.accounts.bob.public_key, 7)
    result = CliRunner().invoke(
        cli, ["tx", "submit", stx.encode().hex(), "--node", url, "--json"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["hash"] == stx.hash.hex()
    assert busy.refused == busy.submitted == [stx.encode()]
    assert len(retry_lines(result)) == len(fake_time.slept) == 1
