"""The authenticated state tree: a radix-16 sparse Merkle tree over hashed state keys.

What is hashed (the part a verifier needs, docs/protocol.md §6):

    key_hash   = H("pasar/state/key", key)       nibble 0 is the high half of byte 0
    value_hash = H("pasar/state/value", value)
    leaf       = H("pasar/state/leaf", key_hash ‖ value_hash)
    node       = H("pasar/state/node16", bitmap ‖ the non-empty children's hashes, in
                   nibble order)          bitmap: 2 bytes big-endian, bit 1 << i set iff
                                          child i is not empty

A subtree with no leaf is empty (32 zero bytes as a root, absent from its parent's
bitmap), a subtree with exactly one leaf hashes to that leaf's hash (the leaf sits as
high as it can), and any other subtree at nibble depth d to the node over its sixteen
children split by nibble d of the key hashes. The root is the state root in the block
header. A proof gives, per level from the root down, the node's bitmap and the hashes
of its non-empty children off the key's path, then the leaf met at the end of the path
(if any): one hash per node, flat, which a pure-Python tree can afford per block (the
binary tree inside each radix-16 node that this replaced cost up to fifteen hashes and
a recursion per node).

How it is stored follows the Jellyfish Merkle tree (Diem, Aptos): nodes keyed by
(version, nibble path) in the key-value store; version h is the state after block h (0
is genesis). A block writes only the nodes on the paths its write-set touches, all at
the new version, and leaves every other subtree shared with older versions. Each
replaced node is recorded in a stale list under the version that replaced it, so
`prune` can delete the nodes no kept version needs without scanning the tree.

What keeps a block's update cheap (it runs for every block, on every replica):

- a leaf lives inside its parent node (its key and value hashes), so updating a key
  reads and writes the nodes above it and nothing for the leaf itself; so does a
  subtree of up to eight leaves (a bucket, with its hash), so the sparse nodes near the
  bottom of the tree, which would hold two to eight leaves, are not nodes at all (with
  four, a sixth of those subtrees were nodes, each read, rewritten and retired by
  nearly every block at 10,000 keys);
- a node is stored as its child slots: an internal child's version and hash, a bucket's
  hash and leaves, a leaf's key and value hashes, but not a leaf's own hash (a third
  more bytes per leaf, written again for every block that rewrites the node). The
  children's hashes a node is hashed over are instead kept in memory by the node's
  own hash (which commits to them, so an entry is right whatever version, path or
  block it came from); the same for a bucket's leaves, by the bucket's hash. The
  memo is bounded (`set_hash_memo_bytes`, config.toml's `state_tree_cache_mb`) and
  holds the nodes written last; a node it does not hold, after a restart for
  instance, hashes its leaves again;
- a block does not decode the nodes it updates: the slots it changes are cut out of
  the stored bytes and the new ones put in their place, their hashes likewise in the
  memo's, and the node is hashed once; a bucket whose keys get new values is changed
  the same way;
- a node whose contents a block leaves as they were (keys written with the values they
  hold) is neither rewritten nor retired;
- the hashes of the keys written last are kept (`KEY_HASH_MEMO`): the same accounts'
  balances and nonces are written block after block.

Stored bytes (a storage format, not part of the protocol):

    chain/tree/format                         the format below: 05 (written with version 0)
    chain/tree/n/<version:8><path: one byte per nibble>
        00                                    the empty tree (only as a root)
        01 ‖ key_hash ‖ value_hash            a tree of one leaf (only as a root)
        05 ‖ the kinds of child slots 0..15 (one byte each: 0 empty, 1 leaf, 2 internal
             node, 3 bucket) ‖ per non-empty slot in nibble order: a leaf: key_hash ‖
             value_hash; a node: version (8, big-endian) ‖ hash; a bucket of 2 to 8
             leaves: its subtree hash ‖ count (1) ‖ count × (key_hash ‖ value_hash),
             sorted
    chain/tree/stale/<since:8>  -> the node keys version `since` replaced, each
                                   preceded by its length (one byte)

A store written by an earlier release (binary hashing, nodes beginning 02 or 04, no
format entry) is refused with TreeError: its roots are not this tree's.

Nothing here depends on dict or set order: updates are sorted by key hash and children
live in fixed 16-slot lists.
"""

from __future__ import annotations

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
    STATE_NODE16,
    STATE_VALUE,
    ZERO_HASH,
    tag_state,
    tagged_hash,
)
from ledger.kv import KVReader

TREE_PREFIX = b"chain/tree/"  # everything the tree stores; never a state key
NODE_PREFIX = TREE_PREFIX + b"n/"
STALE_PREFIX = TREE_PREFIX + b"stale/"
FORMAT_KEY = TREE_PREFIX + b"format"

KIND_EMPTY = 0
KIND_LEAF = 1
KIND_INTERNAL = 2
KIND_BUCKET = 3  # a child slot holding 2..BUCKET_LEAVES leaves inline instead of a node
# First byte of a stored internal node and the stored format. Earlier releases wrote
# 02 and 04 (binary hashing inside each node): refused rather than misread.
STORED_INTERNAL = 5
FORMAT = bytes((STORED_INTERNAL,))

RADIX = 16
MAX_DEPTH = 64  # nibbles in a key hash
LEAF_SIZE = 2 * HASH_SIZE  # a leaf inside its parent: key_hash ‖ value_hash
NIBBLES = tuple(bytes((n,)) for n in range(RADIX))
_HEADER = 1 + RADIX  # marker ‖ kinds
_INTERNAL_SLOT = 8 + HASH_SIZE  # an internal child in its parent: version ‖ hash
# A subtree of at most this many leaves below a node is kept inside that node rather
# than as a node of its own: in a tree of n keys most subtrees at depth log16(n) + 1
# hold two to eight leaves, and each block would otherwise read, rewrite and retire
# hundreds or thousands of them.
BUCKET_LEAVES = 8


def key_hash(key: bytes) -> bytes:
    return tagged_hash(STATE_KEY, key)


# Key hashes of the keys written last. The same accounts' balances and nonces recur
# block after block, and hashing a key costs more than finding it here (0.6 µs
# against 0.04: about 2 µs of a transfer's three keys). A key's hash is a pure
# function of the key, so an entry is never wrong; the memo is emptied when full
# (about 7 MB at its bound).
KEY_HASH_MEMO = 1 << 15
_key_hashes: dict[bytes, bytes] = {}


def value_hash(value: bytes) -> bytes:
    return tagged_hash(STATE_VALUE, value)


_KEY_STATE = tag_state(STATE_KEY)
_VALUE_STATE = tag_state(STATE_VALUE)
_LEAF_STATE = tag_state(STATE_LEAF)
_NODE_STATE = tag_state(STATE_NODE16)


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


def node_hash(bitmap: int, children: Sequence[bytes]) -> bytes:
    """The node whose non-empty children (in nibble order) hash to `children`."""
    hasher = _NODE_STATE.copy()
    hasher.update(bitmap.to_bytes(2, "big"))
    hasher.update(b"".join(children))
    digest: bytes = hasher.digest()
    return digest


def nibble_at(digest: bytes, depth: int) -> int:
    """Nibble `depth` of a key hash, 0 being the high half of byte 0."""
    byte = digest[depth >> 1]
    return byte & 0x0F if depth & 1 else byte >> 4


def node_key(version: int, path: bytes) -> bytes:
    """Store key of the node at `path` (one byte per nibble) written at `version`."""
    return NODE_PREFIX + version.to_bytes(8, "big") + path


class TreeError(Exception):
    """The store does not hold the tree version asked for (pruned, never written, or
    written in another format)."""


class Node:
    """An internal node as its sixteen child slots.

    `kinds[n]` is the kind of the child at nibble n (0 empty, 1 one leaf, 2 an internal
    node, 3 a bucket); `slots[n]` its stored form (a leaf's key_hash ‖ value_hash, an
    internal child's version (8 bytes) ‖ hash, a bucket's hash ‖ count ‖ leaves);
    `hashes[n]` its hash, None for an empty child or a leaf whose hash is still to be
    computed (it is, only when the node is hashed). `digest` is the node's own hash,
    None while a change is not rehashed.
    """

    __slots__ = ("kinds", "hashes", "slots", "digest")

    def __init__(
        self,
        kinds: bytearray,
        hashes: list[bytes | None],
        slots: list[bytes | None],
        digest: bytes | None,
    ) -> None:
        self.kinds = kinds
        self.hashes = hashes
        self.slots = slots
        self.digest = digest

    @staticmethod
    def empty() -> Node:
        return Node(bytearray(RADIX), [None] * RADIX, [None] * RADIX, None)

    @staticmethod
    def decode(raw: bytes, digest: bytes | None = None) -> Node:
        """The node stored as `raw`, whose hash is `digest` when the caller knows it."""
        if raw[0] != STORED_INTERNAL:
            raise TreeError("not a state tree node of this format")
        kinds = bytearray(raw[1:_HEADER])
        hashes: list[bytes | None] = [None] * RADIX
        slots: list[bytes | None] = [None] * RADIX
        offset = _HEADER
        for nibble, kind in enumerate(kinds):
            if kind:
                if kind == KIND_LEAF:
                    end = offset + LEAF_SIZE
                elif kind == KIND_INTERNAL:
                    end = offset + _INTERNAL_SLOT
                    hashes[nibble] = raw[offset + 8 : end]
                else:  # a bucket: its hash, its count, its leaves
                    end = offset + HASH_SIZE + 1 + LEAF_SIZE * raw[offset + HASH_SIZE]
                    hashes[nibble] = raw[offset : offset + HASH_SIZE]
                slots[nibble] = raw[offset:end]
                offset = end
        return Node(kinds, hashes, slots, digest)

    def encode(self) -> bytes:
        return b"".join([FORMAT, self.kinds, *filter(None, self.slots)])

    def copy(self) -> Node:
        return Node(bytearray(self.kinds), list(self.hashes), list(self.slots), self.digest)

    def slot(self, nibble: int) -> bytes:
        chunk = self.slots[nibble]
        if chunk is None:  # unreachable: callers ask only for non-empty slots
            raise TreeError("empty state tree slot")
        return chunk

    def version_of(self, nibble: int) -> int:
        """The version an internal child was written at."""
        return int.from_bytes(self.slot(nibble)[:8], "big")

    def child_hash(self, nibble: int) -> bytes:
        known = self.hashes[nibble]
        if known is None:
            known = self.hashes[nibble] = _leaf_digest(self.slot(nibble))
        return known

    def bitmap(self) -> int:
        bitmap = 0
        for nibble, kind in enumerate(self.kinds):
            if kind:
                bitmap |= 1 << nibble
        return bitmap

    def rehash(self) -> bytes:
        """The node's hash from its children's (computing the leaves' still missing)."""
        hashes, slots = self.hashes, self.slots
        bitmap = 0
        parts: list[bytes] = []
        for nibble, kind in enumerate(self.kinds):
            if kind:
                bitmap |= 1 << nibble
                known = hashes[nibble]
                if known is None:
                    hasher = _LEAF_STATE.copy()
                    hasher.update(slots[nibble])
                    known = hashes[nibble] = hasher.digest()
                parts.append(known)
        hasher = _NODE_STATE.copy()
        hasher.update(bitmap.to_bytes(2, "big"))
        hasher.update(b"".join(parts))
        digest: bytes = hasher.digest()
        self.digest = digest
        return digest

    def set_child(self, nibble: int, result: _Result) -> None:
        if result is None:
            self.kinds[nibble] = KIND_EMPTY
            self.hashes[nibble] = None
            self.slots[nibble] = None
        elif isinstance(result, bytes):
            if len(result) == LEAF_SIZE:
                self.kinds[nibble] = KIND_LEAF
                self.hashes[nibble] = None
            else:
                self.kinds[nibble] = KIND_BUCKET
                self.hashes[nibble] = result[:HASH_SIZE]
            self.slots[nibble] = result
        else:
            version, digest = result
            self.kinds[nibble] = KIND_INTERNAL
            self.hashes[nibble] = digest
            self.slots[nibble] = version.to_bytes(8, "big") + digest


# Decoded top nodes by their stored bytes, for proofs and the check of a version's root.
# Decoding is a pure function of the bytes, so this memo can never give a wrong node,
# whatever store or version the bytes came from; it saves decoding the root and its
# children (and hashing their leaves) for each proof. A block's update does not decode
# nodes (`_Batch.apply`).
MEMO_DEPTH = 1
DECODED_NODES = 1 << 8
_decoded: OrderedDict[bytes, Node] = OrderedDict()

# A node's bitmap and the hashes of its non-empty children (packed, in nibble order:
# what the node's own hash is taken over), by the node's own hash. A node's hash
# commits to its children's hashes, whatever version or path it is stored under: an
# entry can only ever be right, across versions, blocks that were executed and never
# committed, pruning and restarts (nothing is kept on disk). With it, a block through a
# node splices in the hashes of the children it changes and hashes the node once, not
# every leaf the node holds. Each node a block writes is added, the one it replaces
# dropped, so the memo holds the live tree's nodes, the least recently written going
# first when it is full.
# A node's entry (its children's hashes, the 32-byte key, the dict's share) and a
# bucket's: the bound is a number of entries in each memo.
HASH_MEMO_ENTRY_BYTES = 640
DEFAULT_HASH_MEMO_BYTES = 96 * 1024 * 1024
_hash_memo: OrderedDict[bytes, bytes] = OrderedDict()
_hash_memo_entries = DEFAULT_HASH_MEMO_BYTES // HASH_MEMO_ENTRY_BYTES


def set_hash_memo_bytes(limit: int) -> None:
    """Bound the memos of leaf hashes (of nodes and of buckets) to about `limit` bytes
    (0 turns them off); a tree of n keys has about n / 15 nodes and up to n / 4
    buckets, so n * 160 bytes keep all of them."""
    global _hash_memo_entries
    if limit < 0:
        raise ValueError("the memo bound is a number of bytes")
    _hash_memo_entries = limit // HASH_MEMO_ENTRY_BYTES
    _trim_hash_memo()


def hash_memo_size() -> int:
    """Nodes whose children's hashes the memo holds."""
    return len(_hash_memo)


def memoised_hashes(digest: bytes) -> bytes | None:
    """The bitmap (2 bytes) and the children's hashes (packed, in nibble order) the memo
    holds for the node hashing to `digest`: the node's hash is taken over them."""
    return _hash_memo.get(digest)


def clear_hash_memo() -> None:
    """Forget every memoised node, bucket and key hash (what a restart does)."""
    _hash_memo.clear()
    _bucket_memo.clear()
    _key_hashes.clear()


def _trim_hash_memo() -> None:
    with suppress(KeyError):  # another thread emptied it meanwhile
        while len(_hash_memo) > _hash_memo_entries:
            _hash_memo.popitem(last=False)
        while len(_bucket_memo) > _hash_memo_entries:
            _bucket_memo.popitem(last=False)


def _memo_hashes(digest: bytes, children: bytes) -> None:
    """Remember the bitmap and the children's hashes of the node hashing to `digest`."""
    if _hash_memo_entries:
        _hash_memo[digest] = children
        if len(_hash_memo) > _hash_memo_entries:
            _trim_hash_memo()


def _remember(raw: bytes, node: Node) -> None:
    if node.digest is None or None in node.hashes:
        node.rehash()  # every leaf hash, once, rather than in each copy handed out
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
        if node.kinds[nibble] == KIND_INTERNAL
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


def _alone(node: Node) -> tuple[bool, bytes | None]:
    """(True, what the node becomes) when it has no child or a single leaf child, which
    floats up (the node is not a node); (False, None) otherwise."""
    kinds = node.kinds
    empty = kinds.count(KIND_EMPTY)
    if empty == RADIX:
        return True, None
    if empty == RADIX - 1:
        nibble = _only(kinds)
        if kinds[nibble] == KIND_LEAF:
            return True, node.slots[nibble]
    return False, None


def _only(kinds: bytearray) -> int:
    """The nibble of the one non-empty child."""
    for nibble, kind in enumerate(kinds):
        if kind:
            return nibble
    raise TreeError("a node without children")  # unreachable: callers check


class _Batch:
    """One version's update: the nodes it writes and the nodes it makes stale."""

    def __init__(self, reader: KVReader, version: int) -> None:
        self.reader = reader
        self.version = version
        self.prefix = node_key(version, b"")
        self.version_bytes = version.to_bytes(8, "big")
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

    def write(self, path: bytes, node: Node, digest: bytes) -> _Result:
        """Store the fresh `node` (hashed to `digest`) at `path` in this version."""
        self.writes[self.prefix + path] = node.encode()
        _memo_hashes(digest, _memo_entry(node))
        return self.version, digest

    def close(self, path: bytes, node: Node) -> _Result:
        """What a new `node` becomes: nothing, a leaf floating up, or a written node."""
        alone, result = _alone(node)
        if alone:
            return result
        return self.write(path, node, node.rehash())

    def build(self, path: bytes, leaves: Sequence[bytes]) -> _Result:
        """A fresh subtree holding exactly `leaves` (sorted, distinct key hashes)."""
        if not leaves:
            return None
        if len(leaves) == 1:
            return leaves[0]
        if len(leaves) <= BUCKET_LEAVES and path:
            return _bucket(leaves, len(path))
        depth = len(path)
        if depth >= MAX_DEPTH:
            raise TreeError("two updates share a key hash")
        node = Node.empty()
        for nibble, group in _groups(leaves, depth):
            node.set_child(nibble, self.build(path + NIBBLES[nibble], group))
        return self.close(path, node)

    def merge(self, path: bytes, leaves: list[bytes], updates: Sequence[Update]) -> _Result:
        """The subtree at `path`, holding only `leaves` (sorted; the list is changed),
        after `updates`."""
        leaves = _merged(leaves, updates)
        count = len(leaves)
        if count <= 1:
            return leaves[0] if leaves else None
        if count <= BUCKET_LEAVES and path:
            return _bucket(leaves, len(path))
        return self.build(path, leaves)

    def apply(
        self,
        version: int,
        path: bytes,
        stored: bytes,
        raw: bytes,
        before: bytes,
        updates: Sequence[Update],
    ) -> _Result:
        """The subtree at `path` (the internal node stored as `raw` at `version` under
        the key `stored`, hashing to `before`) after `updates`.

        The node is never decoded: the slots a block changes are cut out of its stored
        bytes and the new ones put in their place, and the node is hashed once, over
        its children's hashes with the changed ones spliced in (from the memo, by
        `before`; a node it does not hold hashes its children once). This runs for
        every node a block writes: at a million keys, one bottom node per written key.
        """
        if raw[0] != STORED_INTERNAL:
            raise TreeError("not a state tree node of this format")
        packed = _hash_memo.get(before)
        if packed is None:
            packed = _child_hashes(raw)
        depth = len(path)
        child_depth = depth + 1
        # Where a slot starts: from the kinds before it, with fixed-size slots only
        # (three byte counts), or from every slot's size when the node holds buckets.
        groups = _groups(updates, depth)
        offsets = None
        if groups and raw.find(KIND_BUCKET, 1, _HEADER) >= 0:
            offsets = _slot_offsets(raw, groups[-1][0] + 1)
        # The new node's bytes and memo entry, pieced together in nibble order: the
        # header and the bitmap go first once known, the unchanged runs between the
        # changed slots (and hashes) are cut from the old ones.
        parts: list[bytes | bytearray] = [b""]
        hashes: list[bytes] = [b""]
        at, hashed = _HEADER, 2
        kinds: bytearray | None = None  # new kinds, once a child comes, goes or changes kind
        for nibble, group in groups:
            kind = raw[1 + nibble]
            if offsets is None:
                start = (
                    _HEADER
                    + LEAF_SIZE * raw.count(KIND_LEAF, 1, 1 + nibble)
                    + _INTERNAL_SLOT * raw.count(KIND_INTERNAL, 1, 1 + nibble)
                )
            else:
                start = offsets[nibble]
            result: _Result
            if kind == KIND_LEAF:
                end = start + LEAF_SIZE
                update = group[0]
                if (
                    len(group) == 1
                    and len(update) == LEAF_SIZE
                    and raw.startswith(update[:HASH_SIZE], start)
                ):
                    # a key's new value: the leaf stays where it is
                    if raw.startswith(update, start):
                        continue
                    hasher = _LEAF_STATE.copy()
                    hasher.update(update)
                    new_kind, slot, digest = KIND_LEAF, update, hasher.digest()
                else:
                    result = self.merge(path + NIBBLES[nibble], [raw[start:end]], group)
                    new_kind, slot, digest = _slot_of(result)
            elif kind == KIND_INTERNAL:
                end = start + _INTERNAL_SLOT
                child_path = path + NIBBLES[nibble]
                child_key = NODE_PREFIX + raw[start : start + 8] + child_path
                child = self.reader.get(child_key)
                if child is None:
                    missing = int.from_bytes(raw[start : start + 8], "big")
                    raise TreeError(f"state tree node missing at version {missing}")
                old = raw[start + 8 : end]
                child_version = int.from_bytes(raw[start : start + 8], "big")
                result = self.apply(child_version, child_path, child_key, child, old, group)
                if isinstance(result, tuple):
                    if result[1] == old:
                        continue  # written with the values it held: the same node
                    new_kind, digest = KIND_INTERNAL, result[1]
                    if result[0] == self.version:
                        slot = self.version_bytes + digest
                    else:
                        slot = result[0].to_bytes(8, "big") + digest
                else:
                    new_kind, slot, digest = _slot_of(result)
            elif kind == KIND_BUCKET:
                end = start + HASH_SIZE + 1 + LEAF_SIZE * raw[start + HASH_SIZE]
                chunk = raw[start:end]
                result = _update_bucket(chunk, group, child_depth)
                if result is _OVERFLOW:
                    child_path = path + NIBBLES[nibble]
                    result = self.build(child_path, _merged(_bucket_leaves(chunk), group))
                elif result == chunk:
                    continue
                if isinstance(result, bytes) and len(result) > LEAF_SIZE:
                    new_kind, slot, digest = KIND_BUCKET, result, result[:HASH_SIZE]
                else:
                    new_kind, slot, digest = _slot_of(result)
            else:
                end = start
                result = self.merge(path + NIBBLES[nibble], [], group)
                if result is None:
                    continue  # keys deleted that were not there
                new_kind, slot, digest = _slot_of(result)
            # cut the old slot and its hash out, put the new ones in
            parts.append(raw[at:start])
            parts.append(slot)
            at = end
            first = 2 + HASH_SIZE * (nibble - raw.count(KIND_EMPTY, 1, 1 + nibble))
            hashes.append(packed[hashed:first])
            hashes.append(digest)
            hashed = first + HASH_SIZE if kind else first
            if new_kind != kind:
                if kinds is None:
                    kinds = bytearray(raw[1:_HEADER])
                kinds[nibble] = new_kind
        if len(parts) == 1 and path:
            return version, before  # nothing changed: the stored node stays the version's
        parts.append(raw[at:])
        hashes.append(packed[hashed:])
        if kinds is None:
            parts[0] = raw[:_HEADER]
            hashes[0] = packed[:2]
        else:
            empty = kinds.count(KIND_EMPTY)
            if empty >= RADIX - 1 and (empty == RADIX or KIND_LEAF in kinds):
                # no child, or a single leaf, which floats up: the node is not a node
                self.retire(stored)
                _hash_memo.pop(before, None)
                return b"".join(parts[1:]) if empty < RADIX else None
            parts[0] = FORMAT + kinds
            hashes[0] = int(kinds[::-1].translate(_BITS), 2).to_bytes(2, "big")
        children = b"".join(hashes)  # the bitmap, the children's hashes
        hasher = _NODE_STATE.copy()
        hasher.update(children)
        digest = hasher.digest()
        if path and digest == before:
            # Written with the values it already held: the stored node stays the
            # version's node (the root is written for every version all the same;
            # a node's hash changes whenever anything below it does).
            return version, before
        self.retire(stored)
        _hash_memo.pop(before, None)
        self.writes[self.prefix + path] = b"".join(parts)
        _memo_hashes(digest, children)
        return self.version, digest


def _slot_of(result: _Result) -> tuple[int, bytes, bytes]:
    """The kind, slot and hash of what a child subtree became."""
    if result is None:
        return KIND_EMPTY, b"", b""
    if isinstance(result, bytes):
        if len(result) == LEAF_SIZE:
            return KIND_LEAF, result, _leaf_digest(result)
        return KIND_BUCKET, result, result[:HASH_SIZE]
    return KIND_INTERNAL, result[0].to_bytes(8, "big") + result[1], result[1]


# Byte of a node's kinds -> "0" for an empty child, "1" for any other: the kinds in
# reverse order, translated, are the bitmap in binary.
_BITS = bytes((0x30,)) + bytes((0x31,)) * 255
_SLOT_SIZES = (0, LEAF_SIZE, _INTERNAL_SLOT)


def _slot_offsets(raw: bytes, slots: int) -> list[int]:
    """Where each of the first `slots` child slots of the stored node `raw` starts."""
    offsets: list[int] = []
    offset = _HEADER
    for kind in raw[1 : 1 + slots]:
        offsets.append(offset)
        if kind == KIND_BUCKET:
            offset += HASH_SIZE + 1 + LEAF_SIZE * raw[offset + HASH_SIZE]
        else:
            offset += _SLOT_SIZES[kind]
    return offsets


def _child_hashes(raw: bytes) -> bytes:
    """The memo entry of the stored node `raw`, computing its leaves' hashes."""
    node = Node.decode(raw)
    node.rehash()
    return _memo_entry(node)


def _memo_entry(node: Node) -> bytes:
    """What the memo holds for a hashed node: its bitmap, its children's hashes."""
    bitmap = node.bitmap().to_bytes(2, "big")
    return b"".join([bitmap, *[digest for digest in node.hashes if digest is not None]])


def _bucket(leaves: Sequence[bytes], depth: int) -> bytes:
    """The slot form of a bucket whose leaves (sorted) share their first `depth`
    nibbles: its subtree hash ‖ the number of leaves ‖ the leaves."""
    return _bucket_slot(leaves, [_leaf_digest(leaf) for leaf in leaves], depth)


def _bucket_slot(leaves: Sequence[bytes], hashes: list[bytes], depth: int) -> bytes:
    """`_bucket` given the leaves' hashes, which it memoises by the bucket's hash."""
    count = len(leaves)
    # Usually every leaf has its own nibble here: one node over the leaves' hashes.
    index = depth >> 1
    bitmap = 0
    if depth & 1:
        for leaf in leaves:
            bitmap |= 1 << (leaf[index] & 0x0F)
    else:
        for leaf in leaves:
            bitmap |= 1 << (leaf[index] >> 4)
    if bitmap.bit_count() == count:
        entry = b"".join([bitmap.to_bytes(2, "big"), *hashes])
        hasher = _NODE_STATE.copy()
        hasher.update(entry)
        digest: bytes = hasher.digest()
    else:
        entry = b"".join([_NOT_FLAT, *hashes])
        digest = _subtree_hash(leaves, depth, hashes)
    if _hash_memo_entries:
        _bucket_memo[digest] = entry
        if len(_bucket_memo) > _hash_memo_entries:
            _trim_hash_memo()
    return b"".join([digest, _COUNTS[count], *leaves])


_COUNTS = tuple(bytes((count,)) for count in range(BUCKET_LEAVES + 1))
_OVERFLOW = b""  # what `_update_bucket` returns when the leaves no longer fit a bucket
_LEAF_OFFSETS = tuple(
    tuple(range(HASH_SIZE + 1, HASH_SIZE + 1 + LEAF_SIZE * count, LEAF_SIZE))
    for count in range(BUCKET_LEAVES + 1)
)
_HASH_OFFSETS = tuple(
    tuple(range(2, 2 + HASH_SIZE * count, HASH_SIZE)) for count in range(BUCKET_LEAVES + 1)
)
# The hashes of a bucket's leaves (packed, in order), by the bucket's hash, which commits
# to them: a block changing one leaf of a bucket hashes that leaf only. Each entry
# begins with the bitmap of the one node the bucket is when its leaves differ in their
# first nibble (what the bucket's hash is then taken over, with the leaves' hashes), or
# with `_NOT_FLAT` (two zero bytes, never a bitmap of two or more leaves). Bounded like
# the memo of nodes' hashes; an entry is taken out when its bucket is updated.
_bucket_memo: OrderedDict[bytes, bytes] = OrderedDict()
_NOT_FLAT = bytes(2)


def _bucket_leaves(chunk: bytes) -> list[bytes]:
    return [chunk[offset : offset + LEAF_SIZE] for offset in _LEAF_OFFSETS[chunk[HASH_SIZE]]]


def _merged(leaves: list[bytes], updates: Sequence[Update]) -> list[bytes]:
    """`leaves` (sorted; the list is changed) after `updates`: each key found by bisection
    (its hash alone sorts just before its leaf) and its leaf replaced, inserted or
    deleted in place."""
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
    return leaves


def _update_bucket(chunk: bytes, updates: Sequence[Update], depth: int) -> bytes | None:
    """What the bucket stored as `chunk`, at nibble depth `depth`, becomes after `updates`:
    a bucket's slot form, a lone leaf, nothing, or `_OVERFLOW` when it holds too many
    leaves (the caller makes it a node). `_merged` and `_bucket` in one, hashing only
    the leaves that change when the memo holds the others: this runs for most keys a
    block writes."""
    entry = _bucket_memo.pop(chunk[:HASH_SIZE], None)
    if entry is not None and entry[0] | entry[1]:
        spliced = _splice_bucket(chunk, entry, updates)
        if spliced is not None:
            return spliced
    count = chunk[HASH_SIZE]
    leaves = [chunk[offset : offset + LEAF_SIZE] for offset in _LEAF_OFFSETS[count]]
    if entry is None:
        hashes = [_leaf_digest(leaf) for leaf in leaves]
    else:
        hashes = [entry[offset : offset + HASH_SIZE] for offset in _HASH_OFFSETS[count]]
    leaf_state = _LEAF_STATE
    for update in updates:
        key = update[:HASH_SIZE]
        index = bisect_left(leaves, key)
        if index < count and leaves[index].startswith(key):
            if len(update) == HASH_SIZE:
                del leaves[index]
                del hashes[index]
                count -= 1
            elif leaves[index] != update:
                leaves[index] = update
                hasher = leaf_state.copy()
                hasher.update(update)
                hashes[index] = hasher.digest()
        elif len(update) != HASH_SIZE:
            leaves.insert(index, update)
            hasher = leaf_state.copy()
            hasher.update(update)
            hashes.insert(index, hasher.digest())
            count += 1
    if count <= 1:
        return leaves[0] if leaves else None
    if count > BUCKET_LEAVES:
        return _OVERFLOW
    return _bucket_slot(leaves, hashes, depth)


def _splice_bucket(chunk: bytes, entry: bytes, updates: Sequence[Update]) -> bytes | None:
    """What the bucket stored as `chunk` becomes when each update gives a key it holds a
    new value, or None when one does not (`entry` is its memo entry, of a bucket whose
    leaves differ in their first nibble): the keys keep their places, so the new leaves
    and their hashes are put in the old ones' and the bucket is hashed once. This is how
    most buckets a block touches change."""
    parts: list[bytes] = []
    hashes: list[bytes] = []
    at, hashed = HASH_SIZE, 0
    for update in updates:
        if len(update) != LEAF_SIZE:
            return None
        start = chunk.find(update[:HASH_SIZE], HASH_SIZE + 1)
        # a leaf begins 33 + 64 i bytes in; a key hash found elsewhere is not a key
        if start < 0 or (start - HASH_SIZE - 1) % LEAF_SIZE:
            return None
        if chunk.startswith(update, start):
            continue  # the value it holds
        parts.append(chunk[at:start])
        parts.append(update)
        at = start + LEAF_SIZE
        first = 2 + (start - HASH_SIZE - 1) // 2  # its hash, after the bitmap
        hashes.append(entry[hashed:first])
        hasher = _LEAF_STATE.copy()
        hasher.update(update)
        hashes.append(hasher.digest())
        hashed = first + HASH_SIZE
    if not parts:
        _bucket_memo[chunk[:HASH_SIZE]] = entry
        return chunk
    parts.append(chunk[at:])
    hashes.append(entry[hashed:])
    joined = b"".join(hashes)
    hasher = _NODE_STATE.copy()
    hasher.update(joined)  # the bitmap, the leaves' hashes
    digest: bytes = hasher.digest()
    if _hash_memo_entries:
        _bucket_memo[digest] = joined
        if len(_bucket_memo) > _hash_memo_entries:
            _trim_hash_memo()
    return digest + b"".join(parts)


def _subtree_hash(
    leaves: Sequence[bytes], depth: int, hashes: Sequence[bytes] | None = None
) -> bytes:
    """Hash of the subtree at nibble depth `depth` holding exactly `leaves` (sorted, at
    least one; `hashes` their hashes if known), all of which agree on their first
    `depth` nibbles (docs/protocol.md §6)."""
    count = len(leaves)
    if hashes is None:
        hashes = [_leaf_digest(leaf) for leaf in leaves]
    if count == 1:
        return hashes[0]
    if depth >= MAX_DEPTH:
        raise TreeError("two leaves share a key hash")
    index, odd = depth >> 1, depth & 1
    nibbles = [leaf[index] & 0x0F if odd else leaf[index] >> 4 for leaf in leaves]
    bitmap = 0
    parts = []
    start = 0
    while start < count:
        nibble = nibbles[start]
        end = start + 1
        while end < count and nibbles[end] == nibble:
            end += 1
        bitmap |= 1 << nibble
        if end == start + 1:
            parts.append(hashes[start])
        else:
            parts.append(_subtree_hash(leaves[start:end], depth + 1, hashes[start:end]))
        start = end
    return node_hash(bitmap, parts)


_BISECT_GROUPS = 64  # more items than this are split by bisection
_BYTES = tuple(bytes((byte,)) for byte in range(256))


def _groups(items: Sequence[bytes], depth: int) -> list[tuple[int, list[bytes]]]:
    """Split updates or leaves sorted by key hash by the nibble at `depth`, in nibble
    order."""
    index, odd = depth >> 1, depth & 1
    if len(items) == 1:  # a bottom node's usual update at a million keys
        byte = items[0][index]
        return [(byte & 0x0F if odd else byte >> 4, [items[0]])]
    groups: list[tuple[int, list[bytes]]] = []
    if len(items) > _BISECT_GROUPS:
        # Many items (a node near the root): find where each nibble's run begins by
        # bisection, with the smallest key hash whose nibble `depth` is the next one.
        first = items[0]
        head = first[:index]
        high = first[index] & 0xF0 if odd else 0
        start, count = 0, len(items)
        for nibble in range(RADIX):
            if nibble == RADIX - 1:
                end = count
            else:
                byte = high | (nibble + 1) if odd else (nibble + 1) << 4
                end = bisect_left(items, head + _BYTES[byte], start)
            if end > start:
                groups.append((nibble, list(items[start:end])))
                start = end
        return groups
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
        digest = _leaf_digest(raw[1 : 1 + LEAF_SIZE])
    else:
        digest = decode_node(raw).rehash()
    if digest != expected_root:
        raise TreeError(f"the state tree at version {version} does not match the root")
    return raw


def check_root(reader: KVReader, version: int, expected_root: bytes) -> None:
    """Raise TreeError unless the store holds `version`'s root, in this format, hashing
    to `expected_root` (a node opening its data directory checks its head this way)."""
    written = reader.get(node_key(version, b"")) is not None or expected_root != ZERO_HASH
    if written and reader.get(FORMAT_KEY) != FORMAT:
        raise TreeError(
            "the state tree in this data directory was written by an earlier release "
            "(another tree format)"
        )
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
    known = _key_hashes
    if len(known) + len(write_set) > KEY_HASH_MEMO:
        known.clear()
    remembered = known.get
    for key, value in write_set:
        digest = remembered(key)
        if digest is None:
            hasher = key_state.copy()
            hasher.update(key)
            digest = known[key] = hasher.digest()
        if value is None:
            append(digest)
        else:
            hasher = value_state.copy()
            hasher.update(value)
            append(digest + hasher.digest())
    if len(known) > KEY_HASH_MEMO:  # a write-set larger than the memo (genesis)
        known.clear()
    updates.sort()
    batch = _Batch(reader, version)
    if version == 0:
        if prev_root != ZERO_HASH:
            raise TreeError("version 0 starts from the empty tree")
        previous = EMPTY_NODE
        batch.writes[FORMAT_KEY] = FORMAT
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
        result = batch.apply(version - 1, b"", stored_key, previous, prev_root, updates)
    root_key = node_key(version, b"")
    if result is None:
        batch.writes[root_key] = EMPTY_NODE
        return ZERO_HASH, batch.finish()
    if isinstance(result, bytes):
        batch.writes[root_key] = bytes((KIND_LEAF,)) + result
        return _leaf_digest(result), batch.finish()
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
PROOF_VERSION = 2
MAX_BITMAP = (1 << RADIX) - 1

Level = tuple[int, tuple[bytes, ...]]  # a node on the path: bitmap, siblings in nibble order


@dataclass(frozen=True, slots=True)
class StateProof:
    """A key's value (or its absence) under a state root.

        StateProof = [31, 2, key, value or nil, [key_hash, value_hash] or nil,
                      [[bitmap, [sibling, ...]], ...]]     (levels from the root down,
                                                            at most 64)

    Each level is a node on the key's path: its bitmap and the hashes of its non-empty
    children other than the one on the path, in nibble order. `leaf` is the leaf met
    where the path leaves the last node: the key's own (membership), another key's that
    shares the path so far (absence), or nil where the path meets an empty slot (absence).
    """

    key: bytes
    value: bytes | None
    leaf: tuple[bytes, bytes] | None
    levels: tuple[Level, ...]

    def to_list(self) -> list[Any]:
        return [
            TAG_STATE_PROOF,
            PROOF_VERSION,
            self.key,
            self.value,
            None if self.leaf is None else list(self.leaf),
            [[bitmap, list(siblings)] for bitmap, siblings in self.levels],
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
        levels = fields[5]
        if not isinstance(levels, list) or len(levels) > MAX_DEPTH:
            raise CodecError("bad_type", f"levels must be an array of at most {MAX_DEPTH}")
        decoded: list[Level] = []
        for item in levels:
            level = codec.expect_list(item, 2, "level")
            bitmap = codec.expect_int(level[0], "bitmap", 1, MAX_BITMAP)
            siblings = level[1]
            if not isinstance(siblings, list) or len(siblings) > RADIX - 1:
                raise CodecError("bad_type", "siblings must be an array of at most 15")
            decoded.append(
                (bitmap, tuple(codec.expect_bytes(s, "sibling", HASH_SIZE) for s in siblings))
            )
        return StateProof(key, stored, leaf, tuple(decoded))

    @staticmethod
    def decode(data: bytes) -> StateProof:
        return StateProof.from_list(codec.decode(data))

    def problem(self, root: bytes) -> str | None:
        """Why the proof does not show `value` (None: absence) at `key` under `root`, or
        None when it does."""
        digest = key_hash(self.key)
        depth = len(self.levels)
        if depth > MAX_DEPTH:
            return f"a state proof has at most {MAX_DEPTH} levels"
        if self.value is not None:
            if self.leaf is None or self.leaf != (digest, value_hash(self.value)):
                return "the proof's leaf is not this key with this value"
        elif self.leaf is not None:
            other = self.leaf[0]
            if other == digest:
                return "the key is present: this cannot prove its absence"
            if any(nibble_at(other, i) != nibble_at(digest, i) for i in range(depth)):
                return "the proof's leaf is not on this key's path"
        current = None if self.leaf is None else leaf_hash(*self.leaf)
        for level in range(depth - 1, -1, -1):
            bitmap, siblings = self.levels[level]
            if not 0 < bitmap <= MAX_BITMAP:
                return "a bitmap is not 1 to 65535"
            nibble = nibble_at(digest, level)
            on_path = (bitmap >> nibble) & 1
            if current is None:
                if on_path:
                    return "the path's child is in the bitmap but the proof ends empty"
            elif not on_path:
                return "the path's child is not in the bitmap"
            children = bin(bitmap).count("1")
            if len(siblings) != children - on_path:
                return "the siblings do not match the bitmap"
            if children == 1 and level == depth - 1 and current is not None:
                return "a node with a single leaf (the leaf sits in the node's place)"
            parts: list[bytes] = []
            given = iter(siblings)
            for child in range(RADIX):
                if (bitmap >> child) & 1:
                    parts.append(current if child == nibble else next(given))  # type: ignore[arg-type]
            current = node_hash(bitmap, parts)
        if current is None:
            current = ZERO_HASH  # no level and no leaf: the empty tree
        return None if current == root else "the state proof does not lead to the state root"

    def verify(self, root: bytes) -> bool:
        """True when the proof shows `value` (None: absence) at `key` under `root`."""
        return self.problem(root) is None


def _level(node: Node, nibble: int) -> Level:
    """The proof level of `node` for a path through `nibble`."""
    return node.bitmap(), tuple(
        node.child_hash(child) for child in range(RADIX) if child != nibble and node.kinds[child]
    )


def _bucket_levels(
    leaves: Sequence[bytes], depth: int, digest: bytes
) -> tuple[list[Level], bytes | None]:
    """Walk `digest`'s path through a bucket from nibble `depth`: the levels (top-down)
    and the leaf where the path ends alone, or None where it meets an empty slot."""
    levels: list[Level] = []
    while len(leaves) > 1:
        nibble = nibble_at(digest, depth)
        bitmap, siblings, ours = 0, [], []
        for child, group in _groups(leaves, depth):
            bitmap |= 1 << child
            if child == nibble:
                ours = group
            else:
                siblings.append(_subtree_hash(group, depth + 1))
        levels.append((bitmap, tuple(siblings)))
        if not ours:
            return levels, None
        leaves, depth = ours, depth + 1
    return levels, leaves[0]


def prove(
    reader: KVReader, version: int, root: bytes, key: bytes, value: bytes | None
) -> StateProof:
    """Proof for `key` at `version` (whose root is `root`); `value` is the key's value
    in that version (from the state store), None when absent."""
    digest = key_hash(key)
    raw = _root(reader, version, root)
    levels: list[Level] = []
    leaf: bytes | None = None
    if raw[0] == KIND_LEAF:
        leaf = raw[1 : 1 + LEAF_SIZE]
    elif raw[0] == STORED_INTERNAL:
        node = decode_node(raw)
        path = b""
        while True:
            nibble = nibble_at(digest, len(path))
            levels.append(_level(node, nibble))
            kind = node.kinds[nibble]
            if kind == KIND_LEAF:
                leaf = node.slot(nibble)
                break
            if kind == KIND_EMPTY:
                break
            if kind == KIND_BUCKET:
                inside, leaf = _bucket_levels(
                    _bucket_leaves(node.slot(nibble)), len(path) + 1, digest
                )
                levels.extend(inside)
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
    return StateProof(key, value, pair, tuple(levels))
