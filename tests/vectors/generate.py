"""Generate the protocol test vectors in this directory (JSON, one file per topic).

Run from the repository root:  python tests/vectors/generate.py
`test_protocol_vectors.py` recomputes every vector and compares, so any change to the
encoding, hashing or signing rules shows up as a failing test (and, if the change
is intended, as a diff of these files).

Values are written in a typed JSON form so no information is lost:
{"int": "<decimal>"}, {"bytes": "<hex>"}, {"str": "..."}, {"bool": true|false},
null, and {"list": [...]}.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ledger import codec  # noqa: E402
from ledger.block import (  # noqa: E402
    Block,
    BlockHeader,
    CommitCertificate,
    commit_vote_digest,
    sign_commit_vote,
    validator_set_hash,
)
from ledger.bundle import (  # noqa: E402
    GovernanceEvidence,
    TrustAnchor,
    TxBundle,
    ValidatorChange,
    ValidatorSkip,
    verify_state_bundle,
    verify_tx_bundle,
)
from ledger.chainstore import find_tx  # noqa: E402
from ledger.execution import end_block_receipt, receipts_root  # noqa: E402
from ledger.hashing import (  # noqa: E402
    BLOCK,
    COMMIT_VOTE,
    TX,
    ZERO_HASH,
    tagged_hash,
)
from ledger.keys import PrivateKey, address_to_text, signing_message  # noqa: E402
from ledger.kv import MemoryStore  # noqa: E402
from ledger.merkle import InclusionProof, inclusion_proof, merkle_proof, merkle_root  # noqa: E402
from ledger.prover import included, state_bundle, tx_bundle  # noqa: E402
from ledger.receipt import Event, Receipt  # noqa: E402
from ledger.state_tree import (  # noqa: E402
    StateProof,
    key_hash,
    leaf_hash,
    nibble_at,
    prove,
    update_tree,
    value_hash,
)
from ledger.tx import Transaction  # noqa: E402

HERE = Path(__file__).resolve().parent
CHAIN_ID = "pasar-vectors"


def typed(value: Any) -> Any:
    """A canonical value in typed JSON form."""
    if value is None:
        return None
    if isinstance(value, bool):
        return {"bool": value}
    if isinstance(value, int):
        return {"int": str(value)}
    if isinstance(value, bytes):
        return {"bytes": value.hex()}
    if isinstance(value, str):
        return {"str": value}
    if isinstance(value, list | tuple):
        return {"list": [typed(item) for item in value]}
    raise TypeError(f"no typed JSON form for {type(value).__name__}")


def untyped(value: Any) -> Any:
    """The inverse of `typed`."""
    if value is None:
        return None
    ((kind, payload),) = value.items()
    if kind == "bool":
        return bool(payload)
    if kind == "int":
        return int(payload)
    if kind == "bytes":
        return bytes.fromhex(payload)
    if kind == "str":
        return str(payload)
    if kind == "list":
        return [untyped(item) for item in payload]
    raise ValueError(f"unknown typed JSON kind {kind!r}")


def seed(n: int) -> bytes:
    return bytes([n]) * 32


def key(n: int) -> PrivateKey:
    return PrivateKey.from_seed(seed(n))


def codec_vectors() -> dict[str, Any]:
    values: list[Any] = [
        0,
        1,
        127,
        128,
        255,
        256,
        65_535,
        65_536,
        2**32 - 1,
        2**32,
        2**64 - 1,
        -1,
        -32,
        -33,
        -128,
        -129,
        -(2**15),
        -(2**15) - 1,
        -(2**31) - 1,
        -(2**63),
        True,
        False,
        None,
        b"",
        b"\x00\x01\xff",
        b"x" * 256,
        "",
        "pasar",
        "harga Rp 10.000 ✓",
        "s" * 32,
        [],
        [1, [b"\x02", ["three"]], None],
        list(range(16)),
    ]
    rejected = [
        ("cc05", "uint8 for a value that fits a positive fixint"),
        ("d0ff", "int8 for -1, which is a negative fixint"),
        ("cd00ff", "uint16 for a value that fits uint8"),
        ("d903616263", "str8 for a string that fits fixstr"),
        ("c500017a", "bin16 for bytes that fit bin8"),
        ("dc000101", "array16 for an array that fits fixarray"),
        ("cb3ff8000000000000", "float64"),
        ("ca3fc00000", "float32"),
        ("81a16101", "map"),
        ("80", "empty map"),
        ("d40100", "extension type"),
        ("0100", "trailing byte"),
        ("92a161", "truncated array"),
        ("a2fffe", "str that is not UTF-8"),
        ("", "empty input"),
    ]
    return {
        "description": "Canonical msgpack: each value has exactly one accepted encoding.",
        "canonical": [
            {"value": typed(value), "hex": codec.encode(value).hex()} for value in values
        ],
        "rejected": [{"hex": data, "why": why} for data, why in rejected],
    }


def hashing_vectors() -> dict[str, Any]:
    cases = [(TX, b""), (BLOCK, b"abc"), (b"pasar/merkle/leaf", bytes(range(40)))]
    return {
        "description": "tagged_hash(tag, data) = sha256(len(tag) as one byte || tag || data)",
        "cases": [
            {"tag": tag.decode(), "data": data.hex(), "hash": tagged_hash(tag, data).hex()}
            for tag, data in cases
        ],
    }


def key_vectors() -> dict[str, Any]:
    digest = tagged_hash(TX, b"any digest")
    entries = []
    for n in (1, 2, 3, 0x42):
        private = key(n)
        entries.append(
            {
                "seed": seed(n).hex(),
                "public_key": private.public_key.hex(),
                "address": address_to_text(private.public_key),
                "sign": {
                    "domain": TX.decode(),
                    "chain_id": CHAIN_ID,
                    "digest": digest.hex(),
                    "message": signing_message(TX, CHAIN_ID, digest).hex(),
                    "signature": private.sign(TX, CHAIN_ID, digest).hex(),
                },
            }
        )
    return {
        "description": "Ed25519 seeds, public keys, address text and domain-bound signatures.",
        "keys": entries,
    }


def sample_transactions() -> list[Transaction]:
    alice, bob = key(1).public_key, key(2).public_key
    return [
        Transaction(CHAIN_ID, alice, 0, "coin.transfer", ("IDR", bob, 12_500), 0),
        Transaction(
            CHAIN_ID, alice, 1, "coin.transfer", ("IDR", bob, 2**40, "order #7"), 1_700_000_060_000
        ),
        Transaction(CHAIN_ID, bob, 0, "coin.create", ("GOLD", "Gold grams", 3, 10**9), 0),
    ]


def transaction_vectors() -> dict[str, Any]:
    signers = {key(1).public_key: key(1), key(2).public_key: key(2)}
    entries = []
    for tx in sample_transactions():
        stx = tx.sign(signers[tx.sender])
        entries.append(
            {
                "fields": typed(tx.to_list()),
                "unsigned_hex": tx.encode().hex(),
                "tx_hash": tx.hash.hex(),
                "signing_message": signing_message(TX, tx.chain_id, tx.hash).hex(),
                "signer_seed": signers[tx.sender].seed.hex(),
                "signature": stx.signatures[0][1].hex(),
                "signed_hex": stx.encode().hex(),
            }
        )
    return {
        "description": "Transactions: canonical bytes, tx hash, signing message, signature.",
        "transactions": entries,
    }


def envelope_vectors() -> dict[str, Any]:
    """Version 2 envelopes (several signers) and envelopes every decoder must refuse."""
    alice, phone, laptop = key(1), key(4), key(5)
    tx = Transaction(
        CHAIN_ID, alice.public_key, 7, "coin.transfer", ("IDR", key(2).public_key, 900)
    )
    unsigned = tx.to_list()
    by_phone, by_laptop = tx.signature_by(phone), tx.signature_by(laptop)
    by_alice = tx.signature_by(alice)
    ordered = sorted([by_phone, by_laptop])

    # the args of the unsigned transaction, and an array of 1,021 arrays: one value past
    # MAX_ARG_VALUES (the signature is the one over the valid transaction: the count
    # refuses it first)
    over_values = [*unsigned[:6], [*unsigned[6], [[]] * 1_021], unsigned[7]]

    def envelope(version: int, pairs: Any) -> str:
        return codec.encode([2, version, unsigned, pairs]).hex()

    valid = [tx.sign(phone, laptop), tx.sign(alice, phone), tx.sign(laptop)]
    rejected = [
        (envelope(2, [list(by_phone), list(by_phone)]), "duplicate_signer", "one key signs twice"),
        (envelope(2, [list(p) for p in reversed(ordered)]), "unsorted_signers", "keys descending"),
        (envelope(2, []), "no_signatures", "an empty signature list"),
        (envelope(2, [list(by_alice)]), "non_canonical", "the sender alone in version 2"),
        (envelope(3, [list(by_alice)]), "bad_version", "an unknown envelope version"),
        (envelope(2, [[phone.public_key, by_phone[1][:63]]]), "bad_length", "a short signature"),
        (
            codec.encode([2, 1, over_values, by_alice[1]]).hex(),
            "too_many_values",
            "args holding 1,025 values (a memo of 1,021 empty arrays)",
        ),
    ]
    return {
        "description": "Signed transaction envelopes: version 1 is the sender's signature alone,"
        " version 2 a list of [public_key, signature] sorted by key, each key once.",
        "chain_id": CHAIN_ID,
        "unsigned": typed(unsigned),
        "tx_hash": tx.hash.hex(),
        "signer_seeds": {
            "sender": alice.seed.hex(),
            "phone": phone.seed.hex(),
            "laptop": laptop.seed.hex(),
        },
        "valid": [
            {
                "signers": [signer.hex() for signer in stx.signers],
                "version": stx.version,
                "signed_hex": stx.encode().hex(),
            }
            for stx in valid
        ],
        "rejected": [{"hex": data, "code": code, "why": why} for data, code, why in rejected],
    }


def authorization_outcomes(
    policy: list[Any], transactions: list[Any], timestamp_ms: int
) -> list[tuple[str, str]]:
    """(code, message) of each transaction run alone on a state holding `policy` and a
    balance of 10^6 IDR for the sender."""
    from contracts.account import policy_key
    from contracts.coin import Asset, asset_key, balance_key
    from contracts.registry import APPLICATION
    from ledger.execution import BlockInfo, apply_block
    from ledger.kv import MemoryStore

    outcomes = []
    for stx in transactions:
        store = MemoryStore()
        sender = stx.tx.sender
        asset = Asset("IDR", "rupiah", 2, sender, 10**12, 10**6, "open")
        store.write(
            {
                policy_key(sender): codec.encode(policy),
                asset_key("IDR"): codec.encode(asset.to_list()),
                balance_key(sender, "IDR"): codec.encode(10**6),
            }
        )
        info = BlockInfo(CHAIN_ID, 1, timestamp_ms, key(0x10).public_key)
        receipt = apply_block(APPLICATION, store, info, [stx], ZERO_HASH).receipts[0]
        outcomes.append((receipt.code, receipt.message))
    return outcomes


def authorization_vectors() -> dict[str, Any]:
    """Who may sign for an account with a policy: executed outcomes, including refusals."""
    alice, phone, laptop, shop, stranger = key(1), key(4), key(5), key(6), key(7)
    bob = key(2).public_key
    keys = sorted([[alice.public_key, 1], [phone.public_key, 1], [laptop.public_key, 1]])
    policy = [keys, [1, 2, 3], 10_000, [[shop.public_key, ["invoice.create"], None]], None]

    def tx(nonce: int, method: str, *args: Any) -> Transaction:
        return Transaction(CHAIN_ID, alice.public_key, nonce, method, args)

    transfer = tx(0, "coin.transfer", "IDR", bob, 500)
    invoice = tx(0, "invoice.create", "IDR", 500, 1_700_000_600_000, "ref", b"")
    cases = [
        ("two of three keys sign a medium transfer", transfer.sign(phone, laptop)),
        ("one key alone: below the medium threshold", transfer.sign(phone)),
        ("a key outside the policy", transfer.sign(phone, stranger)),
        (
            "a large transfer needs the high threshold",
            tx(0, "coin.transfer", "IDR", bob, 10_001).sign(phone, laptop),
        ),
        ("the scoped key within its methods", invoice.sign(shop)),
        ("the scoped key outside its methods", transfer.sign(shop)),
        ("a scoped key signs alone", invoice.sign(shop, phone)),
    ]
    outcomes = authorization_outcomes(policy, [stx for _, stx in cases], 1_700_000_000_000)
    return {
        "description": "Authorization under an account policy (state key account/policy/<sender>"
        " holds `policy`, the sender holds 10^6 of an open asset IDR); each transaction runs alone"
        " in a block at `timestamp_ms`.",
        "chain_id": CHAIN_ID,
        "timestamp_ms": 1_700_000_000_000,
        "account": alice.public_key.hex(),
        "policy": typed(policy),
        "cases": [
            {"why": why, "signed_hex": stx.encode().hex(), "code": code, "message": message}
            for (why, stx), (code, message) in zip(cases, outcomes, strict=True)
        ],
    }


def merkle_vectors() -> dict[str, Any]:
    trees = []
    for count in (0, 1, 2, 3, 5, 8):
        leaves = [f"leaf {i}".encode() for i in range(count)]
        trees.append(
            {
                "leaves": [leaf.hex() for leaf in leaves],
                "root": merkle_root(leaves).hex(),
                "proofs": [
                    [sibling.hex() for sibling in merkle_proof(leaves, index)]
                    for index in range(count)
                ],
            }
        )
    return {
        "description": "Merkle roots (RFC 6962 shape, pasar tags) and inclusion proofs.",
        "trees": trees,
        "proof_objects": proof_object_vectors(),
        "rejected": rejected_proof_vectors(),
    }


def proof_object_vectors() -> list[dict[str, Any]]:
    leaves = [f"leaf {i}".encode() for i in range(5)]
    return [
        {
            "leaf": leaves[index].hex(),
            "root": merkle_root(leaves).hex(),
            "committed_count": len(leaves),
            "proof_hex": codec.encode(inclusion_proof(leaves, index).to_list()).hex(),
        }
        for index in range(len(leaves))
    ]


def rejected_proof_vectors() -> list[dict[str, Any]]:
    """Proofs a verifier must refuse, one per rule (the leaf count comes from the header)."""
    four = [f"leaf {i}".encode() for i in range(4)]
    three = four[:3]
    root4, root3 = merkle_root(four), merkle_root(three)
    good = inclusion_proof(four, 1)
    siblings = good.siblings
    flipped = bytes([siblings[0][0] ^ 1]) + siblings[0][1:]

    def case(root: bytes, leaf: bytes, count: int, proof: Any, why: str) -> dict[str, Any]:
        raw = proof if isinstance(proof, bytes) else codec.encode(proof.to_list())
        return {
            "root": root.hex(),
            "leaf": leaf.hex(),
            "committed_count": count,
            "proof_hex": raw.hex(),
            "why": why,
        }

    as_three = InclusionProof(1, 3, siblings)
    return [
        case(root3, three[1], 3, as_three, "the path of leaf 1 of 4 against a 3-leaf header"),
        case(root4, four[1], 4, as_three, "proof count 3, header count 4"),
        case(root3, three[1], 4, good, "proof count 4, header count 3"),
        case(root4, four[1], 4, InclusionProof(4, 4, siblings), "index not below count"),
        case(root4, four[1], 4, InclusionProof(2, 4, siblings), "wrong index for the path"),
        case(root4, four[2], 4, good, "another leaf"),
        case(root4, four[1], 4, InclusionProof(1, 4, siblings[:1]), "a sibling missing"),
        case(root4, four[1], 4, InclusionProof(1, 4, (*siblings, ZERO_HASH)), "extra sibling"),
        case(root4, four[1], 4, InclusionProof(1, 4, (flipped, siblings[1])), "sibling altered"),
        case(root4, four[1], 4, InclusionProof(0, 0, ()), "empty tree has no leaves"),
        case(
            root4,
            four[1],
            4,
            codec.encode([30, 1, 1, 4, [siblings[0] + b"\x00", siblings[1]]]),
            "sibling of 33 bytes",
        ),
        case(root4, four[1], 4, codec.encode([30, 2, 1, 4, list(siblings)]), "unknown version"),
        case(root4, four[1], 4, codec.encode([31, 1, 1, 4, list(siblings)]), "wrong tag"),
    ]


VALIDATORS = [key(0x10 + i) for i in range(4)]


class SampleBlock:
    """A block at height 2 with its receipts, end-of-block events and write-set."""

    def __init__(self) -> None:
        signers = {key(1).public_key: key(1), key(2).public_key: key(2)}
        self.transactions = tuple(tx.sign(signers[tx.sender]) for tx in sample_transactions())
        transfer = Event("coin.transfer", (("symbol", "IDR"), ("amount", 12_500)))
        self.receipts = [
            Receipt(self.transactions[0].hash, True, "ok", "", (transfer,)),
            Receipt(self.transactions[1].hash, False, "insufficient_funds", "balance is 0", ()),
            Receipt(self.transactions[2].hash, False, "asset_exists", "GOLD exists", ()),
        ]
        self.block_events = [Event("escrow.released", (("id", b"\x01" * 32),))]
        self.write_set: list[tuple[bytes, bytes | None]] = [
            (b"acct/nonce/" + key(1).public_key, codec.encode(1)),
            (b"coin/bal/x", None),
        ]
        header = BlockHeader(
            chain_id=CHAIN_ID,
            height=2,
            prev_hash=tagged_hash(BLOCK, b"parent"),
            timestamp_ms=1_700_000_001_000,
            proposer=VALIDATORS[1].public_key,
            tx_count=len(self.transactions),
            tx_root=merkle_root([stx.hash for stx in self.transactions]),
            receipts_count=len(self.receipts) + 1,
            receipts_root=receipts_root(self.receipts, self.block_events),
            state_root=update_tree(MemoryStore(), 0, ZERO_HASH, self.write_set)[0],
            validator_set_hash=validator_set_hash([v.public_key for v in VALIDATORS]),
            last_certificate_hash=ZERO_HASH,
        )
        self.block = Block(header, self.transactions, None)
        votes = {
            v.public_key: sign_commit_vote(v, CHAIN_ID, 2, 0, self.block.hash)
            for v in VALIDATORS[:3]
        }
        self.certificate = CommitCertificate.build(2, 0, self.block.hash, votes)


def block_vectors() -> dict[str, Any]:
    sample = SampleBlock()
    block = sample.block
    return {
        "description": "Block header, block, roots and the counts the header commits to.",
        "header": {
            "fields": typed(block.header.to_list()),
            "hex": block.header.encode().hex(),
            "block_hash": block.hash.hex(),
        },
        "block_hex": block.encode().hex(),
        "validators": [v.public_key.hex() for v in VALIDATORS],
        "validator_set_hash": block.header.validator_set_hash.hex(),
        "tx_hashes": [stx.hash.hex() for stx in block.transactions],
        "tx_root": block.header.tx_root.hex(),
        "receipts": {
            "receipts_hex": [receipt.encode().hex() for receipt in sample.receipts],
            "end_block_receipt_hex": end_block_receipt(sample.block_events).encode().hex(),
            "root": block.header.receipts_root.hex(),
        },
        "rejected_headers": [
            {"header_hex": replace(block.header, **change).encode().hex(), "code": code}
            for change, code in (
                ({"tx_count": 2}, "bad_tx_count"),
                ({"tx_count": 4}, "bad_tx_count"),
                (
                    {"tx_root": merkle_root([stx.hash for stx in block.transactions[:2]])},
                    "bad_tx_root",
                ),
                ({"receipts_count": 3}, "bad_receipts_count"),
                (
                    {"receipts_root": merkle_root([r.encode() for r in sample.receipts])},
                    "bad_receipts_root",
                ),
            )
        ],
        "state": {
            "write_set": typed([[k, v] for k, v in sample.write_set]),
            "state_root": block.header.state_root.hex(),
        },
    }


def tree_with(entries: list[tuple[bytes, bytes]]) -> tuple[MemoryStore, bytes]:
    store = MemoryStore()
    root, writes = update_tree(store, 0, ZERO_HASH, entries)
    store.write(writes)
    return store, root


def state_proof_vectors() -> dict[str, Any]:
    """State tree roots, proofs of presence and absence, and proofs a verifier refuses."""
    trees = []
    for size in (0, 1, 2, 3, 24, 300):
        entries = [(f"key-{i}".encode(), f"value {i}".encode()) for i in range(size)]
        store, root = tree_with(entries)
        present = dict(entries)
        asked = [f"key-{i}".encode() for i in range(0, size, max(1, size // 6))]
        asked += [b"absent-1", b"absent-2", b"key-99"]
        trees.append(
            {
                "entries": [[k.hex(), v.hex()] for k, v in entries],
                "root": root.hex(),
                "proofs": [
                    {
                        "key": k.hex(),
                        "value": None if present.get(k) is None else present[k].hex(),
                        "proof_hex": prove(store, 0, root, k, present.get(k)).encode().hex(),
                    }
                    for k in asked
                ],
            }
        )
    entries = [(f"key-{i}".encode(), f"value {i}".encode()) for i in range(300)]
    store, root = tree_with(entries)
    member = prove(store, 0, root, b"key-5", b"value 5")
    absent = prove(store, 0, root, b"absent-1", None)
    with_leaf = next(
        prove(store, 0, root, f"missing-{i}".encode(), None)
        for i in range(1000)
        if prove(store, 0, root, f"missing-{i}".encode(), None).leaf is not None
    )
    assert with_leaf.leaf is not None and member.leaf is not None
    off_path = (bytes([with_leaf.leaf[0][0] ^ 0x80]) + with_leaf.leaf[0][1:], with_leaf.leaf[1])
    empty_end = next(
        proof
        for proof in (prove(store, 0, root, f"gap-{i}".encode(), None) for i in range(1000))
        if proof.leaf is None and proof.levels
    )
    levels = member.levels
    last_bitmap, last_siblings = levels[-1]
    altered = (bytes([last_siblings[0][0] ^ 1]) + last_siblings[0][1:], *last_siblings[1:])
    path_bit = 1 << nibble_at(key_hash(b"key-5"), len(levels) - 1)
    other_bits = [1 << n for n in range(16) if last_bitmap & (1 << n) and 1 << n != path_bit]
    free_bits = [1 << n for n in range(16) if not last_bitmap & (1 << n)]
    moved = last_bitmap ^ other_bits[0] ^ free_bits[0]  # a sibling at another nibble
    deeper = 1 << nibble_at(key_hash(b"key-5"), len(levels))  # the leaf alone one level down
    gap_bitmap, gap_siblings = empty_end.levels[-1]
    gap_bit = 1 << nibble_at(key_hash(empty_end.key), len(empty_end.levels) - 1)

    def with_last(proof: StateProof, level: tuple[int, tuple[bytes, ...]]) -> StateProof:
        return replace(proof, levels=(*proof.levels[:-1], level))

    def case(proof: StateProof | bytes, why: str) -> dict[str, Any]:
        raw = proof if isinstance(proof, bytes) else proof.encode()
        return {"root": root.hex(), "proof_hex": raw.hex(), "why": why}

    def raw_levels(items: list[Any], why: str) -> dict[str, Any]:
        return case(codec.encode([*member.to_list()[:5], items]), why)

    good_levels = [[bitmap, list(siblings)] for bitmap, siblings in levels]
    rejected = [
        case(replace(member, value=b"value 6"), "another value for a present key"),
        case(replace(member, value=None), "absence claimed for a present key (its own leaf)"),
        case(with_last(member, (last_bitmap, altered)), "a sibling altered"),
        case(with_last(member, (last_bitmap, last_siblings[:-1])), "a sibling missing"),
        case(with_last(member, (last_bitmap, (*last_siblings, ZERO_HASH))), "an extra sibling"),
        case(with_last(member, (moved, last_siblings)), "a sibling moved to another nibble"),
        case(
            with_last(member, (last_bitmap ^ path_bit, last_siblings)),
            "the path's child missing from the bitmap",
        ),
        case(
            with_last(empty_end, (gap_bitmap | gap_bit, gap_siblings)),
            "absence at an empty slot the bitmap says is not empty",
        ),
        case(
            replace(member, levels=(*levels, (deeper, ()))),
            "a node holding a single leaf (the leaf must sit in its place)",
        ),
        case(replace(member, levels=levels[:-1]), "a level missing"),
        case(replace(member, levels=levels[1:]), "the top level missing"),
        case(replace(member, key=b"key-6"), "the proof of another key"),
        case(replace(member, leaf=None), "value given without a leaf"),
        case(replace(absent, value=b"anything"), "a value for an absent key"),
        case(replace(with_leaf, leaf=off_path), "absence shown by a leaf off the key's path"),
        case(replace(with_leaf, leaf=None), "absence with the neighbouring leaf dropped"),
        case(replace(empty_end, levels=empty_end.levels[:-1]), "absence one level short"),
        raw_levels([[1, []]] * 65, "more than 64 levels"),
        raw_levels([[0, []], *good_levels[1:]], "a bitmap of 0"),
        raw_levels([[1 << 16, []], *good_levels[1:]], "a bitmap above 65535"),
        raw_levels([[0xFFFF, [ZERO_HASH] * 16]], "more than 15 siblings in a level"),
        raw_levels([[good_levels[0][0], [good_levels[0][1][0] + b"\x00"]]], "a 33-byte sibling"),
        raw_levels([good_levels[0][1]], "a level that is not [bitmap, siblings]"),
        case(codec.encode([31, 1, *member.to_list()[2:]]), "the earlier version (binary tree)"),
        case(codec.encode([31, 3, *member.to_list()[2:]]), "unknown version"),
        case(codec.encode([30, 2, *member.to_list()[2:]]), "wrong tag"),
        case(
            codec.encode(
                [
                    31,
                    2,
                    b"key-5",
                    b"value 5",
                    [member.leaf[0] + b"\x00", member.leaf[1]],
                    good_levels,
                ]
            ),
            "a 33-byte key hash",
        ),
    ]
    return {
        "description": (
            "State tree (radix-16 sparse Merkle tree over hashed keys): roots and proofs."
        ),
        "hashing": [
            {
                "key": k.hex(),
                "value": v.hex(),
                "key_hash": key_hash(k).hex(),
                "value_hash": value_hash(v).hex(),
                "leaf_hash": leaf_hash(key_hash(k), value_hash(v)).hex(),
            }
            for k, v in entries[:2]
        ],
        "trees": trees,
        "rejected": rejected,
    }


def certificate_vectors() -> dict[str, Any]:
    sample = SampleBlock()
    block, certificate = sample.block, sample.certificate
    digest = commit_vote_digest(certificate.height, certificate.view, certificate.block_hash)
    return {
        "description": "Commit votes and a 3-of-4 commit certificate for the block vector.",
        "chain_id": CHAIN_ID,
        "validator_seeds": [v.seed.hex() for v in VALIDATORS],
        "height": certificate.height,
        "view": certificate.view,
        "block_hash": block.hash.hex(),
        "vote_digest": digest.hex(),
        "vote_signing_message": signing_message(COMMIT_VOTE, CHAIN_ID, digest).hex(),
        "signatures": [
            {"validator": validator.hex(), "signature": signature.hex()}
            for validator, signature in certificate.signatures
        ],
        "certificate_hex": certificate.encode().hex(),
        "certificate_hash": certificate.hash.hex(),
        "block_with_certificate_hex": Block(block.header, block.transactions, certificate)
        .encode()
        .hex(),
    }


def hex_or_none(value: bytes | None) -> str | None:
    return None if value is None else value.hex()


def bundle_vectors() -> dict[str, Any]:
    """Tx and state bundles from a small chain, one crossing a validator change."""
    from tests.ledgerkit import (
        GENESIS_TIME_MS,
        VALIDATOR_KEYS,
        Chain,
        certify,
        make_genesis,
        signed,
    )
    from tests.ledgerkit import key as kit_key

    alice, bob, newcomer = kit_key(1), kit_key(2), kit_key(77)
    genesis = make_genesis([(alice.public_key, "IDR", 10_000)], [("IDR", alice.public_key, 10**9)])
    chain = Chain(MemoryStore(), genesis)
    paid = signed(alice, 0, "coin.transfer", ["IDR", bob.public_key, 250])
    refused = signed(alice, 1, "coin.transfer", ["IDR", bob.public_key, 10**6])
    chain.commit([paid, refused])
    chain.commit([])
    effective = chain.head.height + 5
    proposal = ["add_validator", [newcomer.public_key, effective], GENESIS_TIME_MS + 10**9]
    propose = signed(VALIDATOR_KEYS[0], 0, "governance.propose", proposal)
    chain.commit([propose])
    chain.commit([signed(VALIDATOR_KEYS[1], 0, "governance.approve", [1])])
    chain.commit([signed(VALIDATOR_KEYS[2], 0, "governance.approve", [1])])
    while chain.head.height < effective:
        chain.commit([])
    later = signed(alice, 2, "coin.transfer", ["IDR", bob.public_key, 5])
    chain.commit([later])
    chain.commit([])
    anchor = TrustAnchor(genesis.chain_id, genesis.validator_keys)
    first = tx_bundle(chain.store, paid.hash)
    crossing = tx_bundle(chain.store, later.hash)
    skipping = tx_bundle(chain.store, later.hash, skip=True)
    skip = skipping.changes[0]
    assert isinstance(skip, ValidatorSkip)
    # A header whose own set (one trusted validator and three strangers) signed it with
    # a quorum: only one of the four trusted validators vouches for it, not more than a third.
    strangers = [kit_key(78), kit_key(79), kit_key(80)]
    takeover = [VALIDATOR_KEYS[0], *strangers]
    taken_set = tuple(k.public_key for k in takeover)
    taken_header = replace(skip.header, validator_set_hash=validator_set_hash(taken_set))
    taken = ValidatorSkip(
        taken_header,
        certify(Block(taken_header, (), None), takeover[:3]),
        taken_set,
    )
    keys = [
        b"coin/bal/" + alice.public_key + b"/IDR",
        b"acct/nonce/" + alice.public_key,
        b"coin/bal/" + newcomer.public_key + b"/IDR",
    ]
    state = state_bundle(chain.store, keys)

    def expected_tx(bundle: TxBundle) -> dict[str, Any]:
        verified = verify_tx_bundle(bundle, anchor)
        return {
            "height": verified.height,
            "index": verified.index,
            "tx_hash": verified.tx_hash.hex(),
            "ok": verified.receipt.ok,
            "code": verified.receipt.code,
        }

    change = crossing.changes[0]
    assert isinstance(change, ValidatorChange) and change.evidence is not None

    def with_evidence(evidence: GovernanceEvidence) -> TxBundle:
        return replace(crossing, changes=(replace(change, evidence=evidence),))

    def evidence_of(tx_hash: bytes) -> GovernanceEvidence:
        location = find_tx(chain.store, tx_hash)
        assert location is not None
        return included(chain.store, *location)

    two_signatures = replace(first.certificate, signatures=first.certificate.signatures[:2])
    other_certificate = tx_bundle(chain.store, refused.hash)
    rejected: list[tuple[Any, str]] = [
        (replace(first, header=replace(first.header, chain_id="other")), "header of another chain"),
        (replace(crossing, changes=()), "validator change left out: header names another set"),
        (replace(first, certificate=crossing.certificate), "certificate of another block"),
        (replace(first, certificate=two_signatures), "certificate below the quorum"),
        (
            replace(first, tx_proof=replace(first.tx_proof, count=3)),
            "tx proof count differs from the header's tx_count",
        ),
        (replace(first, tx=refused.tx), "another transaction than the proof's leaf"),
        (replace(first, receipt=other_certificate.receipt), "receipt of another transaction"),
        (
            replace(first, receipt_proof=other_certificate.receipt_proof),
            "receipt proof at another index",
        ),
        (
            replace(first, receipt=replace(first.receipt, code="other", ok=False)),
            "receipt altered",
        ),
        (
            replace(
                crossing, changes=(replace(change, schedule=replace(change.schedule, key=b"x")),)
            ),
            "validator change proving another key",
        ),
        (
            replace(
                crossing,
                changes=(replace(change, schedule=replace(change.schedule, value=b"\x90")),),
            ),
            "validator change with a forged schedule",
        ),
        (
            replace(state, proofs=(replace(state.proofs[0], value=codec.encode(1)),)),
            "state proof of another value",
        ),
        (
            with_evidence(evidence_of(propose.hash)),
            "governance evidence that schedules no set (the proposal, not the approval)",
        ),
        (
            with_evidence(evidence_of(later.hash)),
            "governance evidence from a block after the change",
        ),
        (
            with_evidence(evidence_of(refused.hash)),
            "governance evidence that is a rejected transaction",
        ),
        (
            with_evidence(replace(change.evidence, tx=propose.tx)),
            "governance evidence whose transaction is not at its proof's place",
        ),
        (
            replace(skipping, changes=(taken,)),
            "skip signed by a quorum of its own set but only one of four trusted validators",
        ),
        (
            replace(skipping, changes=(replace(skip, validators=genesis.validator_keys),)),
            "skip listing another set than its header names",
        ),
        (
            replace(
                skipping,
                changes=(
                    replace(
                        skip,
                        certificate=replace(
                            skip.certificate, signatures=skip.certificate.signatures[:3]
                        ),
                    ),
                ),
            ),
            "skip certificate below the quorum of its own set (3 of 5)",
        ),
        (
            replace(skipping, changes=(replace(skip, certificate=crossing.certificate),)),
            "skip with the certificate of another block",
        ),
        (
            replace(state, proofs=(replace(state.proofs[2], value=codec.encode(5)),)),
            "a value for an absent key",
        ),
    ]
    return {
        "description": "Proof bundles checked against the genesis validator set (protocol §10).",
        "genesis_hex": genesis.encode().hex(),
        "anchor": {
            "chain_id": anchor.chain_id,
            "validators": [v.hex() for v in anchor.validators],
            "from_height": anchor.from_height,
        },
        "tx_bundle": {"hex": first.encode().hex(), "expected": expected_tx(first)},
        "tx_bundle_after_validator_change": {
            "hex": crossing.encode().hex(),
            "expected": expected_tx(crossing),
            "new_validators": [v.hex() for v in (*genesis.validator_keys, newcomer.public_key)],
            "change_height": change.header.height,
            "governance_tx_height": change.evidence.header.height,
        },
        "tx_bundle_skipping": {
            "hex": skipping.encode().hex(),
            "expected": expected_tx(skipping),
            "new_validators": [v.hex() for v in skip.validators],
            "skip_height": skip.header.height,
        },
        "state_bundle": {
            "hex": state.encode().hex(),
            "height": state.header.height,
            "expected": [
                {
                    "key": proof.key.hex(),
                    "value": None if proof.value is None else proof.value.hex(),
                }
                for proof in verify_state_bundle(state, anchor)
            ],
        },
        "rejected": [{"hex": bundle.encode().hex(), "why": why} for bundle, why in rejected],
    }


def build_vectors() -> dict[str, dict[str, Any]]:
    """Every vector file's content, by file name."""
    return {
        "codec.json": codec_vectors(),
        "hashing.json": hashing_vectors(),
        "keys.json": key_vectors(),
        "transactions.json": transaction_vectors(),
        "envelopes.json": envelope_vectors(),
        "authorization.json": authorization_vectors(),
        "merkle.json": merkle_vectors(),
        "blocks.json": block_vectors(),
        "certificates.json": certificate_vectors(),
        "state_proofs.json": state_proof_vectors(),
        "bundles.json": bundle_vectors(),
    }


def render(content: dict[str, Any]) -> str:
    return json.dumps(content, indent=1, ensure_ascii=False) + "\n"


def main() -> None:
    for name, content in build_vectors().items():
        (HERE / name).write_text(render(content), encoding="utf-8")
        print(f"wrote tests/vectors/{name}")


if __name__ == "__main__":
    main()
