// Receipts and events (docs/protocol.md §2, §6), mirroring ledger/receipt.py.
//
//   Event   = [name, [[key, value], ...]]
//   Receipt = [6, 1, tx_hash, ok, code, message, [Event, ...]]
//
// `code` is "ok" for an applied transaction, otherwise a stable rejection code; the
// receipts root is the Merkle root over enc(Receipt) of every receipt in block order,
// with the end-of-block pseudo-receipt (tx_hash all zero, code "end_block") last.

import * as codec from "./codec.js";
import { CodecError } from "./codec.js";
import { HASH_SIZE, ZERO_HASH } from "./hashing.js";

export const TAG_RECEIPT = 6;
export const RECEIPT_VERSION = 1;
export const OK = "ok";
export const END_BLOCK = "end_block";

/** Something a contract reports: a name and ordered [key, value] attributes. */
export class Event {
  constructor(name, attributes) {
    this.name = name;
    this.attributes = attributes;
  }

  toList() {
    return [this.name, this.attributes.map(([key, value]) => [key, value])];
  }

  /** The value of attribute `key` (the first one of that name), or undefined. */
  get(key) {
    const found = this.attributes.find(([name]) => name === key);
    return found === undefined ? undefined : found[1];
  }

  static fromList(value) {
    const f = codec.expectList(value, 2, "event");
    const name = codec.expectStr(f[0], "event name");
    if (!Array.isArray(f[1])) throw new CodecError("bad_type", "event attributes must be an array");
    const attributes = f[1].map((pair) => {
      const [key, item] = codec.expectList(pair, 2, "event attribute");
      return [codec.expectStr(key, "attribute name"), item];
    });
    return new Event(name, attributes);
  }
}

/** The outcome of one transaction (or, with a zero tx hash, of the end-of-block hooks). */
export class Receipt {
  constructor({ txHash, ok, code, message = "", events = [] }) {
    this.txHash = txHash;
    this.ok = ok;
    this.code = code;
    this.message = message;
    this.events = events;
  }

  /** True for the end-of-block pseudo-receipt. */
  get isEndBlock() {
    return this.code === END_BLOCK && this.txHash.every((b, i) => b === ZERO_HASH[i]);
  }

  toList() {
    return [TAG_RECEIPT, RECEIPT_VERSION, this.txHash, this.ok, this.code, this.message, this.events.map((e) => e.toList())];
  }

  /** enc(Receipt): the receipts-root leaf. */
  encode() {
    return codec.encode(this.toList());
  }

  static fromList(value) {
    const f = codec.expectList(value, 7, "receipt");
    if (f[0] !== BigInt(TAG_RECEIPT) || f[1] !== BigInt(RECEIPT_VERSION)) throw new CodecError("bad_tag", "not a receipt");
    if (!Array.isArray(f[6])) throw new CodecError("bad_type", "receipt events must be an array");
    return new Receipt({
      txHash: codec.expectBytes(f[2], "tx_hash", HASH_SIZE),
      ok: codec.expectBool(f[3], "ok"),
      code: codec.expectStr(f[4], "code"),
      message: codec.expectStr(f[5], "message", 1024),
      events: f[6].map((e) => Event.fromList(e)),
    });
  }

  static decode(data) {
    return Receipt.fromList(codec.decode(data));
  }
}
