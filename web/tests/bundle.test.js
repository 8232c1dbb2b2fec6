// Proof bundles (tests/vectors/bundles.json, docs/protocol.md §10): a tx bundle, one
// crossing a validator change and a state bundle verify against the genesis set; every
// rejected bundle and every single flipped byte of a good one is refused.

import { test } from "node:test";
import assert from "node:assert/strict";

import { toHex } from "../lib/bytes.js";
import { CodecError } from "../lib/codec.js";
import { Genesis } from "../lib/genesis.js";
import {
  ProofError,
  TrustAnchor,
  TxBundle,
  ValidatorSkip,
  decodeBundle,
  verifyBundle,
  verifyStateBundle,
  verifyTxBundle,
} from "../lib/proof.js";
import { hex, load } from "./vectors.js";

const v = load("bundles.json");
const anchor = TrustAnchor.fromGenesis(Genesis.decode(hex(v.genesis_hex)));

async function refused(data) {
  try {
    await verifyBundle(data, anchor);
  } catch (err) {
    if (err instanceof ProofError || err instanceof CodecError) return true;
    throw err;
  }
  return false;
}

test("the genesis anchor is the genesis validator set from height 1", () => {
  assert.equal(anchor.chainId, v.anchor.chain_id);
  assert.deepEqual(anchor.validators.map(toHex), v.anchor.validators);
  assert.equal(anchor.fromHeight, BigInt(v.anchor.from_height));
});

test("tx bundles verify, also across a validator-set change", async () => {
  for (const name of ["tx_bundle", "tx_bundle_after_validator_change", "tx_bundle_skipping"]) {
    const bundle = decodeBundle(hex(v[name].hex));
    assert.ok(bundle instanceof TxBundle);
    const verified = await verifyTxBundle(bundle, anchor);
    const expected = v[name].expected;
    assert.equal(verified.height, BigInt(expected.height));
    assert.equal(verified.index, BigInt(expected.index));
    assert.equal(toHex(verified.txHash), expected.tx_hash);
    assert.equal(verified.receipt.ok, expected.ok);
    assert.equal(verified.receipt.code, expected.code);
  }
  const crossing = v.tx_bundle_after_validator_change;
  const bundle = decodeBundle(hex(crossing.hex));
  assert.deepEqual(bundle.changes.map((c) => c.header.height), [BigInt(crossing.change_height)]);
  // The change carries the governance transaction that scheduled the new set.
  assert.equal(bundle.changes[0].evidence.header.height, BigInt(crossing.governance_tx_height));
  assert.ok(bundle.changes[0].evidence.receipt.events.some((e) => e.name === "governance.validators_scheduled"));
  const verified = await verifyTxBundle(bundle, anchor);
  assert.deepEqual(verified.anchor.validators.map(toHex), crossing.new_validators);
  // Without the change the bundle's header names a set the verifier does not hold.
  await assert.rejects(verifyTxBundle(new TxBundle({ ...bundle, changes: [] }), anchor), ProofError);
  // A verifier that trusts another chain refuses it.
  await assert.rejects(verifyTxBundle(bundle, new TrustAnchor("another", anchor.validators)), ProofError);
});

test("a client skips a validator change that more than a third of its set signed", async () => {
  const skipping = v.tx_bundle_skipping;
  const bundle = decodeBundle(hex(skipping.hex));
  assert.equal(bundle.changes.length, 1);
  assert.ok(bundle.changes[0] instanceof ValidatorSkip);
  assert.equal(bundle.changes[0].header.height, BigInt(skipping.skip_height));
  const verified = await verifyTxBundle(bundle, anchor);
  assert.deepEqual(verified.anchor.validators.map(toHex), skipping.new_validators);
  assert.equal(verified.anchor.fromHeight, BigInt(skipping.skip_height));
});

for (const name of ["tx_bundle_skipping", "tx_bundle_after_validator_change"]) {
  test(`every single flipped byte of ${name} is refused`, async () => {
    const good = hex(v[name].hex);
    assert.equal(await refused(good), false);
    for (let i = 0; i < good.length; i++) {
      const bad = Uint8Array.from(good);
      bad[i] ^= 0x01;
      assert.ok(await refused(bad), `byte ${i}`);
    }
  });
}

test("a state bundle gives each key's value or absence", async () => {
  const bundle = decodeBundle(hex(v.state_bundle.hex));
  const verified = await verifyStateBundle(bundle, anchor);
  assert.equal(verified.height, BigInt(v.state_bundle.height));
  const got = verified.proofs.map((p) => ({ key: toHex(p.key), value: p.value === null ? null : toHex(p.value) }));
  assert.deepEqual(got, v.state_bundle.expected);
  const result = await verifyBundle(hex(v.state_bundle.hex), anchor);
  assert.equal(result.kind, "state");
});

test("every rejected bundle is refused", async () => {
  assert.ok(v.rejected.length > 0);
  for (const item of v.rejected) assert.ok(await refused(hex(item.hex)), item.why);
});

test("every single flipped byte of a good tx bundle is refused", async () => {
  const good = hex(v.tx_bundle.hex);
  assert.equal(await refused(good), false);
  for (let i = 0; i < good.length; i++) {
    const bad = Uint8Array.from(good);
    bad[i] ^= 0x01;
    assert.ok(await refused(bad), `byte ${i}`);
  }
});
