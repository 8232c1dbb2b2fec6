// The authenticated state (docs/protocol.md §6): the radix-16 sparse Merkle tree over
// hashed keys whose root is the header's state_root, and StateProof, a key's value or
// its absence under that root. Mirrors the hashing and proof half of ledger/state_tree.py
// (how nodes store the tree is not part of the protocol and not here).
//
//   StateProof = [31, 2, key, value or nil, [key_hash, value_hash] or nil,
//                 [[bitmap, [sibling, ...]], ...]]   (levels from the root down, at most 64)

import * as codec from "./codec.js";
import { CodecError } from "./codec.js";
import { concat, equal } from "./bytes.js";
import { HASH_SIZE, STATE_KEY, STATE_LEAF, STATE_NODE16, STATE_VALUE, ZERO_HASH, taggedHash } from "./hashing.js";

export const TAG_STATE_PROOF = 31;
export const PROOF_VERSION = 2;
export const RADIX = 16;
export const MAX_DEPTH = 64; // nibbles in a key hash
export const MAX_BITMAP = 0xffff;

export const keyHash = (key) => taggedHash(STATE_KEY, key);
export const valueHash = (value) => taggedHash(STATE_VALUE, value);
export const leafHash = (keyDigest, valueDigest) => taggedHash(STATE_LEAF, concat(keyDigest, valueDigest));

/** A node: its bitmap (bit 1 << i set iff child i is not empty) and its non-empty children's hashes in nibble order. */
export const nodeHash = (bitmap, children) => taggedHash(STATE_NODE16, concat(Uint8Array.of(bitmap >> 8, bitmap & 0xff), ...children));

/** Nibble `depth` of a 256-bit key hash; nibble 0 is the high half of byte 0. */
export function nibbleAt(digest, depth) {
  const byte = digest[depth >> 1];
  return depth & 1 ? byte & 0x0f : byte >> 4;
}

async function subtree(leaves, depth) {
  if (leaves.length === 0) return ZERO_HASH;
  if (leaves.length === 1) return leafHash(leaves[0][0], leaves[0][1]);
  let bitmap = 0;
  const children = [];
  for (let nibble = 0; nibble < RADIX; nibble++) {
    const group = leaves.filter(([k]) => nibbleAt(k, depth) === nibble);
    if (group.length === 0) continue;
    bitmap |= 1 << nibble;
    children.push(await subtree(group, depth + 1));
  }
  return nodeHash(bitmap, children);
}

/** The state root of a whole state given as [[key, value], ...] (any order): for tests and small states. */
export async function stateRoot(entries) {
  const leaves = [];
  for (const [key, value] of entries) leaves.push([await keyHash(key), await valueHash(value)]);
  return subtree(leaves, 0);
}

function popcount(bitmap) {
  let count = 0;
  for (let b = bitmap; b; b &= b - 1) count++;
  return count;
}

/** A key's value (null: absent) with the path that proves it under a state root. */
export class StateProof {
  constructor(key, value, leaf, levels) {
    this.key = key;
    this.value = value;
    this.leaf = leaf; // [keyHash, valueHash] met at the end of the key's path, or null (an empty slot)
    this.levels = levels; // [[bitmap (number), [sibling, ...]], ...] from the root down
  }

  toList() {
    return [
      TAG_STATE_PROOF,
      PROOF_VERSION,
      this.key,
      this.value,
      this.leaf === null ? null : [...this.leaf],
      this.levels.map(([bitmap, siblings]) => [BigInt(bitmap), [...siblings]]),
    ];
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
    if (!Array.isArray(f[5]) || f[5].length > MAX_DEPTH) throw new CodecError("bad_type", `levels must be an array of at most ${MAX_DEPTH}`);
    const levels = f[5].map((item) => {
      const level = codec.expectList(item, 2, "level");
      const bitmap = Number(codec.expectInt(level[0], "bitmap", 1n, BigInt(MAX_BITMAP)));
      if (!Array.isArray(level[1]) || level[1].length > RADIX - 1) throw new CodecError("bad_type", "siblings must be an array of at most 15");
      return [bitmap, level[1].map((s) => codec.expectBytes(s, "sibling", HASH_SIZE))];
    });
    return new StateProof(key, stored, leaf, levels);
  }

  static decode(data) {
    return StateProof.fromList(codec.decode(data));
  }

  /** Why the proof does not show `value` (null: absence) at `key` under `root`, or null when it does. */
  async problem(root) {
    const digest = await keyHash(this.key);
    const depth = this.levels.length;
    if (depth > MAX_DEPTH) return `a state proof has at most ${MAX_DEPTH} levels`;
    if (this.value !== null) {
      if (this.leaf === null || !equal(this.leaf[0], digest) || !equal(this.leaf[1], await valueHash(this.value))) {
        return "the proof's leaf is not this key with this value";
      }
    } else if (this.leaf !== null) {
      if (equal(this.leaf[0], digest)) return "the key is present: this cannot prove its absence";
      for (let i = 0; i < depth; i++) {
        if (nibbleAt(this.leaf[0], i) !== nibbleAt(digest, i)) return "the proof's leaf is not on this key's path";
      }
    }
    let current = this.leaf === null ? null : await leafHash(this.leaf[0], this.leaf[1]);
    for (let level = depth - 1; level >= 0; level--) {
      const [bitmap, siblings] = this.levels[level];
      if (!(bitmap > 0 && bitmap <= MAX_BITMAP)) return "a bitmap is not 1 to 65535";
      const nibble = nibbleAt(digest, level);
      const onPath = (bitmap >> nibble) & 1;
      if (current === null) {
        if (onPath) return "the path's child is in the bitmap but the proof ends empty";
      } else if (!onPath) {
        return "the path's child is not in the bitmap";
      }
      const children = popcount(bitmap);
      if (siblings.length !== children - onPath) return "the siblings do not match the bitmap";
      if (children === 1 && level === depth - 1 && current !== null) return "a node with a single leaf (the leaf sits in the node's place)";
      const parts = [];
      let next = 0;
      for (let child = 0; child < RADIX; child++) {
        if ((bitmap >> child) & 1) parts.push(child === nibble ? current : siblings[next++]);
      }
      current = await nodeHash(bitmap, parts);
    }
    if (current === null) current = ZERO_HASH; // no level and no leaf: the empty tree
    return equal(current, root) ? null : "the state proof does not lead to the state root";
  }

  async verify(root) {
    return (await this.problem(root)) === null;
  }
}
