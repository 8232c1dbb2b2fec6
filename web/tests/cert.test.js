// Commit certificate rules beyond the vectors: quorum sizes, order, outsiders, forgeries.

import { test } from "node:test";
import assert from "node:assert/strict";

import { fromHex } from "../lib/bytes.js";
import { CommitCertificate, quorumSize, signCommitVote } from "../lib/cert.js";
import { PrivateKey } from "../lib/keys.js";
import { load } from "./vectors.js";

const v = load("certificates.json");
const BLOCK_HASH = fromHex(v.block_hash);

async function keys(count) {
  const out = [];
  for (let i = 0; i < count; i++) out.push(await PrivateKey.fromSeed(new Uint8Array(32).fill(0x40 + i)));
  return out;
}

async function votes(signers, height = 2, view = 0) {
  return Promise.all(signers.map(async (k) => [k.publicKey, await signCommitVote(k, v.chain_id, height, view, BLOCK_HASH)]));
}

test("quorum is n - f with f = floor((n - 1) / 3)", () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 10].map(quorumSize), [1, 2, 3, 3, 4, 5, 5, 7]);
});

test("a quorum verifies; one signature fewer does not", async () => {
  for (const n of [1, 4, 7]) {
    const set = await keys(n);
    const publics = set.map((k) => k.publicKey);
    const q = quorumSize(n);
    const enough = CommitCertificate.build(2, 0, BLOCK_HASH, await votes(set.slice(0, q)));
    assert.ok(await enough.verify(v.chain_id, publics), `n=${n}`);
    const short = CommitCertificate.build(2, 0, BLOCK_HASH, await votes(set.slice(0, q - 1)));
    assert.equal(await short.verify(v.chain_id, publics), false);
    // A repeated validator key in the set does not lower the quorum's bar.
    assert.equal(await short.verify(v.chain_id, [...publics, publics[0]]), false);
  }
});

test("unsorted, duplicated, outsider and mismatched signatures each invalidate the certificate", async () => {
  const set = await keys(4);
  const publics = set.map((k) => k.publicKey);
  const all = CommitCertificate.build(2, 0, BLOCK_HASH, await votes(set));
  assert.ok(await all.verify(v.chain_id, publics));
  const reversed = new CommitCertificate(2, 0, BLOCK_HASH, [...all.signatures].reverse());
  assert.match(await reversed.problem(v.chain_id, publics), /sorted/);
  const twice = new CommitCertificate(2, 0, BLOCK_HASH, [all.signatures[0], ...all.signatures]);
  assert.match(await twice.problem(v.chain_id, publics), /sorted/);
  const outsider = (await keys(5))[4];
  const withOutsider = CommitCertificate.build(2, 0, BLOCK_HASH, [...(await votes(set)), ...(await votes([outsider]))]);
  assert.match(await withOutsider.problem(v.chain_id, publics), /outside/);
  const otherView = CommitCertificate.build(2, 0, BLOCK_HASH, [...(await votes(set.slice(0, 2))), ...(await votes(set.slice(2), 2, 1))]);
  assert.match(await otherView.problem(v.chain_id, publics), /does not verify/);
  assert.equal(await new CommitCertificate(3, 0, BLOCK_HASH, all.signatures).verify(v.chain_id, publics), false);
  assert.deepEqual(CommitCertificate.decode(all.encode()), all);
});
