"""The authenticated state tree: a sparse Merkle tree over hashed state keys.

What is hashed (the part a verifier needs, docs/protocol.md §6) is a *binary*
sparse Merkle tree over 256-bit key hashes, where

    key_hash   = H("pasar/state/key", key)          bit 0 is the top bit of byte 0
    value_hash = H("pasar/state/value", value)
    leaf       = H("pasar/state/leaf", key_hash ‖ value_hash)
    node(l, r) = H("pasar/state/node", l ‖ r)

a subtree with no leaf hashes to 32 zero bytes, a subtree with exactly one leaf
hashes to that leaf's hash (the leaf sits as high as it can), and any other
subtree to node(left, right). The root is the state root in the block header.
A proof is the leaf found on the key's path (if any) and the sibling hashes
along it, so it is about log2(number of keys) hashes long.

How it is stored follows the Jellyfish Merkle tree (Diem, Aptos): radix-16
nodes, each covering four binary levels, keyed by (version, nibble path) in the
key-value store; version h is the state after block h (0 is genesis). A block
writes only the nodes on the paths its write-set touches, all at the new
version, and leaves every other subtree shared with older versions. Each
replaced node is recorded in a stale list under the version that replaced it,
so `prune` can delete the nodes no kept version needs without scanning the tree.

What keeps a block's update cheap (it runs for every block, on every replica):

- a leaf lives inside its parent node (its key and value hashes), so updating a
  key reads and writes the nodes above it and nothing for the leaf itself; so
  does a subtree of up to four leaves (a bucket), so the sparse nodes near the
  bottom of the tree, which would hold two or three leaves, are not nodes at all;
- a node is stored as its child slots only: the hashes of the binary subtrees
  inside it are not written. Storing them made nodes a third bigger, and at a
  million keys the bytes a block writes, and LevelDB then compacts again and
  again, cost more CPU than the few dozen hashes per node they saved;
- instead they are kept in memory, by the node's own hash (which commits to all
  of them, so an entry is right whatever version, path or block it came from):
  a node a block writes is remembered with all its inner hashes, and the next
  block through it recomputes only the ~4 on each changed path and the new
  leaves' hashes, not the ~30 a node costs from its slots alone. The memo is
  bounded (`set_hash_memo_bytes`, config.toml's `state_tree_cache_mb`; about 90
  bytes per state key keep every node) and holds the nodes written last; a node
  it does not hold, after a restart for instance, is hashed from its slots;
- a node whose contents a block leaves as they were (keys written with the
  values they hold) is neither rewritten nor retired;
- a leaf's own hash is computed only when a path needs it.

Stored bytes (a storage format, not part of the protocol):

    chain/tree/n/<version:8><path: one byte per nibble>
        00                                    the empty tree (only as a root)
        01 ‖ key_hash ‖ value_hash            a tree of one leaf (only as a root)
        04 ‖ kinds of heap positions 1..31 (one byte each: 0 empty, 1 one leaf,
             2 more) ‖ per child slot 0..15 in order: kind 1: key_hash ‖
             value_hash; kind 2: version (8, big-endian) ‖ hash; kind 3 (a bucket
             of 2 to 4 leaves kept inline): subtree hash ‖ count (1) ‖ count ×
             (key_hash ‖ value_hash), sorted
    chain/tree/stale/<since:8>  -> the node keys version `since` replaced, each
                                   preceded by its length (one byte)

An internal node of the earlier layout (first byte 02, followed by the inner
hashes) is refused: a data directory written before it must be synced again.

Heap positions number the binary subtrees of a node: 1 is the node itself, the
halves of position p are 2p and 2p + 1, and 16 + n is the child at nibble n.

Nothing here depends on dict or set order: updates are sorted by key hash and
children live in fixed 16-slot lists.
"""

from __future__ import annotations

import struct
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from ledger import codec
from ledger.errors import CodecError
from ledger.hashing import (
    HASH_SIZE,
    STATE_KEY,
    STATE_LEAF,
    STATE_NODE,
    STATE_VALUE,
    ZERO_HASH,
    tag_state,
    tagged_hash,
)
from ledger.kv import KVReader

TREE_PREFIX = b"chain/tree/"  # everything the tree stores; never a state key
NODE_PREFIX = TREE_PREFIX + b"n/"
STALE_PREFIX = TREE_PREFIX + b"stale/"

KIND_EMPTY = 0
KIND_LEAF = 1
KIND_INTERNAL = 2
KIND_BUCKET = 3  # a child slot holding 2..BUCKET_LEAVES leaves inline instead of a node
# First byte of a stored internal node. Nodes of the earlier layout (which also stored
# the inner hashes) began with 2: they are refused rather than misread.
STORED_INTERNAL = 4

RADIX = 16
KEY_BITS = 256
MAX_DEPTH = 64  # nibbles in a key hash
FIRST_SLOT = 16  # heap position of the child at nibble 0
LEAF_SIZE = 2 * HASH_SIZE  # a leaf inside its parent: key_hash ‖ value_hash
LEAF_BITS = 8 * LEAF_SIZE
_STORED_MARK = bytes((STORED_INTERNAL,))
NIBBLES = tuple(bytes((n,)) for n in range(RADIX))
_INTERNAL_SLOT = 8 + HASH_SIZE  # an internal child in its parent: version ‖ hash
# A subtree of at most this many leaves below a node is kept inside that node rather
# than as a node of its own: in a tree of n keys most nodes at depth log16(n) would
# hold two to four leaves, and each block would otherwise read, rewrite and retire
# thousands of them.
BUCKET_LEAVES = 4


def key_hash(key: bytes) -> bytes:
    return tagged_hash(STATE_KEY, key)


def value_hash(value: bytes) -> bytes:
    return tagged_hash(STATE_VALUE, value)


_KEY_STATE = tag_state(STATE_KEY)
_VALUE_STATE = tag_state(STATE_VALUE)
_LEAF_STATE = tag_state(STATE_LEAF)
_NODE_STATE = tag_state(STATE_NODE)


def leaf_hash(key_digest: bytes, value_digest: bytes) -> bytes:
    hasher = _LEAF_STATE.copy()
    hasher.update(key_digest)
    hasher.update(value_digest)
    digest: bytes = hasher.digest()
    return digest


def _leaf_digest(leaf: bytes) -> bytes:
    """leaf_hash of a leaf held as key_hash ‖ value_hash."""
    hasher = _LEAF_STATE.copy()
    hasher.update(leaf)
    digest: bytes = hasher.digest()
    return digest


def node_hash(left: bytes, right: bytes) -> bytes:
    # `tagged_hash(STATE_NODE, left + right)` without the lookup and the concatenation:
    # a block computes tens of thousands of these.
    hasher = _NODE_STATE.copy()
    hasher.update(left)
    hasher.update(right)
    digest: bytes = hasher.digest()
    return digest


def bit_at(digest: bytes, index: int) -> int:
    """Bit `index` of a key hash, 0 being the most significant bit of byte 0."""
    return (digest[index >> 3] >> (7 - (index & 7))) & 1


def nibble_at(digest: bytes, depth: int) -> int:
    byte = digest[depth >> 1]
    return byte >> 4 if depth % 2 == 0 else byte & 0x0F


def node_key(version: int, path: bytes) -> bytes:
    """Store key of the node at `path` (one byte per nibble) written at `version`."""
    return NODE_PREFIX + version.to_bytes(8, "big") + path


class TreeError(Exception):
    """The store does not hold the tree version asked for (pruned, or never written)."""


class Node:
    """An internal node as the 31 binary subtrees it covers (heap positions 1..31).

    `kinds[p]` is 0 (empty), 1 (exactly one leaf), 2 (more) or, for a child slot
    only, 3 (a bucket: a few leaves kept inline, more than one); `hashes[p]` the
    subtree's hash, or None where it is still to be computed from the slots (a
    leaf's hash is computed only when a path needs it). `slots[n]` is the stored
    form of the child at nibble n: a leaf's key_hash ‖ value_hash, a bucket's hash ‖
    count ‖ leaves, or an internal child's version (8 bytes) ‖ hash. `kinds[0]` is
    always 2; the stored node is a marker byte, `kinds[1:]` and the slots, all as
    they are held here, so encoding is one join.
    """

    __slots__ = ("kinds", "hashes", "slots")

    def __init__(
        self, kinds: bytearray, hashes: list[bytes | None], slots: list[bytes | None]
    ) -> None:
        self.kinds = kinds
        self.hashes = hashes
        self.slots = slots

    @staticmethod
    def empty() -> Node:
        kinds = bytearray(32)
        kinds[0] = KIND_INTERNAL
        return Node(kinds, [ZERO_HASH] * 32, [None] * RADIX)

    @staticmethod
    def decode(raw: bytes, hashes: list[bytes | None] | None = None) -> Node:
        """The node stored as `raw`; `hashes`, when the caller has them (the memo), are
        its 32 hashes, else the ones inside it are left to compute when needed."""
        if raw[0] != STORED_INTERNAL:
            if raw[0] == KIND_INTERNAL:
                raise TreeError(
                    "state tree node in the layout of an earlier release: "
                    "the data directory must be synced again"
                )
            raise TreeError("not an internal state tree node")
        kinds = bytearray(raw[:32])
        kinds[0] = KIND_INTERNAL
        if hashes is None:
            # None where something is to be computed from the slots, zero where empty
            hashes = [None if kind else ZERO_HASH for kind in kinds]
            hashes[0] = ZERO_HASH  # no position 0: never to compute
        slots: list[bytes | None] = [None] * RADIX
        offset = 32
        for nibble, kind in enumerate(raw[FIRST_SLOT:32]):
            if kind:
                if kind == KIND_LEAF:
                    end = offset + LEAF_SIZE
                elif kind == KIND_INTERNAL:
                    end = offset + _INTERNAL_SLOT
                else:  # a bucket: its hash, its count, its leaves
                    end = offset + HASH_SIZE + 1 + LEAF_SIZE * raw[offset + HASH_SIZE]
                slots[nibble] = raw[offset:end]
                offset = end
        return Node(kinds, hashes, slots)

    def encode(self) -> bytes:
        return b"".join([_STORED_MARK, self.kinds[1:], *filter(None, self.slots)])

    def copy(self) -> Node:
        return Node(bytearray(self.kinds), list(self.hashes), list(self.slots))

    def slot(self, nibble: int) -> bytes:
        chunk = self.slots[nibble]
        if chunk is None:  # unreachable: callers ask only for non-empty slots
            raise TreeError("empty state tree slot")
        return chunk

    def version_of(self, nibble: int) -> int:
        """The version an internal child was written at."""
        return int.from_bytes(self.slot(nibble)[:8], "big")

    def leaf_position(self, position: int) -> int:
        """The child slot holding the one leaf of a kind-1 position (a slot: itself)."""
        kinds = self.kinds
        while position < FIRST_SLOT:
            position = 2 * position if kinds[2 * position] else 2 * position + 1
        return position

    def leaf(self, position: int) -> bytes:
        """key_hash ‖ value_hash of the one leaf of a kind-1 position."""
        return self.slot(self.leaf_position(position) - FIRST_SLOT)

    def hash_at(self, position: int) -> bytes:
        known = self.hashes[position]
        if known is not None:
            return known
        if position < FIRST_SLOT and self.kinds[position] == KIND_INTERNAL:
            # not stored: from its halves
            digest = node_hash(self.hash_at(2 * position), self.hash_at(2 * position + 1))
            self.hashes[position] = digest
            return digest
        slot = self.leaf_position(position)
        chunk = self.slot(slot - FIRST_SLOT)
        kind = self.kinds[slot]
        if kind == KIND_INTERNAL:
            digest = chunk[8:]
        elif kind == KIND_BUCKET:
            digest = chunk[:HASH_SIZE]
        else:
            digest = _leaf_digest(chunk)
        self.hashes[slot] = digest
        self.hashes[position] = digest
        return digest

    def fill(self) -> None:
        """Compute every inner hash the stored form left out."""
        kinds, hashes = self.kinds, self.hashes
        for position in range(FIRST_SLOT - 1, 0, -1):
            if kinds[position] == KIND_INTERNAL and hashes[position] is None:
                hashes[position] = node_hash(
                    self.hash_at(2 * position), self.hash_at(2 * position + 1)
                )

    def set_child(self, nibble: int, result: _Result) -> None:
        position = FIRST_SLOT + nibble
        if result is None:
            self.kinds[position] = KIND_EMPTY
            self.hashes[position] = ZERO_HASH
            self.slots[nibble] = None
        elif isinstance(result, bytes):
            if len(result) == LEAF_SIZE:
                self.kinds[position] = KIND_LEAF
                self.hashes[position] = None
            else:
                self.kinds[position] = KIND_BUCKET
                self.hashes[position] = result[:HASH_SIZE]
            self.slots[nibble] = result
        else:
            version, digest = result
            self.kinds[position] = KIND_INTERNAL
            self.hashes[position] = digest
            self.slots[nibble] = version.to_bytes(8, "big") + digest

    def rehash(self, nibbles: Sequence[int]) -> None:
        """Recompute the positions above the child slots `nibbles` (ascending): one
        changed child costs four positions, not fifteen; from three changed children on,
        which change most of the positions anyway, all fifteen are recomputed rather
        than worked out (fewer Python operations for a few more hashes)."""
        kinds, hashes = self.kinds, self.hashes
        if not nibbles:
            return
        if len(nibbles) > 2:
            order: Sequence[int] = _ALL_INNER
        elif len(nibbles) == 1:
            slot = FIRST_SLOT + nibbles[0]
            order = (slot >> 1, slot >> 2, slot >> 3, 1)
        else:
            # both paths up, bottom-up (a child's position is above its parent's), the
            # positions they share once
            first, second = FIRST_SLOT + nibbles[0], FIRST_SLOT + nibbles[1]
            path: list[int] = []
            while first != second:
                first, second = first >> 1, second >> 1
                path += (second, first) if first != second else (first,)
            while first > 1:
                first >>= 1
                path.append(first)
            order = path
        slots = self.slots
        for position in order:
            left = position << 1
            left_kind, right_kind = kinds[left], kinds[left + 1]
            # One leaf and nothing else takes that leaf's hash (kind 1), nothing at all
            # the zero hash, anything else a node over its two halves.
            if left_kind == KIND_EMPTY and right_kind <= KIND_LEAF:
                kinds[position] = right_kind
                hashes[position] = hashes[left + 1]
            elif right_kind == KIND_EMPTY and left_kind == KIND_LEAF:
                kinds[position] = KIND_LEAF
                hashes[position] = hashes[left]
            else:
                kinds[position] = KIND_INTERNAL
                # a leaf in its slot not hashed yet (a new value) is hashed here, the
                # rest through `hash_at`
                left_hash = hashes[left]
                if left_hash is None:
                    if left_kind == KIND_LEAF and left >= FIRST_SLOT:
                        hasher = _LEAF_STATE.copy()
                        hasher.update(slots[left - FIRST_SLOT])
                        left_hash = hashes[left] = hasher.digest()
                    else:
                        left_hash = self.hash_at(left)
                right_hash = hashes[left + 1]
                if right_hash is None:
                    if right_kind == KIND_LEAF and left >= FIRST_SLOT:
                        hasher = _LEAF_STATE.copy()
                        hasher.update(slots[left + 1 - FIRST_SLOT])
                        right_hash = hashes[left + 1] = hasher.digest()
                    else:
                        right_hash = self.hash_at(left + 1)
                hasher = _NODE_STATE.copy()
                hasher.update(left_hash)
                hasher.update(right_hash)
                hashes[position] = hasher.digest()


_ALL_INNER = tuple(range(FIRST_SLOT - 1, 0, -1))  # every inner position, bottom-up


# Decoded top nodes by their stored bytes. Decoding is a pure function of the bytes, so
# this memo can never give a wrong node, whatever store or version the bytes came from;
# it saves decoding the root and its children, which every block reads again (and which
# the block before wrote: `_Batch.close` remembers what it encodes), and which a block
# reads more than once (the root is checked, then updated). Deeper nodes go through the
# memo of inner hashes below: it holds all of a node's hashes in a fifth of the memory
# (the slots are decoded from the stored bytes again, which costs less than copying a
# decoded node out of this memo and remembering the one written: measured at 1M keys).
MEMO_DEPTH = 1
DECODED_NODES = 1 << 8
_decoded: OrderedDict[bytes, Node] = OrderedDict()

# The inner hashes of nodes (heap positions 2..31, packed), by the node's own hash. A
# node's hash commits to every leaf below it and so to every hash inside it, whatever
# version or path it is stored under: an entry can only ever be right, across versions,
# blocks that were executed and never committed, pruning and restarts (nothing is kept
# on disk). With it, updating k paths through a node costs about 4k hashes and the new
# leaves' own, not the ~30 that recomputing the node from its slots costs. Each node a
# block writes is added with all its hashes, the one it replaces dropped, so the memo
# holds the live tree's nodes, the least recently written going first when it is full.
HASH_MEMO_ENTRY_BYTES = 1_200  # 960 bytes of hashes, the 32-byte key and the dict's share
DEFAULT_HASH_MEMO_BYTES = 96 * 1024 * 1024
_INNER = 30  # positions 2..31
_unpack_inner = struct.Struct(f"{HASH_SIZE}s" * _INNER).unpack
_hash_memo: OrderedDict[bytes, bytes] = OrderedDict()
_hash_memo_entries = DEFAULT_HASH_MEMO_BYTES // HASH_MEMO_ENTRY_BYTES


def set_hash_memo_bytes(limit: int) -> None:
    """Bound the memo of inner hashes to about `limit` bytes (0 turns it off); a tree of
    n keys has about n / 14 nodes, so n * 90 bytes keep all of them."""
    global _hash_memo_entries
    if limit < 0:
        raise ValueError("the memo bound is a number of bytes")
    _hash_memo_entries = limit // HASH_MEMO_ENTRY_BYTES
    _trim_hash_memo()


def hash_memo_size() -> int:
    """Nodes whose inner hashes the memo holds."""
    return len(_hash_memo)


def memoised_hashes(digest: bytes) -> bytes | None:
    """The inner hashes (positions 2..31, packed) the memo holds for the node `digest`."""
    return _hash_memo.get(digest)


def clear_hash_memo() -> None:
    """Forget every memoised node (what a restart does)."""
    _hash_memo.clear()


def _trim_hash_memo() -> None:
    with suppress(KeyError):  # another thread emptied it meanwhile
        while len(_hash_memo) > _hash_memo_entries:
            _hash_memo.popitem(last=False)


def _memo_hashes(node: Node) -> None:
    """Remember `node`'s inner hashes (computing the ones still missing) by its hash."""
    if not _hash_memo_entries:
        return
    hashes = node.hashes
    if None in hashes:
        for position in range(2, 32):
            if hashes[position] is None:
                node.hash_at(position)
    digest = hashes[1]
    if digest is not None:
        _hash_memo[digest] = b"".join(hashes[2:])  # type: ignore[arg-type]
        if len(_hash_memo) > _hash_memo_entries:
            _trim_hash_memo()


def _forget_hashes(digest: bytes) -> None:
    _hash_memo.pop(digest, None)


def _decode_known(raw: bytes, digest: bytes) -> Node:
    """The node stored as `raw`, whose hash its parent holds: its inner hashes from the
    memo when it has them."""
    packed = _hash_memo.get(digest)
    if packed is None:
        node = Node.decode(raw)
        node.hashes[1] = digest
        return node
    return Node.decode(raw, [digest, digest, *_unpack_inner(packed)])


def _remember(raw: bytes, node: Node) -> None:
    if None in node.hashes:
        node.fill()  # every inner hash, once, rather than in each copy handed out
    _decoded[raw] = node
    if len(_decoded) > DECODED_NODES:
        with suppress(KeyError):  # another thread emptied it meanwhile
            _decoded.popitem(last=False)


def decode_node(raw: bytes, depth: int = 0) -> Node:
    """The internal node stored as `raw` (`depth` nibbles deep), as a copy the caller may
    change."""
    if depth > MEMO_DEPTH:
        return Node.decode(raw)
    node = _decoded.get(raw)
    if node is None:
        node = Node.decode(raw)
        _remember(raw, node)
    return node.copy()


def read_node(reader: KVReader, version: int, path: bytes) -> bytes | None:
    """The stored bytes of a node (see the module docstring), or None."""
    return reader.get(node_key(version, path))


def child_versions(raw: bytes) -> list[tuple[int, int]]:
    """(nibble, version) of every internal child of a stored node."""
    if raw[0] != STORED_INTERNAL:
        return []
    node = decode_node(raw)
    return [
        (nibble, node.version_of(nibble))
        for nibble in range(RADIX)
        if node.kinds[FIRST_SLOT + nibble] == KIND_INTERNAL
    ]


# -- batch update ------------------------------------------------------------------------

# An update is the leaf it writes (key_hash ‖ value_hash) or, to delete a key, its key_hash
# alone: one bytes object per key, sorted as it is (the key hashes are distinct, and a
# leaf sorts with its key hash), and a new leaf without a concatenation.
Update = bytes
# What a subtree becomes after an update: nothing, one leaf (key_hash ‖ value_hash,
# which floats up into the parent), a bucket of a few leaves (its stored slot form,
# longer than a leaf) or an internal node (version, hash) just written.
_Result = bytes | tuple[int, bytes] | None
EMPTY_NODE = bytes((KIND_EMPTY,))


class _Batch:
    """One version's update: the nodes it writes and the nodes it makes stale."""

    def __init__(self, reader: KVReader, version: int) -> None:
        self.reader = reader
        self.version = version
        self.prefix = node_key(version, b"")
        self.writes: dict[bytes, bytes | None] = {}
        self.stale: list[bytes] = []  # keys of the nodes this version replaces

    def retire(self, key: bytes) -> None:
        """Record the node stored under `key` as replaced by this version."""
        self.stale.append(bytes((len(key),)) + key)

    def finish(self) -> dict[bytes, bytes | None]:
        """The writes, with this version's stale list (one entry, length-prefixed keys)."""
        if self.stale:
            self.writes[STALE_PREFIX + self.version.to_bytes(8, "big")] = b"".join(self.stale)
        return self.writes

    def load(self, key: bytes, depth: int, digest: bytes) -> Node:
        """The node stored under `key`, `depth` nibbles deep, whose hash its parent holds."""
        raw = self.reader.get(key)
        if raw is None:
            version = int.from_bytes(key[len(NODE_PREFIX) : len(NODE_PREFIX) + 8], "big")
            raise TreeError(f"state tree node missing at version {version}")
        if depth > MEMO_DEPTH:
            return _decode_known(raw, digest)
        node = decode_node(raw, depth)
        node.hashes[1] = digest
        return node

    def close(self, path: bytes, node: Node) -> _Result:
        """What `node` (rehashed) becomes: nothing, a leaf floating up, or a written node."""
        kind = node.kinds[1]
        if kind == KIND_EMPTY:
            return None
        if kind == KIND_LEAF:
            return node.leaf(1)
        digest = node.hashes[1]
        if digest is None:  # unreachable: a kind-2 position is always hashed
            raise TreeError("internal state tree node without a hash")
        raw = node.encode()
        self.writes[self.prefix + path] = raw
        if len(path) <= MEMO_DEPTH:
            _remember(raw, node)
        else:
            _memo_hashes(node)
        return self.version, digest

    def build(self, path: bytes, leaves: Sequence[bytes]) -> _Result:
        """A fresh subtree holding exactly `leaves` (sorted, distinct key hashes)."""
        if not leaves:
            return None
        if len(leaves) == 1:
            return leaves[0]
        if len(leaves) <= BUCKET_LEAVES and path:
            return _bucket(leaves, 4 * len(path))
        depth = len(path)
        if depth >= MAX_DEPTH:
            raise TreeError("two updates share a key hash")
        node = Node.empty()
        nibbles = []
        for nibble, group in _groups(leaves, depth):
            node.set_child(nibble, self.build(path + NIBBLES[nibble], group))
            nibbles.append(nibble)
        node.rehash(nibbles)
        return self.close(path, node)

    def merge(self, path: bytes, leaves: list[bytes], updates: Sequence[Update]) -> _Result:
        """The subtree at `path`, holding only `leaves` (sorted; the list is changed),
        after `updates`: each key found by bisection (its hash alone sorts just before
        its leaf) and its leaf replaced, inserted or deleted in place."""
        for update in updates:
            key = update[:HASH_SIZE]
            index = bisect_left(leaves, key)
            if index < len(leaves) and leaves[index].startswith(key):
                if len(update) == HASH_SIZE:
                    del leaves[index]
                else:
                    leaves[index] = update
            elif len(update) != HASH_SIZE:
                leaves.insert(index, update)
        count = len(leaves)
        if count <= 1:
            return leaves[0] if leaves else None
        if count <= BUCKET_LEAVES and path:
            return _bucket(leaves, 4 * len(path))
        return self.build(path, leaves)

    def apply(
        self, version: int, path: bytes, stored: bytes, node: Node, updates: Sequence[Update]
    ) -> _Result:
        """The subtree at `path` (the internal `node`, stored at `version` under the key
        `stored`) after `updates`."""
        before = node.hashes[1]
        kinds, hashes, slots = node.kinds, node.hashes, node.slots
        nibbles = []
        # `set_child` written out: this loop runs for every slot a block changes
        for nibble, group in _groups(updates, len(path)):
            position = FIRST_SLOT + nibble
            kind = kinds[position]
            chunk = slots[nibble]
            if kind == KIND_INTERNAL and chunk is not None:
                child_path = path + NIBBLES[nibble]
                child_key = NODE_PREFIX + chunk[:8] + child_path
                child = self.load(child_key, len(child_path), chunk[8:])
                child_version = int.from_bytes(chunk[:8], "big")
                result = self.apply(child_version, child_path, child_key, child, group)
            elif kind == KIND_LEAF and chunk is not None:
                update = group[0]
                if (
                    len(group) == 1
                    and len(update) == LEAF_SIZE
                    and chunk.startswith(update[:HASH_SIZE])
                ):
                    # a key's new value: the leaf stays where it is, hashed when needed
                    slots[nibble] = update
                    hashes[position] = None
                    nibbles.append(nibble)
                    continue
                result = self.merge(path + NIBBLES[nibble], [chunk], group)
            elif kind == KIND_BUCKET and chunk is not None:
                result = self.merge(path + NIBBLES[nibble], _bucket_leaves(chunk), group)
            else:
                result = self.merge(path + NIBBLES[nibble], [], group)
            if result is None:
                kinds[position] = KIND_EMPTY
                hashes[position] = ZERO_HASH
                slots[nibble] = None
            elif isinstance(result, bytes):
                if len(result) == LEAF_SIZE:
                    kinds[position] = KIND_LEAF
                    hashes[position] = None
                else:
                    kinds[position] = KIND_BUCKET
                    hashes[position] = result[:HASH_SIZE]
                slots[nibble] = result
            else:
                kinds[position] = KIND_INTERNAL
                hashes[position] = result[1]
                slots[nibble] = result[0].to_bytes(8, "big") + result[1]
            nibbles.append(nibble)
        node.rehash(nibbles)
        if path and before is not None and node.hashes[1] == before:
            # Written with the values it already held: the stored node stays the
            # version's node (the root is written for every version all the same;
            # a node's hash changes whenever anything below it does).
            return version, before
        self.retire(stored)
        if before is not None and len(path) > MEMO_DEPTH:
            _forget_hashes(before)
        return self.close(path, node)


def _bucket(leaves: Sequence[bytes], bit: int) -> bytes:
    """The slot form of a bucket whose leaves (sorted) share their first `bit` bits:
    its subtree hash ‖ the number of leaves ‖ the leaves."""
    return b"".join([_subtree_hash(leaves, bit), _COUNTS[len(leaves)], *leaves])


_COUNTS = tuple(bytes((count,)) for count in range(BUCKET_LEAVES + 1))


def _bucket_leaves(chunk: bytes) -> list[bytes]:
    start = HASH_SIZE + 1
    return [
        chunk[offset : offset + LEAF_SIZE]
        for offset in range(start, start + LEAF_SIZE * chunk[HASH_SIZE], LEAF_SIZE)
    ]


def _split(leaves: Sequence[bytes], bit: int) -> int:
    """Index of the first of the sorted `leaves` whose key hash has bit `bit` set."""
    index = 0
    while index < len(leaves) and not bit_at(leaves[index], bit):
        index += 1
    return index


def _subtree_hash(leaves: Sequence[bytes], bit: int) -> bytes:
    """Hash of the binary subtree holding exactly `leaves` (sorted, at least one), all of
    which agree on their first `bit` bits (docs/protocol.md §6).

    Rather than one step per bit, it finds the first bit the leaves do not all share
    from the first and last key hashes (they are sorted), hashes the two halves there,
    then the run of levels above with an empty other half: the same hashes, with a
    few Python operations per level instead of a split and a call."""
    if len(leaves) == 1:
        hasher = _LEAF_STATE.copy()
        hasher.update(leaves[0])
        only: bytes = hasher.digest()
        return only
    # whole leaves as numbers (key hash, then value hash): their first differing bit is
    # in the key hash unless two leaves share one
    first = int.from_bytes(leaves[0], "big")
    split_bit = LEAF_BITS - (first ^ int.from_bytes(leaves[-1], "big")).bit_length()
    if split_bit >= KEY_BITS:
        raise TreeError("two leaves share a key hash")
    split = 1
    if len(leaves) > 2:
        # the first leaf has the bit clear and the last has it set: find where it flips
        index, shift = split_bit >> 3, 7 - (split_bit & 7)
        while not (leaves[split][index] >> shift) & 1:
            split += 1
    if split == 1:  # a leaf alone: its hash here rather than in a call
        hasher = _LEAF_STATE.copy()
        hasher.update(leaves[0])
        left = hasher.digest()
    else:
        left = _subtree_hash(leaves[:split], split_bit + 1)
    if split == len(leaves) - 1:
        hasher = _LEAF_STATE.copy()
        hasher.update(leaves[split])
        right = hasher.digest()
    else:
        right = _subtree_hash(leaves[split:], split_bit + 1)
    hasher = _NODE_STATE.copy()
    hasher.update(left)
    hasher.update(right)
    digest: bytes = hasher.digest()
    # levels bit .. split_bit - 1 above, bottom-up: every leaf shares the bit there,
    # so the other half is empty, on the left where the bit is set
    shared = first >> (LEAF_BITS - split_bit)
    for _ in range(split_bit - bit):
        hasher = _NODE_STATE.copy()
        if shared & 1:
            hasher.update(ZERO_HASH)
            hasher.update(digest)
        else:
            hasher.update(digest)
            hasher.update(ZERO_HASH)
        digest = hasher.digest()
        shared >>= 1
    return digest


def _bucket_path(
    leaves: Sequence[bytes], bit: int, digest: bytes
) -> tuple[list[bytes], bytes | None]:
    """Walk `digest`'s path through a bucket from bit `bit`: the siblings (top-down) and
    the leaf where the path ends alone, or None where it ends in an empty subtree."""
    siblings = []
    while len(leaves) > 1:
        split = _split(leaves, bit)
        if bit_at(digest, bit):
            ours, other = leaves[split:], leaves[:split]
        else:
            ours, other = leaves[:split], leaves[split:]
        siblings.append(_subtree_hash(other, bit + 1) if other else ZERO_HASH)
        leaves, bit = ours, bit + 1
    return siblings, leaves[0] if leaves else None


def _groups(items: Sequence[bytes], depth: int) -> list[tuple[int, list[bytes]]]:
    """Split updates or leaves sorted by key hash by the nibble at `depth`, in nibble
    order."""
    groups: list[tuple[int, list[bytes]]] = []
    index, odd = depth >> 1, depth & 1
    current = -1
    group: list[bytes] = []
    for item in items:
        byte = item[index]
        nibble = byte & 0x0F if odd else byte >> 4
        if nibble != current:
            group = []
            groups.append((nibble, group))
            current = nibble
        group.append(item)
    return groups


def _root(reader: KVReader, version: int, expected_root: bytes) -> bytes:
    """The stored root node of `version`, checked against the root the chain expects; a
    store without one is an empty tree only if the expected root is the empty root (a
    fresh store, or a test's bare store)."""
    raw = reader.get(node_key(version, b""))
    if raw is None:
        if expected_root != ZERO_HASH:
            raise TreeError(f"no state tree root at version {version}")
        return EMPTY_NODE
    if raw[0] == KIND_EMPTY:
        digest = ZERO_HASH
    elif raw[0] == KIND_LEAF:
        digest = leaf_hash(raw[1 : 1 + HASH_SIZE], raw[1 + HASH_SIZE : 1 + LEAF_SIZE])
    else:
        digest = decode_node(raw).hash_at(1)
    if digest != expected_root:
        raise TreeError(f"the state tree at version {version} does not match the root")
    return raw


def check_root(reader: KVReader, version: int, expected_root: bytes) -> None:
    """Raise TreeError unless the store holds `version`'s root, in this layout, hashing
    to `expected_root` (a node opening its data directory checks its head this way)."""
    _root(reader, version, expected_root)


def update_tree(
    reader: KVReader,
    version: int,
    prev_root: bytes,
    write_set: Sequence[tuple[bytes, bytes | None]],
) -> tuple[bytes, dict[bytes, bytes | None]]:
    """Apply a block's write-set as version `version` on top of version - 1.

    Returns the new root and the tree's writes (new nodes and stale-index
    entries) for the block's commit batch; reads only, writes nothing itself.
    """
    updates: list[Update] = []
    append, key_state, value_state = updates.append, _KEY_STATE, _VALUE_STATE
    for key, value in write_set:
        hasher = key_state.copy()
        hasher.update(key)
        if value is None:
            append(hasher.digest())
        else:
            digest = hasher.digest()
            hasher = value_state.copy()
            hasher.update(value)
            append(digest + hasher.digest())
    updates.sort()
    batch = _Batch(reader, version)
    if version == 0:
        if prev_root != ZERO_HASH:
            raise TreeError("version 0 starts from the empty tree")
        previous = EMPTY_NODE
    else:
        previous = _root(reader, version - 1, prev_root)
        stored = reader.get(node_key(version - 1, b"")) is not None
        if previous[0] != STORED_INTERNAL and stored:
            batch.retire(node_key(version - 1, b""))  # `apply` retires an internal root
    result: _Result
    if previous[0] == KIND_EMPTY:
        result = batch.build(b"", [leaf for leaf in updates if len(leaf) == LEAF_SIZE])
    elif previous[0] == KIND_LEAF:
        result = batch.merge(b"", [previous[1 : 1 + LEAF_SIZE]], updates)
    else:
        stored_key = node_key(version - 1, b"")
        result = batch.apply(version - 1, b"", stored_key, decode_node(previous), updates)
    root_key = node_key(version, b"")
    if result is None:
        batch.writes[root_key] = EMPTY_NODE
        return ZERO_HASH, batch.finish()
    if isinstance(result, bytes):
        batch.writes[root_key] = bytes((KIND_LEAF,)) + result
        return leaf_hash(result[:HASH_SIZE], result[HASH_SIZE:]), batch.finish()
    return result[1], batch.finish()


def prune(reader: KVReader, version: int, keep_versions: int) -> dict[bytes, bytes | None]:
    """Deletes for every node only versions older than the newest `keep_versions` use.

    A node recorded stale since version s belongs to versions below s only, so it
    can go once s <= version - keep_versions + 1.
    """
    if keep_versions < 1:
        raise ValueError("keep at least the newest version")
    limit = version - keep_versions + 1
    deletes: dict[bytes, bytes | None] = {}
    for stale_key, listed in reader.iterate(STALE_PREFIX):
        since = int.from_bytes(stale_key[len(STALE_PREFIX) :], "big")
        if since > limit:
            break
        deletes[stale_key] = None
        offset = 0
        while offset < len(listed):
            end = offset + 1 + listed[offset]
            deletes[listed[offset + 1 : end]] = None
            offset = end
    return deletes


# -- proofs --------------------------------------------------------------------------------

TAG_STATE_PROOF = 31
PROOF_VERSION = 1


@dataclass(frozen=True, slots=True)
class StateProof:
    """A key's value (or its absence) under a state root.

        StateProof = [31, 1, key, value or nil, [key_hash, value_hash] or nil,
                      [sibling, ...]]          (siblings bottom-up, at most 256)

    `leaf` is the leaf met on the key's path: the key's own (membership), another
    key's that shares the path so far (absence), or nil where the path ends in an
    empty subtree (absence).
    """

    key: bytes
    value: bytes | None
    leaf: tuple[bytes, bytes] | None
    siblings: tuple[bytes, ...]

    def to_list(self) -> list[Any]:
        return [
            TAG_STATE_PROOF,
            PROOF_VERSION,
            self.key,
            self.value,
            None if self.leaf is None else list(self.leaf),
            list(self.siblings),
        ]

    def encode(self) -> bytes:
        return codec.encode(self.to_list())

    @staticmethod
    def from_list(value: Any) -> StateProof:
        fields = codec.expect_list(value, 6, "state proof")
        if isinstance(fields[0], bool) or fields[0] != TAG_STATE_PROOF:
            raise CodecError("bad_tag", "not a state proof")
        if isinstance(fields[1], bool) or fields[1] != PROOF_VERSION:
            raise CodecError("bad_version", "unsupported state proof version")
        key = codec.expect_bytes(fields[2], "key")
        stored = None if fields[3] is None else codec.expect_bytes(fields[3], "value")
        leaf = None
        if fields[4] is not None:
            pair = codec.expect_list(fields[4], 2, "leaf")
            leaf = (
                codec.expect_bytes(pair[0], "leaf key_hash", HASH_SIZE),
                codec.expect_bytes(pair[1], "leaf value_hash", HASH_SIZE),
            )
        siblings = fields[5]
        if not isinstance(siblings, list) or len(siblings) > KEY_BITS:
            raise CodecError("bad_type", f"siblings must be an array of at most {KEY_BITS}")
        return StateProof(
            key,
            stored,
            leaf,
            tuple(codec.expect_bytes(item, "sibling", HASH_SIZE) for item in siblings),
        )

    @staticmethod
    def decode(data: bytes) -> StateProof:
        return StateProof.from_list(codec.decode(data))

    def verify(self, root: bytes) -> bool:
        """True when the proof shows `value` (None: absence) at `key` under `root`."""
        digest = key_hash(self.key)
        depth = len(self.siblings)
        if depth > KEY_BITS:
            return False
        if self.value is not None:
            if self.leaf is None or self.leaf != (digest, value_hash(self.value)):
                return False
        elif self.leaf is not None:
            other = self.leaf[0]
            if other == digest:
                return False  # the key is present: this cannot prove its absence
            if any(bit_at(other, i) != bit_at(digest, i) for i in range(depth)):
                return False  # that leaf is not on this key's path
        current = ZERO_HASH if self.leaf is None else leaf_hash(*self.leaf)
        for level, sibling in enumerate(self.siblings):
            bit = bit_at(digest, depth - 1 - level)
            current = node_hash(sibling, current) if bit else node_hash(current, sibling)
        return current == root


def prove(
    reader: KVReader, version: int, root: bytes, key: bytes, value: bytes | None
) -> StateProof:
    """Proof for `key` at `version` (whose root is `root`); `value` is the key's value
    in that version (from the state store), None when absent."""
    digest = key_hash(key)
    raw = _root(reader, version, root)
    siblings: list[bytes] = []  # top-down while walking
    leaf: bytes | None = None
    if raw[0] == KIND_LEAF:
        leaf = raw[1 : 1 + LEAF_SIZE]
    elif raw[0] == STORED_INTERNAL:
        node = decode_node(raw)
        path = b""
        while True:
            depth = len(path) * 4
            position = 1
            for step in range(4):
                bit = bit_at(digest, depth + step)
                siblings.append(node.hash_at(2 * position + 1 - bit))
                position = 2 * position + bit
                if node.kinds[position] != KIND_INTERNAL:
                    break
            kind = node.kinds[position]
            if kind == KIND_LEAF:
                leaf = node.leaf(position)
                break
            if kind == KIND_EMPTY:
                break
            nibble = position - FIRST_SLOT
            if kind == KIND_BUCKET:
                inside, leaf = _bucket_path(
                    _bucket_leaves(node.slot(nibble)), 4 * (len(path) + 1), digest
                )
                siblings.extend(inside)
                break
            # an internal child: walk on inside it
            path = path + NIBBLES[nibble]
            child_version = node.version_of(nibble)
            child = reader.get(node_key(child_version, path))
            if child is None:
                raise TreeError(f"state tree node missing at version {child_version}")
            node = decode_node(child, len(path))
    pair = None if leaf is None else (leaf[:HASH_SIZE], leaf[HASH_SIZE:])
    if value is not None and (pair is None or pair != (digest, value_hash(value))):
        raise TreeError("the value given does not match the tree")
    siblings.reverse()
    return StateProof(key, value, pair, tuple(siblings))
