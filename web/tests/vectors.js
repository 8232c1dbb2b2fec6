// Loads tests/vectors/*.json (the protocol vectors the Python side also checks) for the JS tests.

import { readFileSync } from "node:fs";
import { fromHex } from "../lib/bytes.js";

const VECTORS = new URL("../../tests/vectors/", import.meta.url);

/** The parsed JSON of one vector file. */
export function load(name) {
  return JSON.parse(readFileSync(new URL(name, VECTORS), "utf-8"));
}

/** A value from the vectors' typed JSON form ({"int": "..."}, {"bytes": hex}, ...). */
export function untyped(value) {
  if (value === null) return null;
  const [[kind, payload]] = Object.entries(value);
  switch (kind) {
    case "bool":
      return Boolean(payload);
    case "int":
      return BigInt(payload);
    case "bytes":
      return fromHex(payload);
    case "str":
      return payload;
    case "list":
      return payload.map(untyped);
    default:
      throw new Error(`unknown typed value ${kind}`);
  }
}

export const hex = fromHex;
