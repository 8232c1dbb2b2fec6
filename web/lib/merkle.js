// Merkle roots, inclusion proofs and the InclusionProof object (docs/protocol.md §5),
// mirroring ledger/merkle.py.
// RFC 6962 shape: the left subtree holds the largest power of two below the leaf
// count; leaves and inner nodes hash under different domain tags.

import * as codec from "./codec.js";
import { CodecError } from "./codec.js";
import { concat, equal, isBytes } from "./bytes.js";
import { HASH_SIZE, MERKLE_LEAF, MERKLE_NODE, ZERO_HASH, taggedHash } from "./hashing.js";

export async function leafHash(data) {
  return taggedHash(MERKLE_LEAF, data);
}

export async function nodeHash(left, right) {
  return taggedHash(MERKLE_NODE, concat(left, right));
}

function split(count) {
  let k = 1;
  while (k * 2 < count) k *= 2;
  return k;
}

async function rootOfHashes(hashes) {
  // Pairing neighbours level by level and lifting an unpaired last node unchanged
  // builds exactly the tree of the "largest power of two below n" split.
  let level = hashes;
  while (level.length > 1) {
    const next = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(await nodeHash(level[i], level[i + 1]));
    if (level.length % 2) next.push(level[level.length - 1]);
    level = next;
  }
  return level[0];
}

/** Root of a list of leaves (bytes); the empty list has the all-zero root. */
export async function merkleRoot(leaves) {
  if (leaves.length === 0) return ZERO_HASH;
  return rootOfHashes(await Promise.all(leaves.map(leafHash)));
}

/** Sibling hashes from the leaf at `index` up to the root. */
export async function merkleProof(leaves, index) {
  if (!(index >= 0 && index < leaves.length)) throw new RangeError("leaf index out of range");
  const path = [];
  const collect = async (hashes, i) => {
    if (hashes.length === 1) return;
    const k = split(hashes.length);
    if (i < k) {
      await collect(hashes.slice(0, k), i);
      path.push(await rootOfHashes(hashes.slice(k)));
    } else {
      await collect(hashes.slice(k), i - k);
      path.push(await rootOfHashes(hashes.slice(0, k)));
    }
  };
  await collect(await Promise.all(leaves.map(leafHash)), index);
  return path;
}

/** The root a proof leads to from a leaf hash, or null when the proof has the wrong length. */
export async function foldProof(current, index, count, proof) {
  // Walk down from the root to learn on which side the leaf is at each level, then
  // hash upwards consuming the proof from the deepest sibling.
  const siblingOnRight = [];
  while (count > 1) {
    const k = split(count);
    if (index < k) {
      siblingOnRight.push(true);
      count = k;
    } else {
      siblingOnRight.push(false);
      index -= k;
      count -= k;
    }
  }
  if (siblingOnRight.length !== proof.length) return null;
  for (let level = 0; level < proof.length; level++) {
    const sibling = proof[level];
    if (!isBytes(sibling) || sibling.length !== 32) return null;
    const right = siblingOnRight[siblingOnRight.length - 1 - level];
    current = right ? await nodeHash(current, sibling) : await nodeHash(sibling, current);
  }
  return current;
}

/** True when `leaf` is at `index` of a `count`-leaf list whose root is `root`. */
export async function verifyProof(root, leaf, index, count, proof) {
  index = Number(index);
  count = Number(count);
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(count) || !(index >= 0 && index < count)) return false;
  const computed = await foldProof(await leafHash(leaf), index, count, proof);
  return computed !== null && equal(computed, root);
}

// The proof object nodes serve (docs/protocol.md §5):
//   InclusionProof = [30, 1, index, count, [sibling, ...]]   (siblings bottom-up)
// Its count must equal the count the header commits to (tx_count or receipts_count):
// the path's shape follows from index and count alone, so with the same siblings
// leaf 1 of 4 would also pass as leaf 1 of 3.

export const TAG_INCLUSION_PROOF = 30;
export const PROOF_VERSION = 1;
export const MAX_LEAVES = (1n << 32n) - 1n;
export const MAX_PATH = 32;

/** Where a leaf sits (index of count) and the sibling hashes up to the root. */
export class InclusionProof {
  constructor(index, count, siblings) {
    this.index = BigInt(index);
    this.count = BigInt(count);
    this.siblings = siblings;
  }

  toList() {
    return [TAG_INCLUSION_PROOF, PROOF_VERSION, this.index, this.count, [...this.siblings]];
  }

  encode() {
    return codec.encode(this.toList());
  }

  static fromList(value) {
    const f = codec.expectList(value, 5, "inclusion proof");
    codec.expectTag(f, TAG_INCLUSION_PROOF, PROOF_VERSION, "inclusion proof");
    if (!Array.isArray(f[4]) || f[4].length > MAX_PATH) throw new CodecError("bad_type", `siblings must be an array of at most ${MAX_PATH}`);
    return new InclusionProof(
      codec.expectInt(f[2], "index", 0n, MAX_LEAVES),
      codec.expectInt(f[3], "count", 0n, MAX_LEAVES),
      f[4].map((item) => codec.expectBytes(item, "sibling", HASH_SIZE)),
    );
  }

  static decode(data) {
    return InclusionProof.fromList(codec.decode(data));
  }

  /** True when `leaf` is leaf `index` of the `committedCount` leaves under `root`. */
  async verify(root, leaf, committedCount) {
    if (this.count !== BigInt(committedCount)) return false;
    return verifyProof(root, leaf, this.index, this.count, this.siblings);
  }
}

/** The proof object for the leaf at `index`. */
export async function inclusionProof(leaves, index) {
  return new InclusionProof(index, leaves.length, await merkleProof(leaves, Number(index)));
}
