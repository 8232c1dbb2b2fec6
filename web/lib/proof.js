// Proof bundles (docs/protocol.md §10): check that a transaction was applied, or what a
// key's value is, from one file and a trust anchor (a chain id and a validator set
// trusted from some height, e.g. the genesis validators), without trusting any node.
// Mirrors ledger/bundle.py, which `pasar verify` runs.
//
//   TxBundle        = [32, 1, Transaction, Receipt, InclusionProof (tx), InclusionProof (receipt),
//                      BlockHeader, CommitCertificate, [ValidatorChange, ...]]
//   StateBundle     = [33, 1, [StateProof, ...], BlockHeader, CommitCertificate, [ValidatorChange, ...]]
//   ValidatorChange = [34, 1, BlockHeader, CommitCertificate, StateProof of "sys/validators"]
//                     or [34, 2, ..., GovernanceEvidence] (the transaction that scheduled the set)
//   GovernanceEvidence = [36, 1, Transaction, Receipt, InclusionProof (tx), InclusionProof (receipt),
//                         BlockHeader, CommitCertificate]
//   ValidatorSkip   = [35, 1, BlockHeader, CommitCertificate, [validator, ...]]
//
// The changes list moves trust forward one step at a time: a ValidatorChange is the last
// header before a set change, certified by the trusted set, with the schedule proven in
// its state (sequential); a ValidatorSkip is a later header signed by a quorum of its own
// (listed) set, among whom more than a third of the trusted set (skipping, as CometBFT's
// light client does; it assumes fewer than a third of the trusted set is faulty, so skip from
// a set the client verified recently).

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
export const TAG_VALIDATOR_SKIP = 35;
export const TAG_GOVERNANCE_EVIDENCE = 36;
export const VALIDATORS_SCHEDULED_EVENT = "governance.validators_scheduled";
export const MAX_SKIP_SET_SIZE = 256;
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

/** A governance transaction with its receipt, both proven in a certified block. */
export class GovernanceEvidence {
  constructor(fields) {
    Object.assign(this, fields);
  }

  static fromList(value) {
    const f = codec.expectList(value, 8, "governance evidence");
    codec.expectTag(f, TAG_GOVERNANCE_EVIDENCE, BUNDLE_VERSION, "governance evidence");
    return new GovernanceEvidence({
      tx: Transaction.fromList(f[2]),
      receipt: Receipt.fromList(f[3]),
      txProof: InclusionProof.fromList(f[4]),
      receiptProof: InclusionProof.fromList(f[5]),
      header: BlockHeader.fromList(f[6]),
      certificate: CommitCertificate.fromList(f[7]),
    });
  }
}

/** Version 1: header, certificate, schedule proof; version 2 adds the governance evidence. */
export class ValidatorChange {
  constructor(header, certificate, proof, evidence = null) {
    this.header = header;
    this.certificate = certificate;
    this.proof = proof;
    this.evidence = evidence;
  }

  static fromList(value) {
    if (!Array.isArray(value) || value.length < 2) throw new CodecError("bad_type", "a validator change is an array [34, version, ...]");
    const version = value[1];
    if (version !== 1n && version !== 2n) throw new CodecError("bad_version", `unsupported validator change version ${version}`);
    const f = codec.expectList(value, version === 1n ? 5 : 6, "validator change");
    codec.expectTag(f, TAG_VALIDATOR_CHANGE, version, "validator change");
    const evidence = version === 2n ? GovernanceEvidence.fromList(f[5]) : null;
    return new ValidatorChange(BlockHeader.fromList(f[2]), CommitCertificate.fromList(f[3]), StateProof.fromList(f[4]), evidence);
  }
}

export class ValidatorSkip {
  constructor(header, certificate, validators) {
    this.header = header;
    this.certificate = certificate;
    this.validators = validators;
  }

  static fromList(value) {
    const f = codec.expectList(value, 5, "validator skip");
    codec.expectTag(f, TAG_VALIDATOR_SKIP, BUNDLE_VERSION, "validator skip");
    const keys = f[4];
    if (!Array.isArray(keys) || keys.length < 1 || keys.length > MAX_SKIP_SET_SIZE) {
      throw new CodecError("bad_type", `a skip lists 1 to ${MAX_SKIP_SET_SIZE} validators in an array`);
    }
    const validators = keys.map((k) => codec.expectBytes(k, "validator", PUBLIC_KEY_SIZE));
    if (new Set(validators.map(toHex)).size !== validators.length) throw new CodecError("bad_value", "a skip lists a validator twice");
    return new ValidatorSkip(BlockHeader.fromList(f[2]), CommitCertificate.fromList(f[3]), validators);
  }
}

const changesFrom = (value) =>
  expectArray(value, "validator changes").map((c) =>
    Array.isArray(c) && c[0] === BigInt(TAG_VALIDATOR_SKIP) ? ValidatorSkip.fromList(c) : ValidatorChange.fromList(c),
  );

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

/** The anchor after accepting a later header by skipping (§10); throws ProofError. */
export async function skipTo(anchor, skip) {
  const own = new TrustAnchor(anchor.chainId, skip.validators, anchor.fromHeight);
  await checkCertifiedHeader(skip.header, skip.certificate, own); // a quorum of its own set
  const trusted = new Set(anchor.validators.map(toHex));
  const vouching = skip.certificate.signatures.filter(([v]) => trusted.has(toHex(v))).length;
  if (3 * vouching <= trusted.size) {
    throw new ProofError(`only ${vouching} of the ${trusted.size} trusted validators signed header ${skip.header.height}: skipping needs more than a third`);
  }
  return new TrustAnchor(anchor.chainId, skip.validators, skip.header.height);
}

/** The anchor after following `changes` in order from `anchor` (§10); throws ProofError. */
export async function followChanges(anchor, changes) {
  let current = anchor;
  for (const change of changes) {
    if (change instanceof ValidatorSkip) {
      current = await skipTo(current, change);
      continue;
    }
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
    if (change.evidence !== null) await checkEvidence(change.evidence, current, change, next, validators);
    current = new TrustAnchor(anchor.chainId, validators, next);
  }
  return current;
}

/** Throw ProofError unless tx and receipt sit at one index of `header`; the tx hash. */
async function checkIncluded({ header, tx, receipt, txProof, receiptProof }) {
  const txHash = await tx.hash();
  if (!(await txProof.verify(header.txRoot, txHash, header.txCount))) {
    throw new ProofError("the transaction is not at the proof's position under the header's tx_root and tx_count");
  }
  if (!equal(receipt.txHash, txHash)) throw new ProofError("the receipt is for another transaction");
  if (receiptProof.index !== txProof.index) throw new ProofError("the receipt proof is for another index than the transaction's");
  if (!(await receiptProof.verify(header.receiptsRoot, receipt.encode(), header.receiptsCount))) {
    throw new ProofError("the receipt is not under the header's receipts_root and receipts_count");
  }
  return txHash;
}

/** Throw ProofError unless `evidence` is an applied governance transaction, in a block the
 * trusted set certified no later than the change's header, that scheduled exactly `validators`
 * from height `start` (§10). */
async function checkEvidence(evidence, anchor, change, start, validators) {
  if (evidence.header.height > change.header.height) throw new ProofError("governance evidence comes after the change it explains");
  await checkCertifiedHeader(evidence.header, evidence.certificate, anchor);
  await checkIncluded(evidence);
  if (!evidence.receipt.ok) throw new ProofError("governance evidence is a rejected transaction");
  const wanted = validators.map(toHex).join(",");
  for (const event of evidence.receipt.events) {
    if (event.name !== VALIDATORS_SCHEDULED_EVENT) continue;
    const starts = event.attributes.find(([key]) => key === "start_height");
    const scheduled = event.attributes.find(([key]) => key === "validators");
    if (!starts || starts[1] !== start || !scheduled || !Array.isArray(scheduled[1])) continue;
    if (scheduled[1].every((v) => v instanceof Uint8Array) && scheduled[1].map(toHex).join(",") === wanted) return;
  }
  throw new ProofError(`governance evidence does not schedule the set of height ${start}`);
}

/** Check a TxBundle; returns {height, index, txHash, receipt, header, anchor} or throws ProofError. */
export async function verifyTxBundle(bundle, anchor) {
  const signers = await followChanges(anchor, bundle.changes);
  const { header, receipt, txProof } = bundle;
  await checkCertifiedHeader(header, bundle.certificate, signers);
  const txHash = await checkIncluded(bundle);
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
