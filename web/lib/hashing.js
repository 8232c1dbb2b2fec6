// Domain-tagged SHA-256 (docs/protocol.md §3), mirroring ledger/hashing.py:
// H(tag, data) = SHA-256(byte(len(tag)) ‖ tag ‖ data), so a hash of one kind of
// object can never be taken for another. SHA-256 is WebCrypto's, hence async.

import { concat, utf8 } from "./bytes.js";

export const HASH_SIZE = 32;
export const ZERO_HASH = new Uint8Array(HASH_SIZE);

// Domain tags. Changing one is a hard fork.
export const TX = "pasar/tx";
export const BLOCK = "pasar/block";
export const RECEIPT = "pasar/receipt";
export const MERKLE_LEAF = "pasar/merkle/leaf";
export const MERKLE_NODE = "pasar/merkle/node";
export const STATE_KEY = "pasar/state/key";
export const STATE_VALUE = "pasar/state/value";
export const STATE_LEAF = "pasar/state/leaf";
export const STATE_NODE16 = "pasar/state/node16";
export const VALIDATOR_SET = "pasar/validators";
export const CERTIFICATE = "pasar/certificate";
export const CONSENSUS_MSG = "pasar/consensus";
export const COMMIT_VOTE = "pasar/commit";
export const ADDRESS = "pasar/address";
export const GENESIS = "pasar/genesis";
export const PEER_CHALLENGE = "pasar/peer-challenge";

/** SHA-256 of some bytes. */
export async function sha256(data) {
  return new Uint8Array(await globalThis.crypto.subtle.digest("SHA-256", data));
}

/** The bytes of a domain tag: an ASCII string or bytes, 1..255 long. */
export function tagBytes(tag) {
  const bytes = typeof tag === "string" ? utf8(tag) : tag;
  if (bytes.length < 1 || bytes.length > 255) throw new RangeError("a domain tag is 1 to 255 bytes");
  return bytes;
}

/** H(tag, data): SHA-256 over a one-byte tag length, the tag and the data. */
export async function taggedHash(tag, data) {
  const t = tagBytes(tag);
  return sha256(concat(Uint8Array.of(t.length), t, data));
}
