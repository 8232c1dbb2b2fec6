// Building and signing transactions beyond the vectors: co-signing, merging, envelope rules.

import { test } from "node:test";
import assert from "node:assert/strict";

import { CodecError } from "../lib/codec.js";
import { PrivateKey } from "../lib/keys.js";
import { MAX_ARG_VALUES, MAX_SIGNATURES, SignedTransaction, Transaction, argValues } from "../lib/tx.js";

async function key(byte) {
  return PrivateKey.fromSeed(new Uint8Array(32).fill(byte));
}

async function transfer(sender) {
  return new Transaction({ chainId: "c", sender: sender.publicKey, nonce: 3, method: "coin.transfer", args: ["IDR", sender.publicKey, 10n ** 19n] });
}

test("co-signers sign independently and merge into one canonical envelope", async () => {
  const [owner, phone, laptop] = await Promise.all([1, 2, 3].map(key));
  const tx = await transfer(owner);
  const alone = await tx.sign(owner);
  assert.equal(alone.version, 1);
  assert.equal(alone.encode()[2], 1); // [2, 1, ...]: the version byte
  const partial = await tx.sign(phone);
  assert.equal(partial.version, 2);
  const merged = partial.withSignatures([await tx.signatureBy(laptop), await tx.signatureBy(phone)]);
  assert.equal(merged.signatures.length, 2);
  const direct = await tx.sign(laptop, phone);
  assert.deepEqual(merged.encode(), direct.encode());
  assert.ok(await SignedTransaction.decode(direct.encode()).verifySignature());
  // A signature that verifies under its key but over another chain spoils the whole envelope.
  const other = new Transaction({ ...tx, chainId: "d" });
  const foreign = (await other.signatureBy(laptop))[1];
  const spoiled = SignedTransaction.build(tx, [[laptop.publicKey, foreign], await tx.signatureBy(phone)]);
  assert.equal(await spoiled.verifySignature(), false);
});

test("the envelope refuses no signers, too many, duplicates and unsorted lists", async () => {
  const owner = await key(1);
  const tx = await transfer(owner);
  const sig = await tx.signatureBy(owner);
  assert.throws(() => new SignedTransaction(tx, []), (e) => e.code === "no_signatures");
  assert.throws(() => SignedTransaction.build(tx, [sig, sig]), (e) => e.code === "duplicate_signer");
  const many = [];
  for (let i = 0; i <= MAX_SIGNATURES; i++) many.push(await tx.signatureBy(await key(10 + i)));
  assert.throws(() => SignedTransaction.build(tx, many), (e) => e.code === "too_many_signatures");
  const two = SignedTransaction.build(tx, many.slice(0, 2)).signatures;
  assert.throws(() => new SignedTransaction(tx, [two[1], two[0]]), (e) => e.code === "unsorted_signers");
  assert.throws(() => new SignedTransaction(tx, [[sig[0], sig[1].subarray(1)]]), CodecError);
  await assert.rejects(tx.sign(), Error);
});

test("a transaction that would not decode is never encoded for signing", async () => {
  const owner = await key(1);
  for (const bad of [{ nonce: -1 }, { method: "m".repeat(65) }, { chainId: 7 }, { sender: new Uint8Array(31) }, { args: [1.5] }]) {
    const tx = new Transaction({ chainId: "c", sender: owner.publicKey, nonce: 0, method: "coin.transfer", args: [], ...bad });
    assert.throws(() => tx.encode(), CodecError, JSON.stringify(Object.keys(bad)));
  }
});

test("args hold at most MAX_ARG_VALUES values at any depth, as the node counts them", async () => {
  const owner = await key(1);
  const withArgs = (args) => new Transaction({ chainId: "c", sender: owner.publicKey, nonce: 0, method: "coin.transfer", args });
  const memo = (arrays) => Array.from({ length: arrays }, () => []);
  const atLimit = withArgs(["IDR", owner.publicKey, 1n, memo(MAX_ARG_VALUES - 4)]);
  assert.equal(argValues(atLimit.args), MAX_ARG_VALUES);
  assert.equal(Transaction.decode(atLimit.encode()).args.length, 4);
  for (const args of [
    ["IDR", owner.publicKey, 1n, memo(MAX_ARG_VALUES - 3)],
    new Array(MAX_ARG_VALUES + 1).fill(0n),
    [Array.from({ length: 300 }, () => [[1n, 2n, [3n]]])],
  ]) {
    assert.ok(argValues(args) > MAX_ARG_VALUES);
    assert.throws(() => withArgs(args).encode(), (e) => e instanceof CodecError && e.code === "too_many_values");
  }
});
