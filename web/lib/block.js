// Block headers and blocks (docs/protocol.md §2, §8), mirroring ledger/block.py.
//
//   BlockHeader = [3, 1, chain_id, height, prev_hash, timestamp_ms, proposer, tx_count, tx_root,
//                  receipts_count, receipts_root, state_root, validator_set_hash,
//                  last_certificate_hash]
//   Block       = [4, 1, BlockHeader, [SignedTransaction, ...], CommitCertificate | nil]
//
// The block hash is H("pasar/block", enc(header)); the header commits to the rest
// through its roots.

import * as codec from "./codec.js";
import { CodecError } from "./codec.js";
import { BLOCK, HASH_SIZE, VALIDATOR_SET, ZERO_HASH, taggedHash } from "./hashing.js";
import { PUBLIC_KEY_SIZE } from "./keys.js";
import { MAX_CHAIN_ID, MAX_TIME_MS, SignedTransaction } from "./tx.js";
import { CommitCertificate, MAX_CERTIFICATE_BYTES, MAX_HEIGHT } from "./cert.js";

export const TAG_HEADER = 3;
export const TAG_BLOCK = 4;
export const BLOCK_VERSION = 1;
export const MAX_BLOCK_BYTES = MAX_CERTIFICATE_BYTES;
export const MAX_LEAF_COUNT = (1n << 32n) - 1n;

const HASH_FIELDS = ["txRoot", "receiptsRoot", "stateRoot", "validatorSetHash", "lastCertificateHash"];

/** Hash of the validator public keys in schedule order. */
export async function validatorSetHash(validators) {
  return taggedHash(VALIDATOR_SET, codec.encode([...validators]));
}

/** The hash a header holds for the previous block's certificate (zero when none). */
export async function certificateHash(certificate) {
  return certificate === null ? ZERO_HASH : certificate.hash();
}

export class BlockHeader {
  constructor(fields) {
    this.chainId = fields.chainId;
    this.height = BigInt(fields.height);
    this.prevHash = fields.prevHash;
    this.timestampMs = BigInt(fields.timestampMs);
    this.proposer = fields.proposer;
    this.txCount = BigInt(fields.txCount);
    this.receiptsCount = BigInt(fields.receiptsCount);
    for (const name of HASH_FIELDS) this[name] = fields[name];
  }

  toList() {
    return [
      TAG_HEADER, BLOCK_VERSION, this.chainId, this.height, this.prevHash, this.timestampMs, this.proposer,
      this.txCount, this.txRoot, this.receiptsCount, this.receiptsRoot, this.stateRoot, this.validatorSetHash, this.lastCertificateHash,
    ];
  }

  encode() {
    return codec.encode(this.toList());
  }

  /** The block hash. */
  async hash() {
    return taggedHash(BLOCK, this.encode());
  }

  static fromList(value) {
    const f = codec.expectList(value, 14, "block header");
    codec.expectTag(f, TAG_HEADER, BLOCK_VERSION, "block header");
    return new BlockHeader({
      chainId: codec.expectStr(f[2], "chain_id", MAX_CHAIN_ID),
      height: codec.expectInt(f[3], "height", 0n, MAX_HEIGHT),
      prevHash: codec.expectBytes(f[4], "prev_hash", HASH_SIZE),
      timestampMs: codec.expectInt(f[5], "timestamp_ms", 0n, MAX_TIME_MS),
      proposer: codec.expectBytes(f[6], "proposer", PUBLIC_KEY_SIZE),
      txCount: codec.expectInt(f[7], "tx_count", 0n, MAX_LEAF_COUNT),
      txRoot: codec.expectBytes(f[8], "tx_root", HASH_SIZE),
      receiptsCount: codec.expectInt(f[9], "receipts_count", 0n, MAX_LEAF_COUNT),
      receiptsRoot: codec.expectBytes(f[10], "receipts_root", HASH_SIZE),
      stateRoot: codec.expectBytes(f[11], "state_root", HASH_SIZE),
      validatorSetHash: codec.expectBytes(f[12], "validator_set_hash", HASH_SIZE),
      lastCertificateHash: codec.expectBytes(f[13], "last_certificate_hash", HASH_SIZE),
    });
  }

  static decode(data) {
    return BlockHeader.fromList(codec.decode(data, MAX_BLOCK_BYTES));
  }
}

export class Block {
  constructor(header, transactions, lastCertificate) {
    this.header = header;
    this.transactions = transactions;
    this.lastCertificate = lastCertificate;
  }

  toList() {
    return [
      TAG_BLOCK, BLOCK_VERSION, this.header.toList(), this.transactions.map((stx) => stx.toList()),
      this.lastCertificate === null ? null : this.lastCertificate.toList(),
    ];
  }

  encode() {
    return codec.encode(this.toList());
  }

  async hash() {
    return this.header.hash();
  }

  get height() {
    return this.header.height;
  }

  static fromList(value) {
    const f = codec.expectList(value, 5, "block");
    codec.expectTag(f, TAG_BLOCK, BLOCK_VERSION, "block");
    if (!Array.isArray(f[3])) throw new CodecError("bad_type", "block transactions must be an array");
    const certificate = f[4] === null ? null : CommitCertificate.fromList(f[4]);
    return new Block(BlockHeader.fromList(f[2]), f[3].map((item) => SignedTransaction.fromList(item)), certificate);
  }

  static decode(data) {
    return Block.fromList(codec.decode(data, MAX_BLOCK_BYTES));
  }
}
