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

    chain/tree/n/<version:8><depth:1><nibbles packed, high first>
        00                                    the empty tree (only as a root)
        01 ‖ key_hash ‖ value_hash            a leaf
        02 ‖ child bitmap (2) ‖ per child: version (8) ‖ hash ‖ is_leaf (1)
                                              an internal node
    chain/tree/stale/<since:8>  -> the node keys version `since` replaced, each
                                   preceded by its length (one byte)

Nothing here depends on dict or set order: updates are sorted by key hash and
children live in a 16-slot list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from ledger import codec
from ledger.errors import CodecError
from ledger.hashing import (
    HASH_SIZE,
    STATE_KEY,
    STATE_LEAF,
    STATE_NODE,
    STATE_VALUE,
    ZERO_HASH,
    tagged_hash,
)
from ledger.kv import KVReader

TREE_PREFIX = b"chain/tree/"  # everything the tree stores; never a state key
NODE_PREFIX = TREE_PREFIX + b"n/"
STALE_PREFIX = TREE_PREFIX + b"stale/"

KIND_EMPTY = 0
KIND_LEAF = 1
KIND_INTERNAL = 2

RADIX = 16
KEY_BITS = 256
MAX_DEPTH = 64  # nibbles in a key hash


def key_hash(key: bytes) -> bytes:
    return tagged_hash(STATE_KEY, key)


def value_hash(value: bytes) -> bytes:
    return tagged_hash(STATE_VALUE, value)


def leaf_hash(key_digest: bytes, value_digest: bytes) -> bytes:
    return tagged_hash(STATE_LEAF, key_digest + value_digest)


def node_hash(left: bytes, right: bytes) -> bytes:
    return tagged_hash(STATE_NODE, left + right)


def bit_at(digest: bytes, index: int) -> int:
    """Bit `index` of a key hash, 0 being the most significant bit of byte 0."""
    return (digest[index >> 3] >> (7 - (index & 7))) & 1


def nibble_at(digest: bytes, depth: int) -> int:
    byte = digest[depth >> 1]
    return byte >> 4 if depth % 2 == 0 else byte & 0x0F


def node_key(version: int, path: bytes) -> bytes:
    """Store key of the node at `path` (a sequence of nibble values) written at `version`."""
    # Each nibble value n in `path` is the byte 0n; its hex is "0x", so every second
    # hex digit, read back two at a time, packs the nibbles high first.
    digits = path.hex()[1::2]
    if len(digits) % 2:
        digits += "0"
    return NODE_PREFIX + version.to_bytes(8, "big") + bytes((len(path),)) + bytes.fromhex(digits)


class Child(NamedTuple):
    """A reference from an internal node to the node at the next nibble (a tuple:
    thousands are made per block, and tuples are the cheapest immutable record)."""

    version: int
    hash: bytes
    is_leaf: bool


Children = list[Child | None]  # 16 slots, by nibble


def _combine(left: bytes, left_kind: int, right: bytes, right_kind: int) -> tuple[bytes, int]:
    # A range holding one leaf and nothing else takes that leaf's hash (kind LEAF), an
    # empty range the zero hash, anything else a node over its two halves.
    if left_kind == KIND_EMPTY and right_kind != KIND_INTERNAL:
        return right, right_kind
    if right_kind == KIND_EMPTY and left_kind == KIND_LEAF:
        return left, left_kind
    return node_hash(left, right), KIND_INTERNAL


def _levels(children: Children) -> list[list[tuple[bytes, int]]]:
    """(hash, kind) of every binary subtree inside a node: level 0 holds the 16 slots,
    level 4 the node itself; entry i of level l covers slots [i * 2^l, (i + 1) * 2^l)."""
    level = [
        (ZERO_HASH, KIND_EMPTY)
        if child is None
        else (child.hash, KIND_LEAF if child.is_leaf else KIND_INTERNAL)
        for child in children
    ]
    levels = [level]
    while len(level) > 1:
        level = [_combine(*level[i], *level[i + 1]) for i in range(0, len(level), 2)]
        levels.append(level)
    return levels


def _subtree(children: Children, low: int, width: int) -> tuple[bytes, int]:
    """(hash, kind) of the binary subtree over slots [low, low + width)."""
    depth = width.bit_length() - 1
    return _levels(children)[depth][low >> depth]


def internal_hash(children: Children) -> bytes:
    """The node's hash: `_levels(children)[4][0][0]`, computed without the bookkeeping
    (this runs for every node a block rewrites)."""
    hashes = [ZERO_HASH if child is None else child.hash for child in children]
    kinds = [
        KIND_EMPTY if child is None else KIND_LEAF if child.is_leaf else KIND_INTERNAL
        for child in children
    ]
    width = RADIX
    while width > 1:
        for i in range(0, width, 2):
            left_kind, right_kind = kinds[i], kinds[i + 1]
            if left_kind == KIND_EMPTY and right_kind != KIND_INTERNAL:
                hashes[i >> 1], kinds[i >> 1] = hashes[i + 1], right_kind
            elif right_kind == KIND_EMPTY and left_kind == KIND_LEAF:
                hashes[i >> 1], kinds[i >> 1] = hashes[i], left_kind
            else:
                hashes[i >> 1] = node_hash(hashes[i], hashes[i + 1])
                kinds[i >> 1] = KIND_INTERNAL
        width >>= 1
    return hashes[0]


# Stored node bytes (a storage format, not part of the protocol; fixed-width fields
# so decoding is slicing): empty 00; leaf 01 ‖ key_hash ‖ value_hash; internal
# 02 ‖ 16-bit child bitmap (bit n = nibble n) ‖ per child in nibble order
# version (8, big-endian) ‖ hash ‖ 00 or 01 (is a leaf).
EMPTY_NODE = bytes((KIND_EMPTY,))
_CHILD_SIZE = 8 + HASH_SIZE + 1


def _encode_internal(children: Children) -> bytes:
    bitmap = 0
    parts = []
    for nibble, child in enumerate(children):
        if child is not None:
            bitmap |= 1 << nibble
            parts.append(
                child.version.to_bytes(8, "big")
                + child.hash
                + (b"\x01" if child.is_leaf else b"\x00")
            )
    return bytes((KIND_INTERNAL,)) + bitmap.to_bytes(2, "big") + b"".join(parts)


def _encode_leaf(key_digest: bytes, value_digest: bytes) -> bytes:
    return bytes((KIND_LEAF,)) + key_digest + value_digest


@dataclass(frozen=True, slots=True)
class StoredNode:
    kind: int
    children: Children | None = None  # internal
    key_hash: bytes = b""  # leaf
    value_hash: bytes = b""  # leaf

    @property
    def hash(self) -> bytes:
        if self.kind == KIND_EMPTY:
            return ZERO_HASH
        if self.kind == KIND_LEAF:
            return leaf_hash(self.key_hash, self.value_hash)
        return internal_hash(self.children if self.children is not None else [None] * RADIX)


def decode_node(raw: bytes) -> StoredNode:
    kind = raw[0]
    if kind == KIND_EMPTY:
        return StoredNode(KIND_EMPTY)
    if kind == KIND_LEAF:
        return StoredNode(KIND_LEAF, key_hash=raw[1:33], value_hash=raw[33:65])
    bitmap = int.from_bytes(raw[1:3], "big")
    children: Children = [None] * RADIX
    offset = 3
    for nibble in range(RADIX):
        if bitmap >> nibble & 1:
            end = offset + _CHILD_SIZE
            children[nibble] = Child(
                int.from_bytes(raw[offset : offset + 8], "big"),
                raw[offset + 8 : end - 1],
                raw[end - 1] == 1,
            )
            offset = end
    return StoredNode(KIND_INTERNAL, children=children)


def read_node(reader: KVReader, version: int, path: bytes) -> StoredNode | None:
    raw = reader.get(node_key(version, path))
    return None if raw is None else decode_node(raw)


class TreeError(Exception):
    """The store does not hold the tree version asked for (pruned, or never written)."""


# -- batch update ------------------------------------------------------------------------

Update = tuple[bytes, bytes | None]  # (key_hash, value_hash or None to delete)
_Leaf = tuple[bytes, bytes]  # an unplaced leaf: (key_hash, value_hash)
_Result = _Leaf | Child | None  # what a subtree becomes after an update


class _Batch:
    """One version's update: the nodes it writes and the nodes it makes stale."""

    def __init__(self, reader: KVReader, version: int) -> None:
        self.reader = reader
        self.version = version
        self.writes: dict[bytes, bytes | None] = {}
        self.stale: list[bytes] = []  # keys of the nodes this version replaces

    def retire(self, version: int, path: bytes) -> None:
        key = node_key(version, path)
        self.stale.append(bytes((len(key),)) + key)

    def finish(self) -> dict[bytes, bytes | None]:
        """The writes, with this version's stale list (one entry, length-prefixed keys)."""
        if self.stale:
            self.writes[STALE_PREFIX + self.version.to_bytes(8, "big")] = b"".join(self.stale)
        return self.writes

    def load(self, version: int, path: bytes) -> StoredNode:
        written = self.writes.get(node_key(version, path))
        if version == self.version and written is not None:
            return decode_node(written)
        node = read_node(self.reader, version, path)
        if node is None:
            raise TreeError(f"state tree node missing at version {version}")
        return node

    def place(self, result: _Result, path: bytes) -> Child | None:
        """Write an unplaced leaf at `path`; references pass through."""
        if result is None or isinstance(result, Child):
            return result
        key_digest, value_digest = result
        self.writes[node_key(self.version, path)] = _encode_leaf(key_digest, value_digest)
        return Child(self.version, leaf_hash(key_digest, value_digest), True)

    def build(self, path: bytes, updates: Sequence[_Leaf]) -> _Result:
        """A fresh subtree holding exactly `updates` (sorted, distinct key hashes)."""
        if not updates:
            return None
        if len(updates) == 1:
            return updates[0]
        depth = len(path)
        if depth >= MAX_DEPTH:
            raise TreeError("two updates share a key hash")
        children: Children = [None] * RADIX
        for nibble, group in _groups(updates, depth):
            child_path = path + bytes([nibble])
            children[nibble] = self.place(self.build(child_path, group), child_path)
        return self.write_internal(path, children)

    def write_internal(self, path: bytes, children: Children) -> Child:
        self.writes[node_key(self.version, path)] = _encode_internal(children)
        return Child(self.version, internal_hash(children), False)

    def apply(self, version: int, path: bytes, node: StoredNode, updates: list[Update]) -> _Result:
        """The subtree at `path` (stored at `version`) after `updates`."""
        self.retire(version, path)
        if node.kind == KIND_EMPTY:
            return self.build(path, [(k, v) for k, v in updates if v is not None])
        if node.kind == KIND_LEAF:
            merged = [(k, v) for k, v in updates if v is not None]
            if all(k != node.key_hash for k, _ in updates):
                merged.append((node.key_hash, node.value_hash))
                merged.sort()
            return self.build(path, merged)
        old = node.children if node.children is not None else [None] * RADIX
        children = list(old)
        depth = len(path)
        for nibble, group in _groups(updates, depth):
            child_path = path + bytes([nibble])
            child = old[nibble]
            if child is None:
                inserts = [(k, v) for k, v in group if v is not None]
                result = self.build(child_path, inserts)
            else:
                stored = self.load(child.version, child_path)
                result = self.apply(child.version, child_path, stored, group)
            children[nibble] = self.place(result, child_path)
        present = [(nibble, c) for nibble, c in enumerate(children) if c is not None]
        if not present:
            return None
        if len(present) == 1 and present[0][1].is_leaf:
            # A lone leaf moves up to where it no longer shares its subtree.
            nibble, only = present[0]
            child_path = path + bytes([nibble])
            leaf = self.load(only.version, child_path)
            if only.version == self.version:
                del self.writes[node_key(self.version, child_path)]  # placed a moment ago
            else:
                self.retire(only.version, child_path)
            return leaf.key_hash, leaf.value_hash
        return self.write_internal(path, children)


def _groups(updates: Sequence[Any], depth: int) -> list[tuple[int, list[Any]]]:
    """Split sorted updates by their nibble at `depth`, in nibble order."""
    groups: list[tuple[int, list[Any]]] = []
    for item in updates:
        nibble = nibble_at(item[0], depth)
        if groups and groups[-1][0] == nibble:
            groups[-1][1].append(item)
        else:
            groups.append((nibble, [item]))
    return groups


def root_node(reader: KVReader, version: int, expected_root: bytes) -> StoredNode:
    """The root stored for `version`; a store without one is an empty tree only if
    the expected root is the empty root (a fresh store, or a test's bare store)."""
    node = read_node(reader, version, b"")
    if node is None:
        if expected_root != ZERO_HASH:
            raise TreeError(f"no state tree root at version {version}")
        return StoredNode(KIND_EMPTY)
    if node.hash != expected_root:
        raise TreeError(f"the state tree at version {version} does not match the root")
    return node


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
    updates = sorted(
        (key_hash(key), None if value is None else value_hash(value)) for key, value in write_set
    )
    batch = _Batch(reader, version)
    if version == 0:
        if prev_root != ZERO_HASH:
            raise TreeError("version 0 starts from the empty tree")
        result = batch.build(b"", [(k, v) for k, v in updates if v is not None])
    elif read_node(reader, version - 1, b"") is None:
        root_node(reader, version - 1, prev_root)  # raises unless the root is empty
        result = batch.build(b"", [(k, v) for k, v in updates if v is not None])
    else:
        previous = root_node(reader, version - 1, prev_root)
        result = batch.apply(version - 1, b"", previous, updates)
    root_key = node_key(version, b"")
    if result is None:
        batch.writes[root_key] = EMPTY_NODE
        return ZERO_HASH, batch.finish()
    if isinstance(result, Child):
        if root_key not in batch.writes:  # an unchanged child can only be internal here
            raise TreeError("the root of a new version must be written at that version")
        return result.hash, batch.finish()
    key_digest, value_digest = result
    batch.writes[root_key] = _encode_leaf(key_digest, value_digest)
    return leaf_hash(key_digest, value_digest), batch.finish()


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
    node = root_node(reader, version, root)
    path = b""
    siblings: list[bytes] = []  # top-down while walking
    leaf: tuple[bytes, bytes] | None = None
    while True:
        if node.kind == KIND_LEAF:
            leaf = (node.key_hash, node.value_hash)
            break
        if node.kind == KIND_EMPTY or node.children is None:
            break
        children = node.children
        depth = len(path)
        low, width = 0, RADIX
        kind = KIND_INTERNAL
        for step in range(4):
            half = width // 2
            left = _subtree(children, low, half)
            right = _subtree(children, low + half, half)
            if bit_at(digest, depth * 4 + step):
                siblings.append(left[0])
                low, kind = low + half, right[1]
            else:
                siblings.append(right[0])
                kind = left[1]
            width = half
            if kind != KIND_INTERNAL:
                break
        if kind == KIND_EMPTY:
            break
        # One leaf (possibly floated up from deeper in this node) or an internal child.
        slot = next(i for i in range(low, low + width) if children[i] is not None)
        child = children[slot]
        if child is None:  # unreachable: the slot was chosen as non-empty
            break
        path = path + bytes([slot])
        loaded = read_node(reader, child.version, path)
        if loaded is None:
            raise TreeError(f"state tree node missing at version {child.version}")
        node = loaded
    if value is not None and (leaf is None or leaf != (digest, value_hash(value))):
        raise TreeError("the value given does not match the tree")
    siblings.reverse()
    return StateProof(key, value, leaf, tuple(siblings))
