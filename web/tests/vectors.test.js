// Every protocol vector in tests/vectors/, checked with the JS library the way
// tests/vectors/test_protocol_vectors.py checks it with the Python one.

import { test } from "node:test";
import assert from "node:assert/strict";

import { load, untyped, hex } from "./vectors.js";
import { toHex, concat } from "../lib/bytes.js";
import * as codec from "../lib/codec.js";
import { taggedHash } from "../lib/hashing.js";
import { PrivateKey, addressFromText, addressToText, signingMessage, verify } from "../lib/keys.js";
import { SignedTransaction, Transaction } from "../lib/tx.js";
import { InclusionProof, inclusionProof, merkleProof, merkleRoot, verifyProof } from "../lib/merkle.js";
import { verifyReceiptInclusion, verifyTxInclusion } from "../lib/inclusion.js";
import { Block, BlockHeader, validatorSetHash } from "../lib/block.js";
import { CommitCertificate, commitVoteDigest } from "../lib/cert.js";
import { Receipt } from "../lib/receipt.js";

test("codec: every canonical vector encodes to its bytes and decodes back", () => {
  const { canonical } = load("codec.json");
  assert.ok(canonical.length > 0);
  for (const item of canonical) {
    const value = untyped(item.value);
    const data = hex(item.hex);
    assert.equal(toHex(codec.encode(value)), item.hex);
    assert.deepEqual(codec.decode(data), value);
  }
});

test("codec: every rejected vector is refused", () => {
  const { rejected } = load("codec.json");
  assert.ok(rejected.length > 0);
  for (const item of rejected) {
    assert.throws(() => codec.decode(hex(item.hex)), codec.CodecError, item.why);
  }
});

test("hashing: tagged hashes", async () => {
  for (const item of load("hashing.json").cases) {
    assert.equal(toHex(await taggedHash(item.tag, hex(item.data))), item.hash);
  }
});

test("keys: public key, address, signing message and signature of each seed", async () => {
  for (const entry of load("keys.json").keys) {
    const key = await PrivateKey.fromSeed(hex(entry.seed));
    assert.equal(toHex(key.publicKey), entry.public_key);
    assert.equal(await addressToText(key.publicKey), entry.address);
    assert.equal(toHex(await addressFromText(entry.address)), entry.public_key);
    assert.equal(toHex(await addressFromText(` ${entry.address.slice(0, 6)}${entry.address.slice(6).toUpperCase()}\n`)), entry.public_key);
    assert.equal(toHex(await addressFromText(entry.public_key)), entry.public_key);
    const { domain, chain_id: chainId, digest, message, signature } = entry.sign;
    assert.equal(toHex(signingMessage(domain, chainId, hex(digest))), message);
    assert.ok(await verify(key.publicKey, domain, chainId, hex(digest), hex(signature)));
    assert.equal(toHex(await key.sign(domain, chainId, hex(digest))), signature); // Ed25519 is deterministic
    assert.equal(await verify(key.publicKey, domain, "another-chain", hex(digest), hex(signature)), false);
    assert.equal(await verify(key.publicKey, "pasar/commit", chainId, hex(digest), hex(signature)), false);
  }
});

test("signatures: strict RFC 8032 as libsodium applies it, one valid case and one refused case per rule", async () => {
  const { cases } = load("signatures.json");
  assert.ok(cases.some((c) => c.valid) && cases.some((c) => !c.valid));
  for (const item of cases) {
    const ok = await verify(hex(item.public_key), item.domain, item.chain_id, hex(item.digest), hex(item.signature));
    assert.equal(ok, item.valid, `${item.name}: ${item.why}`);
  }
});

test("transactions: bytes, hash, signing message, signature and signed envelope", async () => {
  const { transactions } = load("transactions.json");
  assert.ok(transactions.length > 0);
  for (const entry of transactions) {
    const fields = untyped(entry.fields);
    const tx = Transaction.fromList(fields);
    assert.equal(toHex(tx.encode()), entry.unsigned_hex);
    const txHash = await tx.hash();
    assert.equal(toHex(txHash), entry.tx_hash);
    assert.equal(toHex(signingMessage("pasar/tx", tx.chainId, txHash)), entry.signing_message);
    const key = await PrivateKey.fromSeed(hex(entry.signer_seed));
    const stx = await tx.sign(key);
    assert.equal(toHex(stx.signature), entry.signature);
    assert.equal(toHex(stx.encode()), entry.signed_hex);
    const decoded = SignedTransaction.decode(hex(entry.signed_hex));
    assert.equal(toHex(await decoded.hash()), entry.tx_hash);
    assert.ok(await decoded.verifySignature());
    assert.equal(toHex(await decoded.verificationKey()), entry.tx_hash + toHex(tx.sender) + entry.signature);
    // The same transaction under another chain id, or with one signature bit flipped, fails.
    const flipped = hex(entry.signature);
    flipped[5] ^= 1;
    assert.equal(await SignedTransaction.single(decoded.tx, flipped).verifySignature(), false);
  }
});

test("envelopes: version 1 and 2 bytes for each signer set, and every rejected envelope with its code", async () => {
  const v = load("envelopes.json");
  const tx = Transaction.fromList(untyped(v.unsigned));
  assert.equal(toHex(await tx.hash()), v.tx_hash);
  const keys = await Promise.all(Object.values(v.signer_seeds).map((seed) => PrivateKey.fromSeed(hex(seed))));
  const byPublic = new Map(keys.map((k) => [toHex(k.publicKey), k]));
  assert.ok(v.valid.length > 0 && v.rejected.length > 0);
  for (const entry of v.valid) {
    const signers = entry.signers.map((s) => byPublic.get(s));
    const stx = await tx.sign(...signers.reverse()); // any order: the envelope sorts
    assert.equal(stx.version, entry.version);
    assert.equal(toHex(stx.encode()), entry.signed_hex);
    const decoded = SignedTransaction.decode(hex(entry.signed_hex));
    assert.equal(toHex(await decoded.hash()), v.tx_hash);
    assert.ok(await decoded.verifySignature());
    assert.deepEqual(decoded.signers.map(toHex), [...entry.signers].sort());
  }
  for (const item of v.rejected) {
    assert.throws(() => SignedTransaction.decode(hex(item.hex)), (e) => e instanceof codec.CodecError && e.code === item.code, item.why);
  }
});

test("merkle: roots and every inclusion proof; proofs fail for other leaves and positions", async () => {
  const { trees } = load("merkle.json");
  for (const tree of trees) {
    const leaves = tree.leaves.map(hex);
    const root = hex(tree.root);
    assert.equal(toHex(await merkleRoot(leaves)), tree.root);
    assert.equal(tree.proofs.length, leaves.length);
    for (const [index, proof] of tree.proofs.entries()) {
      const siblings = proof.map(hex);
      assert.deepEqual((await merkleProof(leaves, index)).map(toHex), proof);
      assert.ok(await verifyProof(root, leaves[index], index, leaves.length, siblings));
      assert.equal(await verifyProof(root, concat(leaves[index], Uint8Array.of(0)), index, leaves.length, siblings), false);
      for (let other = 0; other < leaves.length; other++) {
        if (other !== index) assert.equal(await verifyProof(root, leaves[index], other, leaves.length, siblings), false);
      }
      assert.equal(await verifyProof(root, leaves[index], leaves.length, leaves.length, siblings), false);
      assert.equal(await verifyProof(root, leaves[index], -1, leaves.length, siblings), false);
    }
  }
});

test("inclusion proof objects: every proof passes and every rejected one fails", async () => {
  const v = load("merkle.json");
  assert.ok(v.proof_objects.length > 0 && v.rejected.length > 0);
  for (const item of v.proof_objects) {
    const proof = InclusionProof.decode(hex(item.proof_hex));
    assert.equal(toHex(proof.encode()), item.proof_hex);
    assert.ok(await proof.verify(hex(item.root), hex(item.leaf), item.committed_count));
  }
  for (const item of v.rejected) {
    let proof;
    try {
      proof = InclusionProof.decode(hex(item.proof_hex));
    } catch (err) {
      assert.ok(err instanceof codec.CodecError, item.why);
      continue;
    }
    assert.equal(await proof.verify(hex(item.root), hex(item.leaf), item.committed_count), false, item.why);
  }
});

test("blocks: header bytes and hash, block decoding, validator set, tx root, receipts root, state root", async () => {
  const v = load("blocks.json");
  const header = BlockHeader.fromList(untyped(v.header.fields));
  assert.equal(toHex(header.encode()), v.header.hex);
  assert.equal(toHex(await header.hash()), v.header.block_hash);
  assert.equal(toHex(await BlockHeader.decode(hex(v.header.hex)).hash()), v.header.block_hash);
  const block = Block.decode(hex(v.block_hex));
  assert.equal(toHex(block.encode()), v.block_hex);
  assert.equal(toHex(await block.hash()), v.header.block_hash);
  assert.equal(toHex(await validatorSetHash(v.validators.map(hex))), v.validator_set_hash);
  assert.equal(toHex(block.header.validatorSetHash), v.validator_set_hash);
  const txHashes = await Promise.all(block.transactions.map((stx) => stx.hash()));
  assert.deepEqual(txHashes.map(toHex), v.tx_hashes);
  assert.equal(toHex(await merkleRoot(txHashes)), v.tx_root);
  assert.equal(toHex(block.header.txRoot), v.tx_root);
  for (const stx of block.transactions) assert.ok(await stx.verifySignature());
  const receiptLeaves = [...v.receipts.receipts_hex, v.receipts.end_block_receipt_hex].map(hex);
  const receipts = receiptLeaves.map((leaf) => Receipt.decode(leaf));
  assert.deepEqual(receipts.map((r) => toHex(r.encode())), receiptLeaves.map(toHex));
  assert.deepEqual(receipts.map((r) => r.isEndBlock), [...txHashes.map(() => false), true]);
  assert.deepEqual(receipts.slice(0, -1).map((r) => toHex(r.txHash)), v.tx_hashes);
  assert.equal(toHex(await merkleRoot(receiptLeaves)), v.receipts.root);
  assert.equal(toHex(block.header.receiptsRoot), v.receipts.root);
  assert.equal(block.header.txCount, BigInt(txHashes.length));
  assert.equal(block.header.receiptsCount, BigInt(receiptLeaves.length));
  for (const [index, txHash] of txHashes.entries()) {
    assert.ok(await verifyTxInclusion(block.header, txHash, await inclusionProof(txHashes, index)));
    assert.ok(await verifyReceiptInclusion(block.header, receipts[index], await inclusionProof(receiptLeaves, index)));
    assert.equal(await verifyReceiptInclusion(block.header, receipts[index], await inclusionProof(receiptLeaves.slice(0, -1), index)), false);
  }
  assert.ok(v.rejected_headers.length > 0);
  for (const item of v.rejected_headers) {
    const bad = BlockHeader.decode(hex(item.header_hex));
    const broken = {
      bad_tx_count: bad.txCount !== BigInt(txHashes.length),
      bad_tx_root: toHex(bad.txRoot) !== v.tx_root,
      bad_receipts_count: bad.receiptsCount !== BigInt(receiptLeaves.length),
      bad_receipts_root: toHex(bad.receiptsRoot) !== v.receipts.root,
    };
    assert.deepEqual(Object.keys(broken).filter((code) => broken[code]), [item.code]);
  }
  // State root: the radix-16 sparse Merkle tree over hashed keys (docs/protocol.md §6).
  const nibble = (digest, d) => (d & 1 ? digest[d >> 1] & 0x0f : digest[d >> 1] >> 4);
  const smtRoot = async (leaves, depth) => {
    if (leaves.length === 0) return new Uint8Array(32);
    if (leaves.length === 1) return taggedHash("pasar/state/leaf", concat(leaves[0][0], leaves[0][1]));
    let bitmap = 0;
    const children = [];
    for (let n = 0; n < 16; n++) {
      const group = leaves.filter(([k]) => nibble(k, depth) === n);
      if (group.length === 0) continue;
      bitmap |= 1 << n;
      children.push(await smtRoot(group, depth + 1));
    }
    return taggedHash("pasar/state/node16", concat(Uint8Array.of(bitmap >> 8, bitmap & 0xff), ...children));
  };
  const leaves = [];
  for (const [key, value] of untyped(v.state.write_set)) {
    if (value === null) continue;
    leaves.push([await taggedHash("pasar/state/key", key), await taggedHash("pasar/state/value", value)]);
  }
  assert.equal(toHex(await smtRoot(leaves, 0)), v.state.state_root);
  assert.equal(toHex(block.header.stateRoot), v.state.state_root);
});

test("certificates: vote digest, signing message, signatures, hash and 3-of-4 verification", async () => {
  const v = load("certificates.json");
  const blockHash = hex(v.block_hash);
  const digest = await commitVoteDigest(v.height, v.view, blockHash);
  assert.equal(toHex(digest), v.vote_digest);
  assert.equal(toHex(signingMessage("pasar/commit", v.chain_id, digest)), v.vote_signing_message);
  for (const item of v.signatures) {
    assert.ok(await verify(hex(item.validator), "pasar/commit", v.chain_id, digest, hex(item.signature)));
  }
  const certificateBytes = hex(v.certificate_hex);
  assert.equal(toHex(await taggedHash("pasar/certificate", certificateBytes)), v.certificate_hash);
  const certificate = CommitCertificate.decode(certificateBytes);
  assert.equal(toHex(await certificate.hash()), v.certificate_hash);
  const validators = await Promise.all(v.validator_seeds.map(async (seed) => (await PrivateKey.fromSeed(hex(seed))).publicKey));
  assert.ok(await certificate.verify(v.chain_id, validators));
  assert.equal(await certificate.verify("another-chain", validators), false);
  const block = Block.decode(hex(v.block_with_certificate_hex));
  assert.equal(toHex(block.lastCertificate.encode()), v.certificate_hex);
  assert.equal(toHex(await block.hash()), v.block_hash);
});
