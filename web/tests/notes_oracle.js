// Answers for tests/unit/test_js_notes.py: opens notes the Python side sealed and seals
// notes for the Python side to open, so both directions of the sealed-box interop are
// checked against cli/notes.py (libsodium).
//
// Usage: node web/tests/notes_oracle.js CASES.json   (prints JSON on stdout)
//   CASES = {"open": [{"seed", "seller", "arbiter"}], "seal": [{"account", "message"}]}  (hex)

import { readFileSync } from "node:fs";

import { fromHex, toHex } from "../lib/bytes.js";
import { PrivateKey } from "../lib/keys.js";
import { NoteError, openOrderNote, sealNote } from "../lib/sealedbox.js";

const cases = JSON.parse(readFileSync(process.argv[2], "utf-8"));
const out = { opened: [], sealed: [] };
for (const item of cases.open) {
  const key = await PrivateKey.fromSeed(fromHex(item.seed));
  const opened = await openOrderNote(key, item.seller ? fromHex(item.seller) : null, item.arbiter ? fromHex(item.arbiter) : null);
  out.opened.push(opened === null ? null : toHex(opened));
}
for (const item of cases.seal) {
  try {
    out.sealed.push(toHex(await sealNote(fromHex(item.message), fromHex(item.account))));
  } catch (error) {
    if (!(error instanceof NoteError)) throw error;
    out.sealed.push({ error: error.message });
  }
}
process.stdout.write(JSON.stringify(out));
