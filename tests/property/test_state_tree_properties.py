"""The state tree: its root depends only on the final contents, and its proofs are sound.

The reference is the definition of docs/protocol.md §6 written directly as a
recursion over key nibbles; the stored tree (leaves and buckets inside nodes, nodes by
version and path) must always agree with it.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import state_tree
from ledger.hashing import ZERO_HASH
from ledger.kv import MemoryStore
from ledger.state_tree import (
    DEFAULT_HASH_MEMO_BYTES,
    HASH_MEMO_ENTRY_BYTES,
    NODE_PREFIX,
    StateProof,
    child_versions,
    clear_hash_memo,
    key_hash,
    leaf_hash,
    nibble_at,
    node_hash,
    node_key,
    prove,
    prune,
    set_hash_memo_bytes,
    update_tree,
    value_hash,
)

Keys = st.binary(min_size=0, max_size=6)
Values = st.binary(min_size=1, max_size=4)
Writes = st.lists(st.tuples(Keys, st.none() | Values), max_size=40)


def reference_root(state: dict[bytes, bytes]) -> bytes:
    leaves = sorted((key_hash(k), value_hash(v)) for k, v in state.items())

    def root(items: list[tuple[bytes, bytes]], depth: int) -> bytes:
        if not items:
            return ZERO_HASH
        if len(items) == 1:
            return leaf_hash(*items[0])
        groups = [[item for item in items if nibble_at(item[0], depth) == n] for n in range(16)]
        bitmap = sum(1 << n for n, group in enumerate(groups) if group)
        return node_hash(bitmap, [root(group, depth + 1) for group in groups if group])

    return root(leaves, 0)


class Tree:
    """A store plus the versions committed so far, with the plain state beside it."""

    def __init__(self) -> None:
        self.store = MemoryStore()
        self.version = -1
        self.root = ZERO_HASH
        self.state: dict[bytes, bytes] = {}
        self.history: list[tuple[bytes, dict[bytes, bytes]]] = []

    def commit(self, writes: list[tuple[bytes, bytes | None]], keep: int | None = None) -> None:
        final = dict(writes)  # the last write of a key wins, as in a block's write-set
        self.version += 1
        self.root, batch = update_tree(self.store, self.version, self.root, sorted(final.items()))
        if keep is not None:  # as a block commit does: prune in the same batch
            batch.update(prune(self.store, self.version, keep))
        self.store.write(batch)
        for key, value in final.items():
            if value is None:
                self.state.pop(key, None)
            else:
                self.state[key] = value
        self.history.append((self.root, dict(self.state)))


@settings(max_examples=60, deadline=None)
@given(st.lists(Writes, min_size=1, max_size=6))
def test_root_matches_the_definition_whatever_the_batching(
    blocks: list[list[tuple[bytes, bytes | None]]],
) -> None:
    tree = Tree()
    for writes in blocks:
        tree.commit(writes)
        assert tree.root == reference_root(tree.state)
    # The same final contents written in one batch, in another order, give the same root.
    once = Tree()
    once.commit(sorted(tree.state.items(), reverse=True))
    assert once.root == tree.root


@settings(max_examples=60, deadline=None)
@given(st.lists(Writes, min_size=1, max_size=4), st.lists(Keys, max_size=8))
def test_proofs_verify_for_present_and_absent_keys(
    blocks: list[list[tuple[bytes, bytes | None]]], asked: list[bytes]
) -> None:
    tree = Tree()
    for writes in blocks:
        tree.commit(writes)
    for key in [*tree.state, *asked]:
        value = tree.state.get(key)
        proof = prove(tree.store, tree.version, tree.root, key, value)
        assert proof.verify(tree.root)
        assert StateProof.decode(proof.encode()) == proof
        # The same proof never shows another outcome.
        assert not replace(proof, value=None if value is not None else b"x").verify(tree.root)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(Keys, Values), min_size=1, max_size=30), Keys, st.data())
def test_any_tampered_proof_fails(
    entries: list[tuple[bytes, bytes]], asked: bytes, data: st.DataObject
) -> None:
    tree = Tree()
    tree.commit(entries)
    proof = prove(tree.store, 0, tree.root, asked, tree.state.get(asked))
    raw = bytearray(proof.encode())
    index = data.draw(st.integers(0, len(raw) - 1))
    raw[index] ^= data.draw(st.integers(1, 255))
    try:
        tampered = StateProof.decode(bytes(raw))
    except Exception:
        return  # refused at decoding
    if tampered.verify(tree.root):
        # A flip inside the asked key can leave a proof that still verifies: it is then a
        # proof about another key, and it must tell the truth about that key (in a small
        # tree many absent keys share one path). Anything else that verifies is a forgery.
        assert tampered.key != asked
        assert tampered.value == tree.state.get(tampered.key)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(Keys, Values), min_size=2, max_size=60), Keys)
def test_every_bitmap_change_and_every_sibling_dropped_or_added_is_refused(
    entries: list[tuple[bytes, bytes]], asked: bytes
) -> None:
    tree = Tree()
    tree.commit(entries)
    proof = prove(tree.store, 0, tree.root, asked, tree.state.get(asked))
    assert proof.verify(tree.root)
    for index, (bitmap, siblings) in enumerate(proof.levels):

        def at(level: tuple[int, tuple[bytes, ...]], index: int = index) -> StateProof:
            levels = (*proof.levels[:index], level, *proof.levels[index + 1 :])
            return replace(proof, levels=levels)

        for bit in range(16):
            changed = bitmap ^ (1 << bit)
            if changed:
                assert not at((changed, siblings)).verify(tree.root)
        assert not at((bitmap, (*siblings, ZERO_HASH))).verify(tree.root)
        if siblings:
            assert not at((bitmap, siblings[1:])).verify(tree.root)
            assert not at((bitmap, siblings[::-1])).verify(tree.root) or len(set(siblings)) == 1
    if proof.levels:
        assert not replace(proof, levels=proof.levels[:-1]).verify(tree.root)
    assert not replace(proof, levels=(*proof.levels, (1, ()))).verify(tree.root)


@settings(max_examples=25, deadline=None)
@given(st.lists(Writes, min_size=2, max_size=10), st.integers(1, 4))
def test_pruning_keeps_the_newest_versions_provable(
    blocks: list[list[tuple[bytes, bytes | None]]], keep: int
) -> None:
    tree = Tree()
    for writes in blocks:
        tree.commit(writes, keep=keep)
    for version in range(max(0, tree.version - keep + 1), tree.version + 1):
        root, state = tree.history[version]
        for key in [*state, b"never-written"]:
            assert prove(tree.store, version, root, key, state.get(key)).verify(root)
    # Every stored node belongs to a kept version (the newest block's own stale
    # records are only in the store after its commit, so prune once more first).
    tree.store.write(prune(tree.store, tree.version, keep))
    kept = range(max(0, tree.version - keep + 1), tree.version + 1)
    assert {k for k, _ in tree.store.iterate(NODE_PREFIX)} == reachable(tree.store, kept)


def reachable(store: MemoryStore, versions: range) -> set[bytes]:
    found: set[bytes] = set()
    pending = [(version, b"") for version in versions]
    while pending:
        version, path = pending.pop()
        key = node_key(version, path)
        raw = store.get(key)
        assert raw is not None, "a kept version lost a node"
        found.add(key)
        for nibble, child_version in child_versions(raw):
            pending.append((child_version, path + bytes([nibble])))
    return found


Numbered = st.integers(0, 160).map(lambda n: b"key-%d" % n)
NumberedWrites = st.lists(st.tuples(Numbered, st.none() | Values), max_size=40)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(NumberedWrites, st.sampled_from(("commit", "abandon", "restart"))),
        max_size=8,
    ),
    st.integers(0, 40),
)
def test_memoised_leaf_hashes_never_change_a_root_or_a_proof(
    steps: list[tuple[list[tuple[bytes, bytes | None]], str]], bound: int
) -> None:
    # Proofs decoding every node below the root from its bytes, a memo bound small
    # enough to evict, blocks executed and never committed, restarts; on a tree of 160
    # keys first, so that there are nodes below the root to memoise.
    tree = Tree()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(state_tree, "MEMO_DEPTH", 0)
        set_hash_memo_bytes(bound * HASH_MEMO_ENTRY_BYTES)
        try:
            tree.commit([(b"key-%d" % n, b"first") for n in range(161)])
            for writes, what in steps:
                if what == "abandon":
                    update_tree(
                        tree.store, tree.version + 1, tree.root, sorted(dict(writes).items())
                    )
                    continue
                if what == "restart":
                    clear_hash_memo()
                tree.commit(writes, keep=2)
                assert tree.root == reference_root(tree.state)
                for key, value in tree.state.items():
                    assert prove(tree.store, tree.version, tree.root, key, value).verify(tree.root)
        finally:
            set_hash_memo_bytes(DEFAULT_HASH_MEMO_BYTES)
