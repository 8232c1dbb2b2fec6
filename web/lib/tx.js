// Transactions (docs/protocol.md §2, §4), mirroring ledger/tx.py.
//
//   Transaction       = [1, 1, chain_id, sender, nonce, method, args, expiry_ms]
//   SignedTransaction = [2, 1, Transaction, signature]
//
// The tx hash is H("pasar/tx", enc(Transaction)): the signature is not part of it.
// The signature covers signingMessage("pasar/tx", chain_id, tx hash).

import * as codec from "./codec.js";
import { CodecError } from "./codec.js";
import { concat, equal } from "./bytes.js";
import { TX, taggedHash } from "./hashing.js";
import { PUBLIC_KEY_SIZE, SIGNATURE_SIZE, verify } from "./keys.js";

export const TAG_TX = 1;
export const TAG_SIGNED_TX = 2;
export const TX_VERSION = 1;
export const MAX_TX_BYTES = 64 * 1024;
export const MAX_CHAIN_ID = 64;
export const MAX_METHOD = 64;
export const MAX_NONCE = (1n << 63n) - 1n;
export const MAX_TIME_MS = (1n << 63n) - 1n;

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

  /** Sign with the sender's PrivateKey. */
  async sign(key) {
    if (!equal(key.publicKey, this.sender)) throw new Error("the key does not belong to the transaction's sender");
    return new SignedTransaction(this, await key.sign(TX, this.chainId, await this.hash()));
  }

  static fromList(value) {
    const f = codec.expectList(value, 8, "transaction");
    codec.expectTag(f, TAG_TX, TX_VERSION, "transaction");
    if (!Array.isArray(f[6])) throw new CodecError("bad_type", "transaction args must be an array");
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

/** A transaction with its sender's Ed25519 signature: what a node accepts at POST /v1/txs. */
export class SignedTransaction {
  constructor(tx, signature) {
    this.tx = tx;
    this.signature = signature;
  }

  toList() {
    return [TAG_SIGNED_TX, TX_VERSION, this.tx.toList(), this.signature];
  }

  encode() {
    const data = codec.encode(this.toList());
    if (data.length > MAX_TX_BYTES) throw new CodecError("too_large", `a signed transaction is at most ${MAX_TX_BYTES} bytes`);
    return data;
  }

  async hash() {
    return this.tx.hash();
  }

  /** The key of a cache of checked signatures: tx hash ‖ signature (the hash alone is not enough). */
  async verificationKey() {
    return concat(await this.hash(), this.signature);
  }

  async verifySignature() {
    return verify(this.tx.sender, TX, this.tx.chainId, await this.hash(), this.signature);
  }

  static fromList(value) {
    const f = codec.expectList(value, 4, "signed transaction");
    codec.expectTag(f, TAG_SIGNED_TX, TX_VERSION, "signed transaction");
    const tx = Transaction.fromList(f[2]);
    return new SignedTransaction(tx, codec.expectBytes(f[3], "signature", SIGNATURE_SIZE));
  }

  static decode(data) {
    return SignedTransaction.fromList(codec.decode(data, MAX_TX_BYTES));
  }
}
