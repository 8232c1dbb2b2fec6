// JSON with exact integers: what the client reads amounts and nonces with.

import { test } from "node:test";
import assert from "node:assert/strict";

import { parse, stringify } from "../lib/json.js";

test("integers beyond 2^53 stay exact; everything else parses as JSON.parse does", () => {
  assert.deepEqual(parse('{"a": 18446744073709551615, "b": [1, -9007199254740993, 9007199254740991]}'), {
    a: 18446744073709551615n,
    b: [1, -9007199254740993n, 9007199254740991],
  });
  const samples = ['{"x": "é\\u00e9\\n\\"", "y": [true, false, null], "z": 1.5e3, "w": {}}', "[]", '"\\ud83d\\ude00"', " 0 ", "-0.25"];
  for (const text of samples) assert.deepEqual(parse(text), JSON.parse(text), text);
  assert.equal(Object.getPrototypeOf(parse('{"__proto__": 1}')), Object.prototype);
  assert.equal(parse('{"__proto__": 1}').__proto__, 1);
});

test("malformed JSON is refused", () => {
  for (const bad of ["", "{", '{"a" 1}', "[1,]", "01", "1 2", '"\\x"', "nul", '"a\nb"', "[".repeat(600)]) {
    assert.throws(() => parse(bad), SyntaxError, JSON.stringify(bad));
  }
});

test("stringify writes BigInt as an integer and round-trips through parse", () => {
  const value = { amount: 2n ** 64n - 1n, args: ["IDR", 5, null, { hex: "00" }], skip: undefined };
  const text = stringify(value);
  assert.equal(text, '{"amount":18446744073709551615,"args":["IDR",5,null,{"hex":"00"}]}');
  assert.deepEqual(parse(text), { amount: 2n ** 64n - 1n, args: ["IDR", 5, null, { hex: "00" }] });
});
