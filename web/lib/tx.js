// Transactions and their signed envelope (docs/protocol.md §2, §4, §4.1), mirroring ledger/tx.py.
//
//   Transaction       = [1, 1, chain_id, sender, nonce, method, args, expiry_ms]
//   SignedTransaction = [2, 1, Transaction, signature]                 (the sender's key alone)
//   SignedTransaction = [2, 2, Transaction, [[public_key, signature], ...]]  (any other signers)
//
// The tx hash is H("pasar/tx", enc(Transaction)): signatures are not part of it, and
// every signature covers signingMessage("pasar/tx", chain_id, tx hash), so co-signers
// sign independently. Version 2 lists signers sorted by key, strictly; a version 2
// envelope holding only the sender's own signature is refused (it is version 1).

import * as codec from "./codec.js";
import { CodecError } from "./codec.js";
import { compare, concat, equal, isBytes, toHex } from "./bytes.js";
import { TX, taggedHash } from "./hashing.js";
import { PUBLIC_KEY_SIZE, SIGNATURE_SIZE, verify } from "./keys.js";

export const TAG_TX = 1;
export const TAG_SIGNED_TX = 2;
export const TX_VERSION = 1;
export const ENVELOPE_SINGLE = 1; // the sender's own signature alone
export const ENVELOPE_MULTI = 2; // a sorted list of [public key, signature]
export const MAX_SIGNATURES = 16;
export const MAX_TX_BYTES = 64 * 1024;
// Values a transaction's args hold in all: each item, and each item of an array among
// them at any depth (ledger/tx.py: decoding costs per value, and a value can take one byte).
export const MAX_ARG_VALUES = 1024;
export const MAX_CHAIN_ID = 64;
export const MAX_METHOD = 64;
export const MAX_NONCE = (1n << 63n) - 1n;
export const MAX_TIME_MS = (1n << 63n) - 1n;

/** The values `args` hold: each item, and each item of an array among them at any depth
 * (the count stops soon after passing MAX_ARG_VALUES). */
export function argValues(args) {
  let count = args.length;
  const nested = args.filter(Array.isArray);
  while (nested.length > 0 && count <= MAX_ARG_VALUES) {
    const items = nested.pop();
    count += items.length;
    for (const item of items) if (Array.isArray(item)) nested.push(item);
  }
  return count;
}

/** An unsigned call of `method` by `sender`; `expiryMs` 0 means it never expires. */
export class Transaction {
  constructor({ chainId, sender, nonce, method, args = [], expiryMs = 0n }) {
    this.chainId = chainId;
    this.sender = sender;
    this.nonce = BigInt(nonce);
    this.method = method;
    this.args = args;
    this.expiryMs = BigInt(expiryMs);
  }

  toList() {
    return [TAG_TX, TX_VERSION, this.chainId, this.sender, this.nonce, this.method, this.args, this.expiryMs];
  }

  /** Canonical bytes; also checks every field as a decoder would, so nothing unparseable is signed. */
  encode() {
    const data = codec.encode(this.toList());
    Transaction.fromList(codec.decode(data, MAX_TX_BYTES));
    return data;
  }

  /** The tx hash: identity and idempotency key. */
  async hash() {
    return taggedHash(TX, this.encode());
  }

  /** `key`'s [publicKey, signature] over this transaction, as the envelope carries it. */
  async signatureBy(key) {
    return [key.publicKey, await key.sign(TX, this.chainId, await this.hash())];
  }

  /** Sign with one or more PrivateKeys (any order; the envelope sorts them). */
  async sign(...keys) {
    if (keys.length === 0) throw new Error("at least one key must sign");
    const signatures = [];
    for (const key of keys) signatures.push(await this.signatureBy(key));
    return SignedTransaction.build(this, signatures);
  }

  static fromList(value) {
    const f = codec.expectList(value, 8, "transaction");
    codec.expectTag(f, TAG_TX, TX_VERSION, "transaction");
    if (!Array.isArray(f[6])) throw new CodecError("bad_type", "transaction args must be an array");
    if (argValues(f[6]) > MAX_ARG_VALUES) {
      throw new CodecError("too_many_values", `a transaction's args hold at most ${MAX_ARG_VALUES} values in all`);
    }
    return new Transaction({
      chainId: codec.expectStr(f[2], "chain_id", MAX_CHAIN_ID),
      sender: codec.expectBytes(f[3], "sender", PUBLIC_KEY_SIZE),
      nonce: codec.expectInt(f[4], "nonce", 0n, MAX_NONCE),
      method: codec.expectStr(f[5], "method", MAX_METHOD),
      args: f[6],
      expiryMs: codec.expectInt(f[7], "expiry_ms", 0n, MAX_TIME_MS),
    });
  }

  static decode(data) {
    return Transaction.fromList(codec.decode(data, MAX_TX_BYTES));
  }
}

/** A transaction with its signatures, sorted by signer key, each signer once. */
export class SignedTransaction {
  /** `signatures`: [[publicKey, signature], ...] in envelope order (see build to sort them). */
  constructor(tx, signatures) {
    checkSignatures(signatures);
    this.tx = tx;
    this.signatures = signatures;
  }

  /** Sort signatures into envelope order; a signer given twice is refused. */
  static build(tx, signatures) {
    return new SignedTransaction(tx, [...signatures].sort((a, b) => compare(a[0], b[0])));
  }

  /** The version 1 form: the sender's own signature. */
  static single(tx, signature) {
    return new SignedTransaction(tx, [[tx.sender, signature]]);
  }

  /** This transaction with more signatures (a signer already present is replaced). */
  withSignatures(signatures) {
    const merged = new Map(this.signatures.map(([key, sig]) => [toHex(key), [key, sig]]));
    for (const [key, sig] of signatures) merged.set(toHex(key), [key, sig]);
    return SignedTransaction.build(this.tx, merged.values());
  }

  /** 1 when the sender's own key signs alone, else 2. */
  get version() {
    const only = this.signatures.length === 1 && equal(this.signatures[0][0], this.tx.sender);
    return only ? ENVELOPE_SINGLE : ENVELOPE_MULTI;
  }

  /** The signing public keys, in envelope order. */
  get signers() {
    return this.signatures.map(([key]) => key);
  }

  /** Kept for one-key code: the signature of a version 1 envelope. */
  get signature() {
    return this.version === ENVELOPE_SINGLE ? this.signatures[0][1] : null;
  }

  toList() {
    if (this.version === ENVELOPE_SINGLE) return [TAG_SIGNED_TX, ENVELOPE_SINGLE, this.tx.toList(), this.signatures[0][1]];
    return [TAG_SIGNED_TX, ENVELOPE_MULTI, this.tx.toList(), this.signatures.map(([key, sig]) => [key, sig])];
  }

  encode() {
    const data = codec.encode(this.toList());
    if (data.length > MAX_TX_BYTES) throw new CodecError("too_large", `a signed transaction is at most ${MAX_TX_BYTES} bytes`);
    return data;
  }

  async hash() {
    return this.tx.hash();
  }

  /** The key of a cache of checked signatures: tx hash ‖ every (key ‖ signature); the hash alone is not enough. */
  async verificationKey() {
    return concat(await this.hash(), ...this.signatures.flat());
  }

  /** True when every signature verifies under its own key (whether those keys may act
   * for the sender is the account policy's question, decided by execution). */
  async verifySignature() {
    const txHash = await this.hash();
    for (const [key, sig] of this.signatures) {
      if (!(await verify(key, TX, this.tx.chainId, txHash, sig))) return false;
    }
    return true;
  }

  static fromList(value) {
    const f = codec.expectList(value, 4, "signed transaction");
    if (f[0] !== BigInt(TAG_SIGNED_TX)) throw new CodecError("bad_tag", "not a signed transaction");
    if (f[1] !== BigInt(ENVELOPE_SINGLE) && f[1] !== BigInt(ENVELOPE_MULTI)) {
      throw new CodecError("bad_version", `unsupported transaction version ${f[1]}`);
    }
    const tx = Transaction.fromList(f[2]);
    if (f[1] === BigInt(ENVELOPE_SINGLE)) return SignedTransaction.single(tx, codec.expectBytes(f[3], "signature", SIGNATURE_SIZE));
    if (!Array.isArray(f[3])) throw new CodecError("bad_type", "signatures must be an array");
    const pairs = f[3].map((item) => {
      const [key, sig] = codec.expectList(item, 2, "signature entry");
      return [codec.expectBytes(key, "signer", PUBLIC_KEY_SIZE), codec.expectBytes(sig, "signature", SIGNATURE_SIZE)];
    });
    const stx = new SignedTransaction(tx, pairs);
    if (stx.version !== ENVELOPE_MULTI) throw new CodecError("non_canonical", "the sender's signature alone is carried in version 1");
    return stx;
  }

  static decode(data) {
    return SignedTransaction.fromList(codec.decode(data, MAX_TX_BYTES));
  }
}

/** The envelope rules: 1..MAX_SIGNATURES entries, signers strictly ascending. */
export function checkSignatures(signatures) {
  if (!Array.isArray(signatures) || signatures.length === 0) throw new CodecError("no_signatures", "a transaction carries at least one signature");
  if (signatures.length > MAX_SIGNATURES) throw new CodecError("too_many_signatures", `a transaction carries at most ${MAX_SIGNATURES} signatures`);
  let previous = new Uint8Array(0);
  for (const [key, sig] of signatures) {
    if (!isBytes(key) || !isBytes(sig) || key.length !== PUBLIC_KEY_SIZE || sig.length !== SIGNATURE_SIZE) {
      throw new CodecError("bad_length", "a signature entry is a 32-byte key and 64 bytes");
    }
    const order = compare(key, previous);
    if (order === 0) throw new CodecError("duplicate_signer", `key ${toHex(key)} signs twice`);
    if (order < 0) throw new CodecError("unsorted_signers", "signatures must be sorted by signer key");
    previous = key;
  }
}
