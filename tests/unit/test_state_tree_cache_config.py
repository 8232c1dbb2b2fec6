"""config.toml's `state_tree_cache_mb` bounds the state tree's memo of inner hashes
(ledger.state_tree) in the node process that reads it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ledger import state_tree
from ledger.keys import PrivateKey, address_to_text
from ledger.state_tree import (
    DEFAULT_HASH_MEMO_BYTES,
    HASH_MEMO_ENTRY_BYTES,
    set_hash_memo_bytes,
)
from node.home import Home, NodeConfig, config_from_toml, genesis_from_json
from node.node import Node

VALIDATOR = PrivateKey.from_seed(bytes([9]) * 32)


def test_the_node_bounds_the_memo_as_configured(tmp_path: Path) -> None:
    document = {
        "chain_id": "t",
        "genesis_time_ms": 1_000,
        "validators": [{"name": "v", "key": address_to_text(VALIDATOR.public_key)}],
    }
    config = config_from_toml('chain_id = "t"\nname = "v"\nstate_tree_cache_mb = 3\n')
    assert config == NodeConfig("t", "v", state_tree_cache_mb=3)
    assert NodeConfig("t", "v").state_tree_cache_mb << 20 == DEFAULT_HASH_MEMO_BYTES

    async def scenario() -> None:
        node = Node(Home(tmp_path / "node", config, genesis_from_json(document)), VALIDATOR)
        try:
            assert state_tree._hash_memo_entries == (3 << 20) // HASH_MEMO_ENTRY_BYTES
        finally:
            await node.stop()

    try:
        asyncio.run(scenario())
    finally:
        set_hash_memo_bytes(DEFAULT_HASH_MEMO_BYTES)
