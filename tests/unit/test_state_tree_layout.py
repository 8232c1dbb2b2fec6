"""How the state tree stores nodes (ledger.state_tree): buckets, memoised decoding and
leaf hashes, no leaf hashes stored, a format entry, nothing rewritten that did not change.

The hashes are the protocol's (tests/property checks them against the definition);
these tests pin the storage choices that keep a block's update cheap.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger import state_tree
from ledger.hashing import ZERO_HASH
from ledger.kv import MemoryStore
from ledger.state_tree import (
    BUCKET_LEAVES,
    DEFAULT_HASH_MEMO_BYTES,
    FORMAT_KEY,
    HASH_MEMO_ENTRY_BYTES,
    KIND_BUCKET,
    KIND_INTERNAL,
    NODE_PREFIX,
    STORED_INTERNAL,
    Node,
    TreeError,
    check_root,
    clear_hash_memo,
    decode_node,
    hash_memo_size,
    key_hash,
    memoised_hashes,
    nibble_at,
    node_key,
    prove,
    prune,
    set_hash_memo_bytes,
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
    assert raw is not None and raw[1] == KIND_BUCKET  # slot 0 of the root
    assert [k for k, _ in store.iterate(NODE_PREFIX)] == [node_key(0, b"")]
    for key in [*keys, b"absent"]:
        value = None if key == b"absent" else b"v" + key
        assert prove(store, 0, root, key, value).verify(root)


def test_one_leaf_more_makes_the_bucket_a_node_of_its_own() -> None:
    store, root, keys = stored(BUCKET_LEAVES + 1)
    raw = store.get(node_key(0, b""))
    assert raw is not None and raw[1] == KIND_INTERNAL
    assert store.get(node_key(0, b"\x00")) is not None
    assert all(prove(store, 0, root, key, b"v" + key).verify(root) for key in keys)


def test_decoded_nodes_are_copies_the_caller_may_change() -> None:
    store, _, _ = stored(BUCKET_LEAVES + 1)
    raw = store.get(node_key(0, b""))
    assert raw is not None
    first = decode_node(raw)
    first.kinds[0] = 0
    first.hashes[0] = ZERO_HASH
    first.digest = ZERO_HASH
    second = decode_node(raw)
    assert second.kinds[0] == KIND_INTERNAL and second.hashes[0] != ZERO_HASH
    assert second.digest not in (None, ZERO_HASH)
    assert second.encode() == raw


def test_a_stored_node_is_its_kinds_and_its_slots_without_leaf_hashes() -> None:
    # A leaf's hash is computed again (or found in the memo) when its node is hashed:
    # writing it would add half again to every leaf a block rewrites.
    store, _, _ = stored(BUCKET_LEAVES + 1)
    raw = store.get(node_key(0, b"\x00"))
    assert raw is not None
    node = decode_node(raw, 1)
    slots = [slot for slot in node.slots if slot is not None]
    assert raw == bytes((STORED_INTERNAL,)) + bytes(node.kinds) + b"".join(slots)
    assert all(len(slot) == 64 for n, slot in enumerate(node.slots) if node.kinds[n] == 1)


def test_a_node_of_an_earlier_layout_is_refused_not_misread() -> None:
    store, root, _ = stored(BUCKET_LEAVES + 1)
    raw = store.get(node_key(0, b""))
    assert raw is not None
    for earlier in (2, 4):  # binary hashing inside each node, with and without inner hashes
        store.write({node_key(0, b""): bytes((earlier,)) + raw[1:]})
        with pytest.raises(TreeError, match="format"):
            prove(store, 0, root, b"elsewhere-1", b"velsewhere-1")


def test_a_store_without_the_format_entry_is_refused_at_opening() -> None:
    # What a data directory of an earlier release looks like: its roots are not this
    # tree's, and the node says so in one line rather than computing wrong roots.
    store, root, _ = stored(BUCKET_LEAVES + 1)
    check_root(store, 0, root)
    store.write({FORMAT_KEY: None})
    with pytest.raises(TreeError, match="earlier release"):
        check_root(store, 0, root)
    check_root(MemoryStore(), 0, ZERO_HASH)  # a fresh store is not an old one


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


@pytest.fixture
def every_node_memoised(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The memo of hashes on and the memo of decoded nodes (for proofs) off below the
    root: every node a proof reads is decoded from its stored bytes."""
    monkeypatch.setattr(state_tree, "MEMO_DEPTH", 0)
    set_hash_memo_bytes(DEFAULT_HASH_MEMO_BYTES)
    yield
    set_hash_memo_bytes(DEFAULT_HASH_MEMO_BYTES)


def many(count: int, tag: bytes = b"v") -> list[tuple[bytes, bytes | None]]:
    return sorted((f"key-{n}".encode(), tag + str(n).encode()) for n in range(count))


@pytest.mark.usefixtures("every_node_memoised")
def test_memoised_child_hashes_are_the_ones_the_slots_give() -> None:
    store = MemoryStore()
    root, writes = update_tree(store, 0, ZERO_HASH, many(400))
    store.write(writes)
    root, writes = update_tree(store, 1, root, many(400, b"w")[::3])
    store.write(writes)
    checked = 0
    for key, raw in store.iterate(NODE_PREFIX):
        if len(key) == len(node_key(0, b"")):
            continue  # a root: the upper nodes' memo, by stored bytes
        fresh = Node.decode(raw)  # nothing known: every leaf hashed from its slot
        packed = memoised_hashes(fresh.rehash())
        if packed is None:
            continue  # replaced by version 1 (dropped from the memo)
        children = [n for n in range(16) if fresh.kinds[n]]
        bitmap = fresh.bitmap().to_bytes(2, "big")
        assert packed == bitmap + b"".join(fresh.child_hash(n) for n in children)
        checked += 1
    assert checked >= 16


@pytest.mark.usefixtures("every_node_memoised")
def test_a_block_executed_and_never_committed_leaves_nothing_wrong_behind() -> None:
    # It memoises the hashes of nodes that are never stored and drops those of the nodes
    # it would have replaced; the block committed instead at that height, and the next
    # one, which reads the nodes that block wrote, must not care.
    store = MemoryStore()
    root, writes = update_tree(store, 0, ZERO_HASH, many(300))
    store.write(writes)
    final = dict(many(300))
    update_tree(store, 1, root, many(300, b"abandoned")[::2])  # executed, never written
    for version, tag, chosen in ((1, b"w", slice(None, None, 2)), (2, b"x", slice(None, None, 4))):
        root, writes = update_tree(store, version, root, many(300, tag)[chosen])
        store.write(writes)
        final.update(dict(many(300, tag)[chosen]))
        assert root == update_tree(MemoryStore(), 0, ZERO_HASH, sorted(final.items()))[0]
    clear_hash_memo()  # a restart: the next block hashes the leaves it needs again
    again, writes = update_tree(store, 3, root, many(300)[:50])
    store.write(writes)
    final.update(dict(many(300)[:50]))
    assert again == update_tree(MemoryStore(), 0, ZERO_HASH, sorted(final.items()))[0]
    for key, value in final.items():
        assert prove(store, 3, again, key, value).verify(again)


@pytest.mark.usefixtures("every_node_memoised")
def test_a_node_pruned_and_written_again_with_the_same_contents_hashes_the_same() -> None:
    # The memo is keyed by a node's hash, not by where it is stored: contents that come
    # back after their old node was pruned find the same (right) hashes.
    store = MemoryStore()
    root, writes = update_tree(store, 0, ZERO_HASH, many(300))
    store.write(writes)
    first = root
    for version, tag in enumerate((b"w", b"v"), start=1):
        root, writes = update_tree(store, version, root, many(300, tag)[:40])
        writes.update(prune(store, version, 1))
        store.write(writes)
    assert root == first
    store.write(prune(store, 2, 1))
    assert store.get(node_key(0, b"")) is None
    for key, value in many(300):
        assert prove(store, 2, root, key, value).verify(root)


def test_the_memo_keeps_to_its_bound_and_can_be_turned_off(
    every_node_memoised: None,
) -> None:
    store = MemoryStore()
    set_hash_memo_bytes(3 * HASH_MEMO_ENTRY_BYTES)
    root, writes = update_tree(store, 0, ZERO_HASH, many(400))
    assert 0 < hash_memo_size() <= 3
    set_hash_memo_bytes(0)
    assert hash_memo_size() == 0
    without, _ = update_tree(MemoryStore(), 0, ZERO_HASH, many(400))
    assert without == root and hash_memo_size() == 0
    with pytest.raises(ValueError):
        set_hash_memo_bytes(-1)


def test_new_values_spliced_into_nodes_and_buckets_give_the_roots_of_a_fresh_tree() -> None:
    # 3,000 keys: leaves and buckets (with and without a shared first nibble) inside
    # nodes two and three levels down. Blocks give keys new values (spliced in place),
    # the values they hold, delete keys (some never there) and add keys, with the memo warm,
    # then after a restart.
    store = MemoryStore()
    state = dict(many(3000))
    root, writes = update_tree(store, 0, ZERO_HASH, sorted(state.items()))
    store.write(writes)
    blocks: list[dict[bytes, bytes | None]] = [
        dict(many(3000, b"w")[::3]),
        {**dict(many(3000, b"w")[::5]), **dict(many(3000, b"x")[1::7])},
        {b"key-%d" % n: None for n in range(0, 3000, 11)}
        | {b"new-%d" % n: b"n" for n in range(40)}
        | {b"never-there-%d" % n: None for n in range(40)},
        dict(many(3000, b"y")[2::3]),
    ]
    for version, block in enumerate(blocks, start=1):
        if version == 4:
            clear_hash_memo()
        root, writes = update_tree(store, version, root, sorted(block.items()))
        store.write(writes)
        state.update(block)
        state = {k: v for k, v in state.items() if v is not None}
        fresh, _ = update_tree(MemoryStore(), 0, ZERO_HASH, sorted(state.items()))
        assert root == fresh
    for key in [*list(state)[::97], b"key-0", b"absent"]:
        assert prove(store, 4, root, key, state.get(key)).verify(root)


def test_key_hashes_are_remembered_within_their_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    # Keys written again take their hashes from the memo; it never holds more than its
    # bound after a block, and a write-set larger than the bound leaves it empty.
    monkeypatch.setattr(state_tree, "KEY_HASH_MEMO", 50)
    clear_hash_memo()
    store = MemoryStore()
    first = many(40)
    root, writes = update_tree(store, 0, ZERO_HASH, first)
    store.write(writes)
    remembered = dict(state_tree._key_hashes)
    assert sorted(remembered) == sorted(key for key, _ in first)
    assert all(digest == key_hash(key) for key, digest in remembered.items())
    again = many(40, b"w")[:20]
    root, writes = update_tree(store, 1, root, again)  # 40 + 20 > 50: emptied first
    store.write(writes)
    assert sorted(state_tree._key_hashes) == sorted(key for key, _ in again)
    fresh, _ = update_tree(
        MemoryStore(), 0, ZERO_HASH, sorted({**dict(first), **dict(again)}.items())
    )
    assert root == fresh
    update_tree(MemoryStore(), 0, ZERO_HASH, many(60))
    assert len(state_tree._key_hashes) == 0
    clear_hash_memo()
