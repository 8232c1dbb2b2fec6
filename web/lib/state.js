// The authenticated state (docs/protocol.md §6): the binary sparse Merkle tree over
// hashed keys whose root is the header's state_root, and StateProof, a key's value or
// its absence under that root. Mirrors the hashing and proof half of ledger/state_tree.py
// (how nodes store the tree is not part of the protocol and not here).
//
//   StateProof = [31, 1, key, value or nil, [key_hash, value_hash] or nil, [sibling, ...]]
//                (siblings bottom-up, at most 256)

import * as codec from "./codec.js";
import { CodecError } from "./codec.js";
import { concat, equal } from "./bytes.js";
import { HASH_SIZE, STATE_KEY, STATE_LEAF, STATE_NODE, STATE_VALUE, ZERO_HASH, taggedHash } from "./hashing.js";

export const TAG_STATE_PROOF = 31;
export const PROOF_VERSION = 1;
export const KEY_BITS = 256;

export const keyHash = (key) => taggedHash(STATE_KEY, key);
export const valueHash = (value) => taggedHash(STATE_VALUE, value);
export const leafHash = (keyDigest, valueDigest) => taggedHash(STATE_LEAF, concat(keyDigest, valueDigest));
export const nodeHash = (left, right) => taggedHash(STATE_NODE, concat(left, right));

/** Bit i of a 256-bit key hash; bit 0 is the top bit of byte 0 (0: left). */
export function bitAt(digest, i) {
  return (digest[i >> 3] >> (7 - (i & 7))) & 1;
}

async function subtree(leaves, depth) {
  if (leaves.length === 0) return ZERO_HASH;
  if (leaves.length === 1) return leafHash(leaves[0][0], leaves[0][1]);
  const left = await subtree(leaves.filter(([k]) => bitAt(k, depth) === 0), depth + 1);
  const right = await subtree(leaves.filter(([k]) => bitAt(k, depth) === 1), depth + 1);
  return nodeHash(left, right);
}

/** The state root of a whole state given as [[key, value], ...] (any order): for tests and small states. */
export async function stateRoot(entries) {
  const leaves = [];
  for (const [key, value] of entries) leaves.push([await keyHash(key), await valueHash(value)]);
  return subtree(leaves, 0);
}

/** A key's value (null: absent) with the path that proves it under a state root. */
export class StateProof {
  constructor(key, value, leaf, siblings) {
    this.key = key;
    this.value = value;
    this.leaf = leaf; // [keyHash, valueHash] met on the key's path, or null (an empty subtree)
    this.siblings = siblings;
  }

  toList() {
    return [TAG_STATE_PROOF, PROOF_VERSION, this.key, this.value, this.leaf === null ? null : [...this.leaf], [...this.siblings]];
  }

  encode() {
    return codec.encode(this.toList());
  }

  static fromList(value) {
    const f = codec.expectList(value, 6, "state proof");
    codec.expectTag(f, TAG_STATE_PROOF, PROOF_VERSION, "state proof");
    const key = codec.expectBytes(f[2], "key");
    const stored = f[3] === null ? null : codec.expectBytes(f[3], "value");
    let leaf = null;
    if (f[4] !== null) {
      const pair = codec.expectList(f[4], 2, "leaf");
      leaf = [codec.expectBytes(pair[0], "leaf key_hash", HASH_SIZE), codec.expectBytes(pair[1], "leaf value_hash", HASH_SIZE)];
    }
    if (!Array.isArray(f[5]) || f[5].length > KEY_BITS) throw new CodecError("bad_type", `siblings must be an array of at most ${KEY_BITS}`);
    return new StateProof(key, stored, leaf, f[5].map((item) => codec.expectBytes(item, "sibling", HASH_SIZE)));
  }

  static decode(data) {
    return StateProof.fromList(codec.decode(data));
  }

  /** Why the proof does not show `value` (null: absence) at `key` under `root`, or null when it does. */
  async problem(root) {
    const digest = await keyHash(this.key);
    const depth = this.siblings.length;
    if (depth > KEY_BITS) return "a state proof has at most 256 siblings";
    if (this.value !== null) {
      if (this.leaf === null || !equal(this.leaf[0], digest) || !equal(this.leaf[1], await valueHash(this.value))) {
        return "the proof's leaf is not this key with this value";
      }
    } else if (this.leaf !== null) {
      if (equal(this.leaf[0], digest)) return "the key is present: this cannot prove its absence";
      for (let i = 0; i < depth; i++) {
        if (bitAt(this.leaf[0], i) !== bitAt(digest, i)) return "the proof's leaf is not on this key's path";
      }
    }
    let current = this.leaf === null ? ZERO_HASH : await leafHash(this.leaf[0], this.leaf[1]);
    for (let level = 0; level < depth; level++) {
      const sibling = this.siblings[level];
      current = bitAt(digest, depth - 1 - level) ? await nodeHash(sibling, current) : await nodeHash(current, sibling);
    }
    return equal(current, root) ? null : "the state proof does not lead to the state root";
  }

  async verify(root) {
    return (await this.problem(root)) === null;
  }
}
