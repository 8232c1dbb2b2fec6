// What the shop and the seller desk share: the wallet stored by /wallet (its encrypted
// key file, opened here with the passphrase and kept in this page's memory only), a
// call signed in the page and followed to its commit, and the page's message line.

import { toHex } from "../lib/bytes.js";
import { addressToText } from "../lib/keys.js";
import { Transaction } from "../lib/tx.js";
import { client } from "./common.js";
import { open } from "./vault.js";

const WALLET_KEY = "pasar.wallet";
const $ = (id) => document.getElementById(id);

/** The stored key file (not the key), or null when this browser has no wallet. */
export function storedWallet() {
  try {
    const file = JSON.parse(localStorage.getItem(WALLET_KEY) || "null");
    return file && typeof file.address === "string" ? file : null;
  } catch {
    return null;
  }
}

/** Show `text` in the page's live message line (#message). */
export function say(text, kind = "info") {
  const node = $("message");
  node.textContent = text;
  node.className = kind;
}

/** Run `action` with `button` disabled meanwhile; its error goes to the message line. */
export async function act(button, action) {
  if (button) button.disabled = true;
  try {
    await action();
  } catch (error) {
    say(error.message, "error");
  } finally {
    if (button) button.disabled = false;
  }
}

/** The unlocked wallet: its key stays in this object, in memory, until the page closes. */
export class Signer {
  constructor(key, address) {
    this.key = key;
    this.address = address;
  }

  /** Open the stored key file with `passphrase`; throws Error with the reason. */
  static async unlock(passphrase) {
    const file = storedWallet();
    if (!file) throw new Error("there is no wallet in this browser: create one on the wallet page");
    const key = await open(file, passphrase);
    return new Signer(key, await addressToText(key.publicKey));
  }

  /** Sign `method(args)` here, submit it and wait for its block; returns {hash, done}.
   * Throws Error with the node's or the contract's reason when it is refused. */
  async call(method, args, { onPending } = {}) {
    const [status, account] = await Promise.all([client.status(), client.account(this.address)]);
    const tx = new Transaction({ chainId: status.chain_id, sender: this.key.publicKey, nonce: account.nonce, method, args });
    const hash = toHex(await tx.hash());
    const answer = await client.submitTx(await tx.sign(this.key));
    if (!answer.accepted) throw new Error(`the node refused it: ${answer.code} ${answer.message || ""}`.trim());
    if (onPending) onPending(hash);
    const done = await client.waitTx(hash, { timeoutMs: 60_000 });
    if (done.status === "rejected") {
      const receipt = done.receipt || {};
      throw new Error(`refused: ${receipt.code || "rejected"}${receipt.message ? ` (${receipt.message})` : ""}`);
    }
    if (done.status !== "committed") throw new Error("not committed yet: look for it in the explorer later");
    return { hash, done };
  }
}

/** Wire the page's unlock form (#unlock-form, #unlock-passphrase, #who) to `onUnlocked(signer)`. */
export function unlockForm(onUnlocked) {
  const file = storedWallet();
  $("no-wallet").hidden = file !== null;
  $("unlock").hidden = file === null;
  if (file) $("who").textContent = file.address;
  $("unlock-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = $("unlock-form").querySelector("button");
    button.disabled = true;
    try {
      say("Unlocking…");
      const signer = await Signer.unlock($("unlock-passphrase").value);
      $("unlock-form").reset();
      $("unlock").hidden = true;
      say(`Unlocked ${signer.address}.`, "ok");
      await onUnlocked(signer);
    } catch (error) {
      say(error.message, "error");
    } finally {
      button.disabled = false;
    }
  });
  return file;
}

/** "2 days 3 hours" for a duration in ms (deadlines and windows, never raw ms). */
export function duration(ms) {
  const minutes = Math.round(Number(ms) / 60_000);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h${minutes % 60 ? ` ${minutes % 60} min` : ""}`;
  return `${Math.floor(hours / 24)} days${hours % 24 ? ` ${hours % 24} h` : ""}`;
}

/** A local date and time for a ms timestamp ("—" for 0). */
export function when(ms) {
  return Number(ms) > 0 ? new Date(Number(ms)).toLocaleString() : "—";
}
