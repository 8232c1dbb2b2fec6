"""Domain-separated sha256.

Every hash names what it hashes: sha256(len(tag) ‖ tag ‖ data), so a transaction
hash can never collide with a block hash or a Merkle node of the same bytes.
"""

from __future__ import annotations

import hashlib

HASH_SIZE = 32
ZERO_HASH = bytes(HASH_SIZE)

# Domain tags. Changing one is a hard fork.
TX = b"pasar/tx"
BLOCK = b"pasar/block"
RECEIPT = b"pasar/receipt"
MERKLE_LEAF = b"pasar/merkle/leaf"
MERKLE_NODE = b"pasar/merkle/node"
STATE = b"pasar/state"
WRITE_SET = b"pasar/writeset"
VALIDATOR_SET = b"pasar/validators"
CERTIFICATE = b"pasar/certificate"
CONSENSUS_MSG = b"pasar/consensus"
COMMIT_VOTE = b"pasar/commit"
ADDRESS = b"pasar/address"
PEER_CHALLENGE = b"pasar/peer-challenge"


def tagged_hash(tag: bytes, data: bytes) -> bytes:
    """sha256 over a one-byte tag length, the tag and the data."""
    if len(tag) > 255:
        raise ValueError("domain tag too long")
    h = hashlib.sha256()
    h.update(bytes([len(tag)]))
    h.update(tag)
    h.update(data)
    return h.digest()
