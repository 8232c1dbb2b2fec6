"""Domain-separated sha256.

Every hash names what it hashes: sha256(len(tag) ‖ tag ‖ data), so a transaction
hash can never collide with a block hash or a Merkle node of the same bytes.
"""

from __future__ import annotations

import hashlib
from typing import Any

HASH_SIZE = 32
ZERO_HASH = bytes(HASH_SIZE)

# Domain tags. Changing one is a hard fork.
TX = b"pasar/tx"
BLOCK = b"pasar/block"
RECEIPT = b"pasar/receipt"
MERKLE_LEAF = b"pasar/merkle/leaf"
MERKLE_NODE = b"pasar/merkle/node"
STATE_KEY = b"pasar/state/key"
STATE_VALUE = b"pasar/state/value"
STATE_LEAF = b"pasar/state/leaf"
STATE_NODE16 = b"pasar/state/node16"
VALIDATOR_SET = b"pasar/validators"
CERTIFICATE = b"pasar/certificate"
CONSENSUS_MSG = b"pasar/consensus"
COMMIT_VOTE = b"pasar/commit"
ADDRESS = b"pasar/address"
PEER_CHALLENGE = b"pasar/peer-challenge"


_PREFIXED: dict[bytes, Any] = {}  # tag -> sha256 state that has absorbed len(tag) ‖ tag


def tag_state(tag: bytes) -> Any:
    """A sha256 state that has absorbed len(tag) ‖ tag: `.copy()`, update with the data
    and digest it to get `tagged_hash(tag, data)` (for loops that hash thousands of
    items under one tag)."""
    prefixed = _PREFIXED.get(tag)
    if prefixed is None:
        if len(tag) > 255:
            raise ValueError("domain tag too long")
        prefixed = hashlib.sha256(bytes([len(tag)]) + tag)
        if len(_PREFIXED) < 256:  # tags are constants; the bound only guards misuse
            _PREFIXED[tag] = prefixed
    return prefixed


def tagged_hash(tag: bytes, data: bytes) -> bytes:
    """sha256 over a one-byte tag length, the tag and the data."""
    prefixed = _PREFIXED.get(tag)
    if prefixed is None:
        prefixed = tag_state(tag)
    # Copying a state that already absorbed the prefix is cheaper than hashing it
    # again, and this runs for every transaction, receipt and Merkle node.
    h = prefixed.copy()
    h.update(data)
    digest: bytes = h.digest()
    return digest
