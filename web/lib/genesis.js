// The genesis document (docs/protocol.md §2, §3), mirroring ledger/genesis.py: the
// root of trust of every verifier. Its hash is block 1's prev_hash and its validators
// are the set that signs the first blocks.
//
//   Genesis = [7, 1, chain_id, genesis_time_ms, [[validator, name], ...], app_state]

import * as codec from "./codec.js";
import { CodecError } from "./codec.js";
import { toHex } from "./bytes.js";
import { GENESIS, taggedHash } from "./hashing.js";
import { PUBLIC_KEY_SIZE } from "./keys.js";
import { MAX_CHAIN_ID, MAX_TIME_MS } from "./tx.js";

export const TAG_GENESIS = 7;
export const GENESIS_VERSION = 1;
// The operator's own input (a platform may list every migrated balance): larger than
// the default decode limit, as in ledger/genesis.py.
export const MAX_GENESIS_BYTES = 64 * 1024 * 1024;

export class Genesis {
  constructor({ chainId, genesisTimeMs, validators, appState }) {
    this.chainId = chainId;
    this.genesisTimeMs = BigInt(genesisTimeMs);
    this.validators = validators; // [[publicKey, name], ...] in schedule order
    this.appState = appState;
  }

  toList() {
    return [TAG_GENESIS, GENESIS_VERSION, this.chainId, this.genesisTimeMs, this.validators.map(([k, n]) => [k, n]), this.appState];
  }

  encode() {
    return codec.encode(this.toList());
  }

  /** H("pasar/genesis", enc(genesis)): the prev_hash of block 1. */
  async hash() {
    return taggedHash(GENESIS, this.encode());
  }

  /** The first validator set's public keys, in schedule order. */
  get validatorKeys() {
    return this.validators.map(([key]) => key);
  }

  static fromList(value) {
    const f = codec.expectList(value, 6, "genesis");
    if (f[0] !== BigInt(TAG_GENESIS) || f[1] !== BigInt(GENESIS_VERSION)) throw new CodecError("bad_tag", "not a genesis document");
    if (!Array.isArray(f[4]) || f[4].length === 0) throw new CodecError("bad_type", "genesis needs at least one validator");
    const validators = f[4].map((pair) => {
      const [key, name] = codec.expectList(pair, 2, "genesis validator");
      return [codec.expectBytes(key, "validator", PUBLIC_KEY_SIZE), codec.expectStr(name, "name")];
    });
    if (new Set(validators.map(([key]) => toHex(key))).size !== validators.length) {
      throw new CodecError("duplicate_validator", "a validator appears twice in genesis");
    }
    return new Genesis({
      chainId: codec.expectStr(f[2], "chain_id", MAX_CHAIN_ID),
      genesisTimeMs: codec.expectInt(f[3], "genesis_time_ms", 0n, MAX_TIME_MS),
      validators,
      appState: f[5],
    });
  }

  static decode(data) {
    return Genesis.fromList(codec.decode(data, MAX_GENESIS_BYTES));
  }
}
