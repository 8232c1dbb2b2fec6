"""How the state tree stores nodes (ledger.state_tree): buckets, memoised decoding,
no inner hashes, nothing rewritten that did not change.

The hashes are the protocol's (tests/property checks them against the definition);
these tests pin the storage choices that keep a block's update cheap.
"""

from __future__ import annotations

import pytest

from ledger.hashing import ZERO_HASH
from ledger.kv import MemoryStore
from ledger.state_tree import (
    BUCKET_LEAVES,
    FIRST_SLOT,
    KIND_BUCKET,
    KIND_INTERNAL,
    NODE_PREFIX,
    STORED_INTERNAL,
    TreeError,
    decode_node,
    key_hash,
    nibble_at,
    node_key,
    prove,
    prune,
    update_tree,
)


def keys_under_one_nibble(count: int) -> list[bytes]:
    """`count` keys whose hashes share their first nibble."""
    found: list[bytes] = []
    n = 0
    while len(found) < count:
        key = f"k{n}".encode()
        if nibble_at(key_hash(key), 0) == 0:
            found.append(key)
        n += 1
    return found


def stored(count: int) -> tuple[MemoryStore, bytes, list[bytes]]:
    store = MemoryStore()
    keys = keys_under_one_nibble(count) + [b"elsewhere-1", b"elsewhere-2"]
    root, writes = update_tree(store, 0, ZERO_HASH, sorted((k, b"v" + k) for k in keys))
    store.write(writes)
    return store, root, keys


def test_a_few_leaves_under_one_nibble_stay_inside_the_root_node() -> None:
    store, root, keys = stored(BUCKET_LEAVES)
    raw = store.get(node_key(0, b""))
    assert raw is not None and raw[FIRST_SLOT] == KIND_BUCKET  # slot 0 of the root
    assert [k for k, _ in store.iterate(NODE_PREFIX)] == [node_key(0, b"")]
    for key in [*keys, b"absent"]:
        value = None if key == b"absent" else b"v" + key
        assert prove(store, 0, root, key, value).verify(root)


def test_one_leaf_more_makes_the_bucket_a_node_of_its_own() -> None:
    store, root, keys = stored(BUCKET_LEAVES + 1)
    raw = store.get(node_key(0, b""))
    assert raw is not None and raw[FIRST_SLOT] == KIND_INTERNAL
    assert store.get(node_key(0, b"\x00")) is not None
    assert all(prove(store, 0, root, key, b"v" + key).verify(root) for key in keys)


def test_decoded_nodes_are_copies_the_caller_may_change() -> None:
    store, _, _ = stored(BUCKET_LEAVES + 1)
    raw = store.get(node_key(0, b""))
    assert raw is not None
    first = decode_node(raw)
    first.kinds[1] = 0
    first.hashes[1] = ZERO_HASH
    second = decode_node(raw)
    assert second.kinds[1] == KIND_INTERNAL and second.hashes[1] != ZERO_HASH
    assert second.encode() == raw


def test_a_stored_node_is_its_kinds_and_its_slots_without_inner_hashes() -> None:
    # The hashes inside a node are recomputed from its slots when a path needs them:
    # writing them cost more (bytes per block, LevelDB compaction) than hashing.
    store, _, _ = stored(BUCKET_LEAVES + 1)
    raw = store.get(node_key(0, b"\x00"))
    assert raw is not None
    node = decode_node(raw, 1)
    slots = [slot for slot in node.slots if slot is not None]
    assert raw == bytes((STORED_INTERNAL,)) + bytes(node.kinds[1:]) + b"".join(slots)


def test_a_node_of_the_earlier_layout_is_refused_not_misread() -> None:
    store, root, _ = stored(BUCKET_LEAVES + 1)
    raw = store.get(node_key(0, b""))
    assert raw is not None
    store.write({node_key(0, b""): bytes((KIND_INTERNAL,)) + raw[1:]})
    with pytest.raises(TreeError, match="synced again"):
        prove(store, 0, root, b"elsewhere-1", b"velsewhere-1")


def test_keys_written_with_the_values_they_hold_rewrite_only_the_root() -> None:
    store, root, keys = stored(BUCKET_LEAVES + 1)
    same = sorted((k, b"v" + k) for k in keys)
    again, writes = update_tree(store, 1, root, same)
    assert again == root
    assert [k for k in writes if k.startswith(NODE_PREFIX)] == [node_key(1, b"")]
    store.write(writes)
    store.write(prune(store, 1, 1))  # version 0's root goes, its unchanged child stays
    assert store.get(node_key(0, b"")) is None
    assert store.get(node_key(0, b"\x00")) is not None
    assert all(prove(store, 1, root, key, b"v" + key).verify(root) for key in keys)
