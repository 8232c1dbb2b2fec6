"""Shared pieces of the RPC and CLI unit tests: a served FakeNode and tx builders."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from rpc_fake_node import CHAIN_ID, FakeNode

from ledger.keys import PrivateKey
from ledger.tx import SignedTransaction, Transaction
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
