// Proof bundles (docs/protocol.md §10): check that a transaction was applied, or what a
// key's value is, from one file and a trust anchor (a chain id and a validator set
// trusted from some height, e.g. the genesis validators), without trusting any node.
// Mirrors ledger/bundle.py, which `pasar verify` runs.
//
//   TxBundle        = [32, 1, Transaction, Receipt, InclusionProof (tx), InclusionProof (receipt),
//                      BlockHeader, CommitCertificate, [ValidatorChange, ...]]
//   StateBundle     = [33, 1, [StateProof, ...], BlockHeader, CommitCertificate, [ValidatorChange, ...]]
//   ValidatorChange = [34, 1, BlockHeader, CommitCertificate, StateProof of "sys/validators"]

import * as codec from "./codec.js";
import { CodecError } from "./codec.js";
import { equal, toHex, utf8 } from "./bytes.js";
import { BlockHeader, MAX_BLOCK_BYTES, validatorSetHash } from "./block.js";
import { CommitCertificate } from "./cert.js";
import { InclusionProof } from "./merkle.js";
import { Receipt } from "./receipt.js";
import { StateProof } from "./state.js";
import { Transaction } from "./tx.js";
import { Genesis } from "./genesis.js";
import { PUBLIC_KEY_SIZE } from "./keys.js";

export const TAG_TX_BUNDLE = 32;
export const TAG_STATE_BUNDLE = 33;
export const TAG_VALIDATOR_CHANGE = 34;
export const BUNDLE_VERSION = 1;
export const VALIDATOR_SCHEDULE_KEY = utf8("sys/validators");

/** A bundle that does not prove what it claims; the message says which rule failed. */
export class ProofError extends Error {
  constructor(message) {
    super(message);
    this.name = "ProofError";
  }
}

/** What a verifier trusts: the validator set that signs blocks of `chainId` from `fromHeight` on. */
export class TrustAnchor {
  constructor(chainId, validators, fromHeight = 1n) {
    this.chainId = chainId;
    this.validators = validators;
    this.fromHeight = BigInt(fromHeight);
  }

  /** The anchor every client can start from: the genesis validators, from height 1. */
  static fromGenesis(genesis) {
    const g = genesis instanceof Genesis ? genesis : Genesis.decode(genesis);
    return new TrustAnchor(g.chainId, g.validatorKeys, 1n);
  }
}

function expectArray(value, what) {
  if (!Array.isArray(value)) throw new CodecError("bad_type", `${what} must be an array`);
  return value;
}

export class ValidatorChange {
  constructor(header, certificate, proof) {
    this.header = header;
    this.certificate = certificate;
    this.proof = proof;
  }

  static fromList(value) {
    const f = codec.expectList(value, 5, "validator change");
    codec.expectTag(f, TAG_VALIDATOR_CHANGE, BUNDLE_VERSION, "validator change");
    return new ValidatorChange(BlockHeader.fromList(f[2]), CommitCertificate.fromList(f[3]), StateProof.fromList(f[4]));
  }
}

const changesFrom = (value) => expectArray(value, "validator changes").map((c) => ValidatorChange.fromList(c));

export class TxBundle {
  constructor(fields) {
    Object.assign(this, fields);
  }

  static fromList(value) {
    const f = codec.expectList(value, 9, "tx bundle");
    codec.expectTag(f, TAG_TX_BUNDLE, BUNDLE_VERSION, "tx bundle");
    return new TxBundle({
      tx: Transaction.fromList(f[2]),
      receipt: Receipt.fromList(f[3]),
      txProof: InclusionProof.fromList(f[4]),
      receiptProof: InclusionProof.fromList(f[5]),
      header: BlockHeader.fromList(f[6]),
      certificate: CommitCertificate.fromList(f[7]),
      changes: changesFrom(f[8]),
    });
  }
}

export class StateBundle {
  constructor(fields) {
    Object.assign(this, fields);
  }

  static fromList(value) {
    const f = codec.expectList(value, 6, "state bundle");
    codec.expectTag(f, TAG_STATE_BUNDLE, BUNDLE_VERSION, "state bundle");
    return new StateBundle({
      proofs: expectArray(f[2], "state proofs").map((p) => StateProof.fromList(p)),
      header: BlockHeader.fromList(f[3]),
      certificate: CommitCertificate.fromList(f[4]),
      changes: changesFrom(f[5]),
    });
  }
}

/** A TxBundle or StateBundle from its bytes (canonical, at most 16 MiB); throws CodecError. */
export function decodeBundle(data) {
  const value = codec.decode(data, MAX_BLOCK_BYTES);
  if (Array.isArray(value) && value[0] === BigInt(TAG_TX_BUNDLE)) return TxBundle.fromList(value);
  if (Array.isArray(value) && value[0] === BigInt(TAG_STATE_BUNDLE)) return StateBundle.fromList(value);
  throw new CodecError("bad_tag", "not a proof bundle");
}

/** Throw ProofError unless `certificate` certifies `header` under `anchor` (§10 "Certified header"). */
export async function checkCertifiedHeader(header, certificate, anchor) {
  if (header.chainId !== anchor.chainId) throw new ProofError(`header is of chain ${JSON.stringify(header.chainId)}, not ${JSON.stringify(anchor.chainId)}`);
  if (header.height < anchor.fromHeight) throw new ProofError(`header ${header.height} is below the trusted height ${anchor.fromHeight}`);
  if (!equal(header.validatorSetHash, await validatorSetHash(anchor.validators))) {
    throw new ProofError(`header ${header.height} names a validator set the verifier does not hold (a validator change left out?)`);
  }
  if (certificate.height !== header.height) throw new ProofError(`certificate is for height ${certificate.height}, not ${header.height}`);
  if (!equal(certificate.blockHash, await header.hash())) throw new ProofError("certificate is for another block");
  const problem = await certificate.problem(anchor.chainId, anchor.validators);
  if (problem !== null) throw new ProofError(problem);
}

function scheduledSet(scheduleBytes, height) {
  // The schedule [[start_height, [validator, ...]], ...] as the chain writes it (start
  // heights ascending, each set non-empty); the set of `height` is the last entry with
  // start_height <= height, as ledger/validators.py picks it.
  let chosen = null;
  const schedule = expectArray(codec.decode(scheduleBytes), "validator schedule");
  for (const entry of schedule) {
    const [start, keys] = codec.expectList(entry, 2, "schedule entry");
    codec.expectInt(start, "start_height", 1n);
    if (!Array.isArray(keys) || keys.length === 0) throw new CodecError("bad_type", "schedule validators must be a non-empty array");
    const validators = keys.map((k) => codec.expectBytes(k, "validator", PUBLIC_KEY_SIZE));
    if (start <= height) chosen = validators;
  }
  return chosen;
}

/** The anchor after following `changes` in order from `anchor` (§10); throws ProofError. */
export async function followChanges(anchor, changes) {
  let current = anchor;
  for (const change of changes) {
    await checkCertifiedHeader(change.header, change.certificate, current);
    if (!equal(change.proof.key, VALIDATOR_SCHEDULE_KEY) || change.proof.value === null) {
      throw new ProofError(`validator change at ${change.header.height} does not prove the validator schedule`);
    }
    const problem = await change.proof.problem(change.header.stateRoot);
    if (problem !== null) throw new ProofError(`validator change at ${change.header.height}: ${problem}`);
    const next = change.header.height + 1n;
    let validators;
    try {
      validators = scheduledSet(change.proof.value, next);
    } catch (err) {
      if (err instanceof CodecError) throw new ProofError(`validator schedule at ${change.header.height} is malformed: ${err.message}`);
      throw err;
    }
    if (validators === null) throw new ProofError(`validator schedule at ${change.header.height} has no set for height ${next}`);
    current = new TrustAnchor(anchor.chainId, validators, next);
  }
  return current;
}

/** Check a TxBundle; returns {height, index, txHash, receipt, header, anchor} or throws ProofError. */
export async function verifyTxBundle(bundle, anchor) {
  const signers = await followChanges(anchor, bundle.changes);
  const { header, tx, receipt, txProof, receiptProof } = bundle;
  await checkCertifiedHeader(header, bundle.certificate, signers);
  const txHash = await tx.hash();
  if (!(await txProof.verify(header.txRoot, txHash, header.txCount))) {
    throw new ProofError("the transaction is not at the proof's position under the header's tx_root and tx_count");
  }
  if (!equal(receipt.txHash, txHash)) throw new ProofError("the receipt is for another transaction");
  if (receiptProof.index !== txProof.index) throw new ProofError("the receipt proof is for another index than the transaction's");
  if (!(await receiptProof.verify(header.receiptsRoot, receipt.encode(), header.receiptsCount))) {
    throw new ProofError("the receipt is not under the header's receipts_root and receipts_count");
  }
  return { height: header.height, index: txProof.index, txHash, receipt, header, anchor: signers };
}

/** Check a StateBundle; returns {height, proofs, header, anchor} (each proof a key's value or null) or throws ProofError. */
export async function verifyStateBundle(bundle, anchor) {
  const signers = await followChanges(anchor, bundle.changes);
  await checkCertifiedHeader(bundle.header, bundle.certificate, signers);
  for (const proof of bundle.proofs) {
    const problem = await proof.problem(bundle.header.stateRoot);
    if (problem !== null) throw new ProofError(`state proof for key ${toHex(proof.key)}: ${problem}`);
  }
  return { height: bundle.header.height, proofs: bundle.proofs, header: bundle.header, anchor: signers };
}

/** Decode and check any bundle: {kind: "tx" | "state", ...result}; throws CodecError or ProofError. */
export async function verifyBundle(data, anchor) {
  const bundle = decodeBundle(data);
  if (bundle instanceof TxBundle) return { kind: "tx", ...(await verifyTxBundle(bundle, anchor)) };
  return { kind: "state", ...(await verifyStateBundle(bundle, anchor)) };
}
