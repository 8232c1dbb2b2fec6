// State tree vectors (tests/vectors/state_proofs.json): key, value and leaf hashes,
// roots of whole states, proofs of presence and absence, and every rejected proof.

import { test } from "node:test";
import assert from "node:assert/strict";

import { toHex } from "../lib/bytes.js";
import { CodecError } from "../lib/codec.js";
import { StateProof, keyHash, leafHash, stateRoot, valueHash } from "../lib/state.js";
import { hex, load } from "./vectors.js";

const v = load("state_proofs.json");

test("state hashing: key, value and leaf hashes", async () => {
  assert.ok(v.hashing.length > 0);
  for (const item of v.hashing) {
    const k = await keyHash(hex(item.key));
    const val = await valueHash(hex(item.value));
    assert.equal(toHex(k), item.key_hash);
    assert.equal(toHex(val), item.value_hash);
    assert.equal(toHex(await leafHash(k, val)), item.leaf_hash);
  }
});

test("state roots and every proof of presence and absence", async () => {
  let presence = 0;
  let absence = 0;
  for (const tree of v.trees) {
    const root = hex(tree.root);
    assert.equal(toHex(await stateRoot(tree.entries.map(([k, val]) => [hex(k), hex(val)]))), tree.root);
    for (const item of tree.proofs) {
      const proof = StateProof.decode(hex(item.proof_hex));
      assert.equal(toHex(proof.encode()), item.proof_hex);
      assert.equal(toHex(proof.key), item.key);
      assert.equal(proof.value === null ? null : toHex(proof.value), item.value);
      assert.equal(await proof.problem(root), null);
      assert.equal(await proof.verify(new Uint8Array(32).fill(1)), false);
      if (item.value === null) absence++;
      else presence++;
    }
  }
  assert.ok(presence > 0 && absence > 0);
});

test("every rejected state proof fails, by decoding or by verification", async () => {
  assert.ok(v.rejected.length > 0);
  for (const item of v.rejected) {
    let proof;
    try {
      proof = StateProof.decode(hex(item.proof_hex));
    } catch (err) {
      assert.ok(err instanceof CodecError, item.why);
      continue;
    }
    assert.equal(await proof.verify(hex(item.root)), false, item.why);
  }
});
