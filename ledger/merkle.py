"""Merkle roots over ordered leaves, with inclusion proofs a client checks offline.

The tree follows the RFC 6962 shape: the left subtree holds the largest power of
two strictly below the leaf count, so proofs are at most log2(n) hashes and no
leaf is duplicated (which would allow two lists to share a root). Leaves and
inner nodes hash under different domain tags.

An `InclusionProof` carries the leaf index and the leaf count as well as the
siblings: the count fixes the path's shape (RFC 9162 audit paths), and the
verifier compares it with the count the block header commits to, so a proof
for leaf 1 of 4 cannot pass as leaf 1 of 3.

    InclusionProof = [30, 1, index, count, [sibling, ...]]   (siblings bottom-up)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ledger import codec
from ledger.errors import CodecError
from ledger.hashing import HASH_SIZE, MERKLE_LEAF, MERKLE_NODE, ZERO_HASH, tag_state, tagged_hash

TAG_INCLUSION_PROOF = 30
PROOF_VERSION = 1
MAX_LEAVES = (1 << 32) - 1
MAX_PATH = 32  # siblings in a proof over at most 2^32 - 1 leaves


def leaf_hash(data: bytes) -> bytes:
    return tagged_hash(MERKLE_LEAF, data)


def node_hash(left: bytes, right: bytes) -> bytes:
    return tagged_hash(MERKLE_NODE, left + right)


def _split(count: int) -> int:
    k = 1
    while k * 2 < count:
        k *= 2
    return k


def _root_of_hashes(hashes: Sequence[bytes]) -> bytes:
    # Pairing neighbours level by level, and lifting an unpaired last node to the
    # next level unchanged, builds exactly the tree of the "largest power of two
    # below n" split described above, without recursion or slicing. Each node is
    # `node_hash` written out (a block root hashes thousands of them).
    prefixed = tag_state(MERKLE_NODE)
    level = list(hashes)
    while len(level) > 1:
        paired = []
        for i in range(0, len(level) - 1, 2):
            h = prefixed.copy()
            h.update(level[i])
            h.update(level[i + 1])
            paired.append(h.digest())
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """Root of the leaves; the empty list has the all-zero root."""
    if not leaves:
        return ZERO_HASH
    prefixed = tag_state(MERKLE_LEAF)
    hashes = []
    for leaf in leaves:  # `leaf_hash` written out, as in `_root_of_hashes`
        h = prefixed.copy()
        h.update(leaf)
        hashes.append(h.digest())
    return _root_of_hashes(hashes)


def merkle_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """Sibling hashes from the leaf up to the root for the leaf at `index`."""
    if not 0 <= index < len(leaves):
        raise IndexError("leaf index out of range")
    hashes = [leaf_hash(leaf) for leaf in leaves]
    path: list[bytes] = []
    _collect(hashes, index, path)
    return path


def _collect(hashes: Sequence[bytes], index: int, path: list[bytes]) -> None:
    if len(hashes) == 1:
        return
    k = _split(len(hashes))
    if index < k:
        _collect(hashes[:k], index, path)
        path.append(_root_of_hashes(hashes[k:]))
    else:
        _collect(hashes[k:], index - k, path)
        path.append(_root_of_hashes(hashes[:k]))


def verify_proof(root: bytes, leaf: bytes, index: int, count: int, proof: Sequence[bytes]) -> bool:
    """True when `leaf` is at `index` of a `count`-leaf list whose root is `root`."""
    if not 0 <= index < count:
        return False
    computed = _fold(leaf_hash(leaf), index, count, list(proof))
    return computed is not None and computed == root


def _fold(current: bytes, index: int, count: int, proof: list[bytes]) -> bytes | None:
    # Walk down to find at each level which side the leaf is on, then hash upwards
    # consuming the proof from the deepest sibling.
    sides: list[bool] = []  # True when the sibling is on the right
    while count > 1:
        k = _split(count)
        if index < k:
            sides.append(True)
            count = k
        else:
            sides.append(False)
            index -= k
            count -= k
    if len(sides) != len(proof):
        return None
    for sibling_on_right, sibling in zip(reversed(sides), proof, strict=True):
        current = node_hash(current, sibling) if sibling_on_right else node_hash(sibling, current)
    return current


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """Where a leaf sits (index of count) and the sibling hashes up to the root."""

    index: int
    count: int
    siblings: tuple[bytes, ...]

    def to_list(self) -> list[Any]:
        return [TAG_INCLUSION_PROOF, PROOF_VERSION, self.index, self.count, list(self.siblings)]

    @staticmethod
    def from_list(value: Any) -> InclusionProof:
        fields = codec.expect_list(value, 5, "inclusion proof")
        expect_tag(fields, TAG_INCLUSION_PROOF, "inclusion proof")
        siblings = fields[4]
        if not isinstance(siblings, list) or len(siblings) > MAX_PATH:
            raise CodecError("bad_type", f"siblings must be an array of at most {MAX_PATH}")
        return InclusionProof(
            index=codec.expect_int(fields[2], "index", 0, MAX_LEAVES),
            count=codec.expect_int(fields[3], "count", 0, MAX_LEAVES),
            siblings=tuple(codec.expect_bytes(item, "sibling", HASH_SIZE) for item in siblings),
        )

    def verify(self, root: bytes, leaf: bytes, committed_count: int) -> bool:
        """True when `leaf` is leaf `index` of the `committed_count` leaves under `root`."""
        if self.count != committed_count:
            return False
        return verify_proof(root, leaf, self.index, self.count, self.siblings)


def inclusion_proof(leaves: Sequence[bytes], index: int) -> InclusionProof:
    """The proof object for the leaf at `index`."""
    return InclusionProof(index, len(leaves), tuple(merkle_proof(leaves, index)))


def expect_tag(fields: list[Any], tag: int, what: str) -> None:
    """Check an object's [tag, version] prefix (integers, never booleans)."""
    if isinstance(fields[0], bool) or fields[0] != tag:
        raise CodecError("bad_tag", f"not a {what}")
    if isinstance(fields[1], bool) or fields[1] != PROOF_VERSION:
        raise CodecError("bad_version", f"unsupported {what} version {fields[1]!r}")
