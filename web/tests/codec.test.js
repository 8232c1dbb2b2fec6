// The canonical codec's edges beyond the vectors: integer forms, lengths, depth, text.

import { test } from "node:test";
import assert from "node:assert/strict";

import { toHex, fromHex } from "../lib/bytes.js";
import { CodecError, decode, encode, expectStr, MAX_DECODE_BYTES, MAX_DEPTH } from "../lib/codec.js";
import { Genesis } from "../lib/genesis.js";
import { Transaction } from "../lib/tx.js";
import { load, untyped } from "./vectors.js";

function nested(depth) {
  let value = [];
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

test("integers: BigInt and safe numbers give the same bytes; anything else is refused", () => {
  assert.equal(toHex(encode(200)), "ccc8");
  assert.equal(toHex(encode(-200)), "d1ff38");
  assert.equal(toHex(encode(2 ** 53 - 1)), toHex(encode(2n ** 53n - 1n)));
  assert.deepEqual(decode(encode(2n ** 63n + 5n)), 2n ** 63n + 5n);
  assert.equal(typeof decode(Uint8Array.of(1)), "bigint");
  for (const bad of [1.5, NaN, Infinity, 2 ** 60, 2n ** 64n, -(2n ** 63n) - 1n]) {
    assert.throws(() => encode(bad), CodecError, String(bad));
  }
  for (const bad of [undefined, {}, new Map(), Symbol("x"), () => 1, new Uint16Array(2)]) {
    assert.throws(() => encode(bad), CodecError);
  }
});

test("length headers switch form exactly at the msgpack limits", () => {
  const heads = [
    ["a".repeat(31), "bf"], ["a".repeat(32), "d920"], ["a".repeat(255), "d9ff"], ["a".repeat(256), "da0100"],
    ["a".repeat(65536), "db00010000"], [new Uint8Array(255), "c4ff"], [new Uint8Array(256), "c50100"],
    [new Uint8Array(65536), "c600010000"], [new Array(15).fill(0), "9f"], [new Array(16).fill(0), "dc0010"],
    [new Array(65536).fill(0), "dd00010000"],
  ];
  for (const [value, head] of heads) {
    const data = encode(value);
    assert.equal(toHex(data.subarray(0, head.length / 2)), head);
    assert.deepEqual(decode(data), typeof value === "string" || value instanceof Uint8Array ? value : value.map(BigInt));
  }
});

test("nesting: 32 arrays deep is allowed, 33 refused on both sides", () => {
  assert.deepEqual(decode(encode(nested(MAX_DEPTH))), nested(MAX_DEPTH));
  assert.throws(() => encode(nested(MAX_DEPTH + 1)), CodecError);
  const deep = new Uint8Array(MAX_DEPTH + 2).fill(0x91);
  deep[MAX_DEPTH + 1] = 0x90;
  assert.throws(() => decode(deep), CodecError);
});

test("text: UTF-8 both ways, unpaired surrogates and invalid UTF-8 refused, lengths in code points", () => {
  assert.equal(toHex(encode("€")), "a3e282ac");
  assert.equal(decode(fromHex("a3e282ac")), "€");
  assert.equal(decode(fromHex("a3efbbbf")), "\ufeff"); // a byte-order mark is text like any other
  assert.throws(() => encode("a\ud800"), CodecError);
  assert.throws(() => decode(fromHex("a3eda080")), CodecError); // an encoded surrogate
  assert.throws(() => decode(fromHex("a2c0af")), CodecError); // an overlong form
  assert.equal(expectStr("😀".repeat(64), "method", 64), "😀".repeat(64));
  assert.throws(() => expectStr("😀".repeat(65), "method", 64), CodecError);
});

test("input limits: size, forged array counts, truncation", () => {
  assert.throws(() => decode(new Uint8Array(11).fill(0), 10), (e) => e.code === "too_large");
  assert.throws(() => decode(fromHex("ddffffffff")), (e) => e.code === "malformed");
  assert.throws(() => decode(fromHex("c6ffffffff00")), (e) => e.code === "malformed");
  assert.throws(() => decode("00"), (e) => e.code === "bad_type");
  for (const bad of ["c1", "c0c0", "dc0000", "d9", "c403aabb"]) assert.throws(() => decode(fromHex(bad)), CodecError, bad);
});

test("object heads: a boolean where the tag or version goes is refused", () => {
  const [entry] = load("transactions.json").transactions;
  const fields = untyped(entry.fields);
  assert.equal(Transaction.fromList(fields).method, "coin.transfer");
  for (const slot of [0, 1]) {
    const forged = [...fields];
    forged[slot] = true;
    assert.throws(() => Transaction.fromList(decode(encode(forged))), (e) => e.code === (slot ? "bad_version" : "bad_tag"));
  }
  const wrongNonce = [...fields];
  wrongNonce[4] = -1n;
  assert.throws(() => Transaction.fromList(wrongNonce), (e) => e.code === "out_of_range");
});

test("a genesis over the default decode limit decodes (the operator's own input may list every balance)", () => {
  const holders = Array.from({ length: 30_000 }, (_, i) => {
    const key = new Uint8Array(32);
    key[0] = i >> 8;
    key[1] = i & 0xff;
    return [key, "IDR", BigInt(1_000 + i)];
  });
  const genesis = new Genesis({
    chainId: "pasar-test",
    genesisTimeMs: 1n,
    validators: [[new Uint8Array(32).fill(7), "v0"]],
    appState: [["coin", [[["IDR", "r", 2n, new Uint8Array(32).fill(7), 10n ** 15n, "open"]], holders]]],
  });
  const encoded = genesis.encode();
  assert.ok(encoded.length > MAX_DECODE_BYTES);
  assert.equal(toHex(Genesis.decode(encoded).encode()), toHex(encoded));
  assert.throws(() => decode(encoded), CodecError); // everything else keeps the default limit
});
