// Answers for tests/unit/test_js_library.py's cross-check: reads a JSON file of hex
// inputs, decodes each with the JS library and prints what it made of them, so the
// Python test can compare the two implementations input by input.
//
// Usage: node web/tests/oracle.js CASES.json   (prints JSON on stdout)

import { readFileSync } from "node:fs";

import { fromHex, toHex } from "../lib/bytes.js";
import { decode, encode } from "../lib/codec.js";
import { SignedTransaction } from "../lib/tx.js";
import { Receipt } from "../lib/receipt.js";
import { Genesis } from "../lib/genesis.js";
import { BlockHeader } from "../lib/block.js";
import { InclusionProof } from "../lib/merkle.js";

function attempt(fn) {
  try {
    return fn();
  } catch (err) {
    if (err && err.name === "CodecError") return { ok: false, code: err.code };
    throw err;
  }
}

const cases = JSON.parse(readFileSync(process.argv[2], "utf-8"));
const out = {};
out.decode = cases.decode.map((h) => attempt(() => ({ ok: true, hex: toHex(encode(decode(fromHex(h)))) })));
out.signed_txs = [];
for (const h of cases.signed_txs) {
  const parsed = attempt(() => ({ ok: true, stx: SignedTransaction.decode(fromHex(h)) }));
  if (!parsed.ok) out.signed_txs.push(parsed);
  else out.signed_txs.push({ ok: true, hash: toHex(await parsed.stx.hash()), valid: await parsed.stx.verifySignature(), hex: toHex(parsed.stx.encode()) });
}
out.receipts = cases.receipts.map((h) => attempt(() => ({ ok: true, hex: toHex(Receipt.decode(fromHex(h)).encode()) })));
out.headers = [];
for (const h of cases.headers) {
  const parsed = attempt(() => ({ ok: true, header: BlockHeader.decode(fromHex(h)) }));
  out.headers.push(parsed.ok ? { ok: true, hash: toHex(await parsed.header.hash()) } : parsed);
}
out.genesis = [];
for (const h of cases.genesis) {
  const parsed = attempt(() => ({ ok: true, genesis: Genesis.decode(fromHex(h)) }));
  out.genesis.push(parsed.ok ? { ok: true, hash: toHex(await parsed.genesis.hash()) } : parsed);
}
out.inclusion = [];
for (const item of cases.inclusion) {
  const parsed = attempt(() => ({ ok: true, proof: InclusionProof.decode(fromHex(item.proof_hex)) }));
  out.inclusion.push(parsed.ok ? { ok: true, valid: await parsed.proof.verify(fromHex(item.root), fromHex(item.leaf), item.count) } : parsed);
}
process.stdout.write(JSON.stringify(out));
