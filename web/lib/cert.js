// Commit certificates (docs/protocol.md §8), mirroring the certificate half of ledger/block.py.
//
//   CommitCertificate = [5, 1, height, view, block_hash, [[validator, signature], ...]]
//
// A certificate verifies against a set of n validators when its signatures are sorted
// by validator key (strictly, so no duplicates), all from members, all valid for the
// commit vote of (height, view, block_hash), and at least the quorum n - f of them,
// f = floor((n - 1) / 3).

import * as codec from "./codec.js";
import { CodecError } from "./codec.js";
import { compare, toHex } from "./bytes.js";
import { CERTIFICATE, COMMIT_VOTE, HASH_SIZE, taggedHash } from "./hashing.js";
import { PUBLIC_KEY_SIZE, SIGNATURE_SIZE, verify } from "./keys.js";

export const TAG_CERTIFICATE = 5;
export const CERTIFICATE_VERSION = 1;
export const MAX_HEIGHT = (1n << 63n) - 1n;
export const MAX_CERTIFICATE_BYTES = 16 * 1024 * 1024;

/** f: how many faulty validators a set of this size tolerates. */
export function maxFaulty(validatorCount) {
  return Math.floor((validatorCount - 1) / 3);
}

/** Votes needed for a quorum: n - f (2f+1 when n = 3f+1). */
export function quorumSize(validatorCount) {
  return validatorCount - maxFaulty(validatorCount);
}

/** The digest a validator signs (domain "pasar/commit") to commit a block. */
export async function commitVoteDigest(height, view, blockHash) {
  return taggedHash(COMMIT_VOTE, codec.encode([BigInt(height), BigInt(view), blockHash]));
}

/** A validator's commit vote, as certificates hold it. */
export async function signCommitVote(key, chainId, height, view, blockHash) {
  return key.sign(COMMIT_VOTE, chainId, await commitVoteDigest(height, view, blockHash));
}

/** Proof that a quorum of validators committed `blockHash` at `height`. */
export class CommitCertificate {
  constructor(height, view, blockHash, signatures) {
    this.height = BigInt(height);
    this.view = BigInt(view);
    this.blockHash = blockHash;
    this.signatures = signatures; // [[validator, signature], ...] sorted by validator
  }

  toList() {
    return [TAG_CERTIFICATE, CERTIFICATE_VERSION, this.height, this.view, this.blockHash, this.signatures.map(([v, s]) => [v, s])];
  }

  encode() {
    return codec.encode(this.toList());
  }

  /** H("pasar/certificate", enc(certificate)): what the next header's last_certificate_hash holds. */
  async hash() {
    return taggedHash(CERTIFICATE, this.encode());
  }

  /** A certificate from collected votes [[validator, signature], ...], sorted as the rules want. */
  static build(height, view, blockHash, votes) {
    return new CommitCertificate(height, view, blockHash, [...votes].sort((a, b) => compare(a[0], b[0])));
  }

  static fromList(value) {
    const f = codec.expectList(value, 6, "commit certificate");
    codec.expectTag(f, TAG_CERTIFICATE, CERTIFICATE_VERSION, "commit certificate");
    if (!Array.isArray(f[5])) throw new CodecError("bad_type", "certificate signatures must be an array");
    const signatures = f[5].map((pair) => {
      const [validator, signature] = codec.expectList(pair, 2, "certificate signature");
      return [codec.expectBytes(validator, "validator", PUBLIC_KEY_SIZE), codec.expectBytes(signature, "signature", SIGNATURE_SIZE)];
    });
    return new CommitCertificate(
      codec.expectInt(f[2], "height", 0n, MAX_HEIGHT),
      codec.expectInt(f[3], "view", 0n, MAX_HEIGHT),
      codec.expectBytes(f[4], "block_hash", HASH_SIZE),
      signatures,
    );
  }

  static decode(data) {
    return CommitCertificate.fromList(codec.decode(data, MAX_CERTIFICATE_BYTES));
  }

  /** Why this certificate does not verify against `validators` (public keys), or null when it does. */
  async problem(chainId, validators) {
    const members = new Set(validators.map(toHex));
    const digest = await commitVoteDigest(this.height, this.view, this.blockHash);
    let previous = null;
    for (const [validator, signature] of this.signatures) {
      if (previous !== null && compare(validator, previous) <= 0) return "certificate signatures are not sorted by validator (or repeat one)";
      if (!members.has(toHex(validator))) return "certificate holds a signature from outside the validator set";
      previous = validator;
      if (!(await verify(validator, COMMIT_VOTE, chainId, digest, signature))) return "a certificate signature does not verify";
    }
    const needed = quorumSize(members.size);
    if (this.signatures.length < needed) return `certificate has ${this.signatures.length} signatures, the quorum is ${needed}`;
    return null;
  }

  /** True when a quorum of distinct members of `validators` signed this commit. */
  async verify(chainId, validators) {
    return (await this.problem(chainId, validators)) === null;
  }
}
