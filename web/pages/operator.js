// The operator page: what a platform running a validator watches (this node's height,
// view, primary, peers and mempool from GET /v1/status; each peer's links and announced
// height from GET /v1/peers; the validator set from GET
// /v1/validators; view changes, commit latency and block interval from the node's
// Prometheus /metrics) and the governance proposals it votes on. An approval is a
// `governance.approve(id)` transaction signed in the page with the wallet's key (a
// validator key moved into the wallet with `pasar keys export --wallet-file`).

import { toHex } from "../lib/bytes.js";
import { ApiError } from "../lib/client.js";
import { addressToText } from "../lib/keys.js";
import { Transaction } from "../lib/tx.js";
import { client, el, show } from "./common.js";
import { open } from "./vault.js";

const WALLET_KEY = "pasar.wallet";
const REFRESH_MS = 3000;
const RECENT = 10; // view changes listed
const $ = (id) => document.getElementById(id);
let previous = null; // the last metrics sample, to tell what changed since
const recent = [];
let validatorCount = 0;
const shown = new Map(); // id -> what it last showed: unchanged lists are not rebuilt,
// so a refresh never takes the keyboard focus away from a button

function showIfChanged(id, data, build) {
  const text = JSON.stringify(data);
  if (shown.get(id) === text) return;
  shown.set(id, text);
  show(id, build());
}

function say(text, kind = "info") {
  $("message").textContent = text;
  $("message").className = kind;
}

/** Prometheus text exposition: Map of "name{labels}" -> number (comments skipped). */
function parseMetrics(text) {
  const values = new Map();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?)\s+(\S+)/.exec(line);
    if (match) values.set(match[1], Number(match[2]));
  }
  return values;
}

const seconds = (value) => (Number.isFinite(value) ? `${Math.round(value * 1000)} ms` : "—");

/** Mean of a histogram overall and since the previous sample. */
function histogram(now, before, name) {
  const sum = now.get(`${name}_sum`) ?? 0;
  const count = now.get(`${name}_count`) ?? 0;
  const all = count > 0 ? sum / count : NaN;
  const recentCount = before ? count - (before.get(`${name}_count`) ?? 0) : 0;
  const recentMean = recentCount > 0 ? (sum - before.get(`${name}_sum`)) / recentCount : NaN;
  return `${seconds(all)} on average over ${count} blocks${recentCount > 0 ? `; ${seconds(recentMean)} over the last ${recentCount}` : ""}`;
}

async function refreshNode() {
  const [status, set, peers] = await Promise.all([client.status(), client.validators(), client.peers()]);
  $("chain").textContent = status.chain_id;
  $("node-id").textContent = status.node_id;
  $("height").textContent = String(status.height);
  $("view").textContent = String(status.view);
  $("primary").textContent = status.primary ?? "—";
  validatorCount = set.validators.length;
  const others = Math.max(0, set.validators.length - 1);
  $("peers").textContent = `${status.peers_connected} of ${others} other validators`;
  $("mempool").textContent = `${status.mempool_size} transaction${status.mempool_size === 1 ? "" : "s"} waiting`;
  $("syncing").textContent = status.catching_up ? "yes, catching up" : "no";
  $("quorum").textContent = `${set.validators.length} validators; a block needs ${set.quorum} signatures and the network survives ${set.max_faulty} faulty.`;
  showIfChanged("validators", [set, status.primary, status.node_id], () =>
    set.validators.map((v) => {
      const roles = [v.address === status.primary ? "primary" : null, v.address === status.node_id ? "this node" : null].filter(Boolean);
      return el("tr", { "data-address": v.address }, el("td", {}, v.name ?? "—"), el("td", { class: "wrap" }, v.address), el("td", {}, roles.join(", ") || "—"));
    }),
  );
  showIfChanged("peer-list", peers.peers, () =>
    peers.peers.length
      ? peers.peers.map((p) => {
          const links = [p.outbound ? "our dial" : null, p.inbound ? "its dial" : null].filter(Boolean);
          const dropped = p.frames_dropped ? `; ${p.frames_dropped} frames dropped` : "";
          const link = (p.connected ? `connected (${links.join(", ")})` : "not connected") + dropped;
          const behind = p.height !== null && p.height < status.height ? ` (${status.height - p.height} behind)` : "";
          return el(
            "tr",
            { "data-address": p.node_id, "data-connected": String(p.connected) },
            el("td", {}, p.name || "—"),
            el("td", { class: "wrap" }, p.node_id + (p.validator ? "" : " (not a validator)")),
            el("td", {}, link),
            el("td", {}, p.height === null ? "—" : `${p.height}${behind}`),
          );
        })
      : [el("tr", {}, el("td", { colspan: "4" }, "No peers configured."))],
  );
  return { status, set };
}

async function refreshMetrics(status) {
  const response = await fetch("/metrics");
  if (!response.ok) throw new Error(`/metrics answered ${response.status}`);
  const now = parseMetrics(await response.text());
  const changes = now.get("pasar_view_changes_total") ?? 0;
  if (previous && changes > (previous.get("pasar_view_changes_total") ?? 0)) {
    recent.unshift(`${new Date().toLocaleTimeString()}: ${changes - previous.get("pasar_view_changes_total")} view change(s), now in view ${status.view} at height ${status.height}`);
    recent.length = Math.min(recent.length, RECENT);
  }
  $("view-changes").textContent = `${changes} since this node started`;
  showIfChanged("recent-view-changes", recent, () => recent.length ? recent.map((text) => el("li", {}, text)) : [el("li", {}, "None while this page was open.")]);
  $("latency").textContent = histogram(now, previous, "pasar_commit_latency_seconds");
  $("interval").textContent = histogram(now, previous, "pasar_block_interval_seconds");
  $("txs").textContent = `${now.get("pasar_txs_committed_total") ?? 0} committed, ${now.get("pasar_txs_admitted_total") ?? 0} admitted by this node`;
  previous = now;
}

/** The wallet's address, if a wallet is kept in this browser. */
function walletAddress() {
  try {
    return JSON.parse(localStorage.getItem(WALLET_KEY) || "null")?.address ?? null;
  } catch {
    return null;
  }
}

function describe(proposal) {
  const [a, b, c] = proposal.params;
  switch (proposal.action) {
    case "grant_platform":
      return `Make ${a} the platform “${b}” (commission ${(Number(c) / 100).toFixed(2)}%)`;
    case "revoke_platform":
      return `Revoke the platform role of ${a}`;
    case "add_validator":
      return `Add validator ${a} from block ${b}`;
    case "remove_validator":
      return `Remove validator ${a} from block ${b}`;
    default:
      return `${proposal.action}(${proposal.params.join(", ")})`;
  }
}

async function refreshProposals(validators) {
  const answer = await client.request("GET", "/v1/governance/proposals", { query: { limit: 50 } });
  const me = walletAddress();
  const isValidator = me !== null && validators.includes(me);
  $("signer-note").textContent = me === null
    ? "No wallet in this browser: import your validator key on the Wallet page (pasar keys export VALIDATOR_KEY --wallet-file FILE) to approve."
    : isValidator
      ? `Approving as validator ${me}.`
      : `This browser's wallet (${me}) is not a validator: it cannot approve.`;
  const needed = Math.ceil((2 * validatorCount) / 3);
  showIfChanged("proposals", [answer.proposals, me, isValidator, needed], () => proposalRows(answer.proposals, me, isValidator, needed));
}

function proposalRows(proposals, me, isValidator, needed) {
  const rows = [...proposals].reverse().map((p) => {
    const approved = me !== null && p.approvals.includes(me);
    const button = p.status === "open" && isValidator && !approved
      ? el("button", { type: "button", "data-id": p.id, "aria-label": `Approve proposal ${p.id}`, onclick: () => approve(p.id) }, "Approve")
      : approved ? "approved by you" : "";
    return el(
      "li",
      { "data-id": p.id },
      el("p", { class: "what" }, `#${p.id}: ${describe(p)}`),
      el("p", { class: "note" }, `proposed by ${p.proposer}`),
      el("p", {}, "Approvals: ", el("span", { class: "approvals" }, `${p.approvals.length} of ${needed}`), " · Status: ", el("span", { class: "status" }, p.status === "executed" ? `executed in block ${p.executed_height}` : p.status)),
      button ? el("p", {}, button) : null,
    );
  });
  return rows.length ? rows : [el("li", {}, "No proposals.")];
}

async function approve(id) {
  const button = document.querySelector(`button[data-id="${id}"]`);
  if (button) button.disabled = true;
  try {
    const passphrase = $("approve-passphrase").value;
    if (!passphrase) throw new Error("type the wallet passphrase to sign the approval");
    say(`Signing the approval of proposal ${id}…`);
    const key = await open(JSON.parse(localStorage.getItem(WALLET_KEY)), passphrase);
    const address = await addressToText(key.publicKey);
    const [status, account] = await Promise.all([client.status(), client.account(address)]);
    const tx = new Transaction({ chainId: status.chain_id, sender: key.publicKey, nonce: account.nonce, method: "governance.approve", args: [BigInt(id)] });
    const hash = toHex(await tx.hash());
    const answer = await client.submitTx(await tx.sign(key));
    if (!answer.accepted) throw new Error(`the node refused it: ${answer.code} ${answer.message || ""}`);
    say(`Approval of proposal ${id} pending…`);
    const done = await client.waitTx(hash, { timeoutMs: 60_000 });
    if (done.status === "committed") say(`Approval of proposal ${id} committed in block ${done.height}.`, "ok");
    else if (done.status === "rejected") say(`The approval was rejected: ${done.receipt?.message || done.receipt?.code}`, "error");
    else say(`The approval is still ${done.status}.`);
    tick();
  } catch (error) {
    say(error instanceof ApiError ? `The node refused it: ${error.message}` : error.message, "error");
    if (button) button.disabled = false;
  }
}

$("approve-form").addEventListener("submit", (event) => event.preventDefault());

let timer = null;
async function tick() {
  clearTimeout(timer);
  try {
    const { status, set } = await refreshNode();
    await Promise.all([refreshMetrics(status), refreshProposals(set.validators.map((v) => v.address))]);
  } catch (error) {
    say(`Could not read the node: ${error.message}`, "error");
  }
  timer = setTimeout(tick, REFRESH_MS);
}

tick();
