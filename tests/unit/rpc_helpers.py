"""Shared pieces of the RPC and CLI unit tests: a served FakeNode and tx builders."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner, Result
from rpc_fake_node import CHAIN_ID, FakeNode, seed

from cli.main import cli
from contracts.roles import grant_platform
from ledger.keys import PrivateKey
from ledger.state import StateView
from ledger.tx import SignedTransaction, Transaction
from node.keyfile import write_key_file
from node.rpc.app import build_rpc_app


@asynccontextmanager
async def served(node: FakeNode) -> AsyncIterator[TestClient[Any, Any]]:
    client = TestClient(TestServer(build_rpc_app(node)))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


def transfer(
    key: PrivateKey, to: bytes, amount: int, nonce: int = 0, symbol: str = "IDRA"
) -> SignedTransaction:
    tx = Transaction(CHAIN_ID, key.public_key, nonce, "coin.transfer", (symbol, to, amount))
    return tx.sign(key)


def snapshot(node: FakeNode) -> tuple[Any, ...]:
    """Everything a bad request must leave untouched."""
    return (
        list(node.store.iterate(b"")),
        [stx.hash for stx in node.mempool],
        len(node.submitted),
        node.head(),
    )


class ThreadedServer:
    """The RPC for a FakeNode on a real loopback port, in a background event loop.

    The CLI is synchronous (urllib), so CLI tests talk to a server in another thread.
    """

    def __init__(self, node: FakeNode) -> None:
        import asyncio
        import threading

        self.node = node
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.url = ""

    def _run(self) -> None:
        import asyncio

        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._start())
        self._ready.set()
        self.loop.run_forever()

    async def _start(self) -> None:
        from aiohttp import web

        self.runner = web.AppRunner(build_rpc_app(self.node), shutdown_timeout=0.5)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = self.runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    def __enter__(self) -> ThreadedServer:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("test server did not start")
        return self

    def commit(self) -> None:
        """Commit the fake node's mempool as a block, inside the server's loop."""
        import asyncio

        async def commit() -> None:
            self.node.commit_pending()

        asyncio.run_coroutine_threadsafe(commit(), self.loop).result(10)

    def __exit__(self, *exc: object) -> None:
        import asyncio

        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


def write_plain_keys(directory: Path, keys: Iterable[tuple[str, PrivateKey]]) -> Path:
    """Unencrypted key files NAME.json, as `--from NAME` resolves them."""
    for name, key in keys:
        write_key_file(directory / f"{name}.json", key, None, insecure_plaintext=True)
    return directory


@contextmanager
def court_server() -> Iterator[ThreadedServer]:
    """A FakeNode on loopback whose account "court" is a platform (so it can arbitrate)."""
    node = FakeNode()
    view = StateView(node.store)
    grant_platform(view, seed("court").public_key, "court", 0)
    node.store.write(dict(view.write_set()))
    with ThreadedServer(node) as running:
        yield running


def party_keys(directory: Path, node: FakeNode, *names: str) -> Path:
    """Key files for the node's alice and bob and for each seeded account in `names`."""
    keys = [("alice", node.accounts.alice), ("bob", node.accounts.bob)]
    keys += [(name, seed(name)) for name in names]
    return write_plain_keys(directory, keys)


class CliDriver:
    """Runs `pasar` commands in-process against a ThreadedServer."""

    def __init__(self, server: ThreadedServer, keys_dir: Path) -> None:
        self.server = server
        self.keys = ["--keys-dir", str(keys_dir)]

    def run(self, *args: str, keys: bool = True) -> Result:
        """Run `pasar ARGS --node URL` (plus --keys-dir for commands that take keys)."""
        extra = ["--node", self.server.url, *(self.keys if keys else [])]
        return CliRunner().invoke(cli, [*args, *extra], catch_exceptions=False)

    def receipt(self, *args: str) -> dict[str, Any]:
        """Submit `pasar tx ARGS`, commit a block, and return the receipt, ok or not."""
        result = self.run("tx", *args, "--json")
        assert result.exit_code == 0, result.output
        tx_hash = json.loads(result.output)["hash"]
        self.server.commit()
        outcome = self.run("query", "tx", tx_hash, "--json", keys=False)
        receipt: dict[str, Any] = json.loads(outcome.output)["receipt"]
        return receipt

    def tx(self, *args: str) -> dict[str, Any]:
        """As `receipt`, and the transaction must have been applied."""
        receipt = self.receipt(*args)
        assert receipt["ok"], receipt
        return receipt

    def query(self, *args: str, keys: bool = False) -> Any:
        """`pasar query ARGS --json`, parsed; the command must succeed."""
        result = self.run("query", *args, "--json", keys=keys)
        assert result.exit_code == 0, result.output
        return json.loads(result.output)


def event_attribute(receipt: dict[str, Any], event: str, name: str) -> Any:
    """Attribute `name` of the first `event` in a JSON receipt."""
    for item in receipt["events"]:
        if item["name"] == event:
            return item["attributes"][name]
    raise AssertionError(f"no {event} in {receipt['events']}")
