// The explorer: latest blocks with the network, validators, assets and listings, a
// block, a transaction with its receipt in words, and an account. Transactions and balances are proven here, in the browser, against the
// genesis validator set (pinned on first visit); nothing the node says is marked
// verified unless its proof bundle checks out.

import { concat, equal, utf8 } from "../lib/bytes.js";
import { decode } from "../lib/codec.js";
import { addressFromText } from "../lib/keys.js";
import { assets, client, describeEvent, el, formatAmount, proofProblem, short, show, trustAnchor } from "./common.js";

const LATEST = 10;
// Block views that show no arguments or events ask for summaries, not whole blocks.
const SUMMARY = { transactions: "summary" };
const RETRY_MS = 2000;
const params = new URLSearchParams(location.search);

/** Call `render` again after each event of the node's stream that `matters` (from the
 * next block on; with `account`, only that account's transactions), reconnecting after
 * a dropped stream from the last id seen. Renders one at a time, never stacked. */
async function live(render, { account, matters }) {
  let cursor = null;
  let busy = null;
  let again = false;
  const rerender = async () => {
    if (busy) {
      again = true;
      return;
    }
    busy = render().catch((error) => say(error.message, "error"));
    await busy;
    busy = null;
    if (again) {
      again = false;
      rerender();
    }
  };
  for (;;) {
    try {
      for await (const frame of client.events({ cursor, account })) {
        cursor = frame.id;
        if (matters(frame)) rerender();
      }
    } catch {
      // the stream dropped: resume from the cursor below
    }
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
  }
}

function say(text, kind = "info") {
  const node = document.getElementById("message");
  node.textContent = text;
  node.className = kind;
}

function mark(ok, reason) {
  return ok
    ? el("p", { id: "verified", class: "verified" }, "✔ Verified in your browser against the genesis validators")
    : el("p", { id: "verified", class: "not-verified" }, `✘ Not verified: ${reason}`);
}

function when(ms) {
  return new Date(Number(ms)).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

function txLink(hash) {
  return el("a", { href: `/explorer?tx=${hash}` }, short(hash));
}

async function latestBlocks() {
  // Only headers are shown here: summaries spare the node rendering whole blocks.
  const head = await client.block("latest", SUMMARY);
  const rows = [];
  for (let height = Number(head.height); height >= 1 && rows.length < LATEST; height--) {
    const block = height === Number(head.height) ? head : await client.block(height, SUMMARY);
    rows.push(
      el("tr", {}, el("td", {}, el("a", { href: `/explorer?block=${height}` }, height)), el("td", {}, when(block.header.timestamp_ms)), el("td", { class: "num" }, block.header.tx_count)),
    );
  }
  show("view", el("h2", {}, "Latest blocks"), el("table", {}, el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Height"), el("th", { scope: "col" }, "Time"), el("th", { scope: "col", class: "num" }, "Transactions"))), el("tbody", {}, rows)), ...(await overview()));
}

function table(id, headings, rows) {
  const head = el("tr", {}, headings.map(([text, numeric]) => el("th", { scope: "col", class: numeric ? "num" : undefined }, text)));
  // Wide tables scroll inside their box, so a phone-sized page never scrolls sideways.
  return el("div", { class: "scroll" }, el("table", { id }, el("thead", {}, head), el("tbody", {}, rows)));
}

function accountLink(address) {
  return el("a", { href: `/explorer?account=${address}` }, short(address));
}

/** The chain at a glance, below the latest blocks: the node's view of the network, the
 * validator set, every asset with its supply, and the first page of listings. What the
 * node says here is shown as it says it (the marks are for proven pages). */
async function overview() {
  const [status, set, assetPage, catalog] = await Promise.all([
    client.request("GET", "/v1/status"),
    client.request("GET", "/v1/validators"),
    client.request("GET", "/v1/assets", { query: { limit: 500 } }),
    client.request("GET", "/v1/catalog", { query: { limit: 20 } }),
  ]);
  const bySymbol = new Map(assetPage.assets.map((asset) => [asset.symbol, asset]));
  const network = el(
    "dl",
    { id: "network" },
    [
      ["Chain", status.chain_id],
      ["Height", status.height],
      ["View", status.view],
      ["Primary", short(status.primary)],
      ["Validators", `${status.validator_count} (quorum ${set.quorum}, tolerates ${set.max_faulty} faulty)`],
      ["Peers of this node", status.peers_connected],
      ["Waiting transactions", status.mempool_size],
      ["Catching up", status.catching_up ? "yes" : "no"],
    ].flatMap(([term, value]) => [el("dt", {}, term), el("dd", {}, String(value))]),
  );
  const validators = set.validators.map((v) => el("tr", {}, el("td", {}, v.name || "—"), el("td", {}, accountLink(v.address))));
  const assetRows = assetPage.assets.map((a) =>
    el("tr", {}, el("td", {}, a.symbol), el("td", {}, a.name), el("td", {}, a.policy), el("td", {}, accountLink(a.issuer)), el("td", { class: "num" }, formatAmount(a.supply, a))),
  );
  const listingRows = catalog.listings.map((l) =>
    el("tr", {}, el("td", { class: "num" }, l.id), el("td", {}, l.title), el("td", { class: "num" }, formatAmount(l.price, bySymbol.get(l.symbol) ?? { symbol: l.symbol, decimals: 0 })), el("td", { class: "num" }, l.stock), el("td", {}, accountLink(l.seller)), el("td", {}, l.status)),
  );
  return [
    el("h2", {}, "Network"),
    network,
    el("h2", {}, "Validators"),
    table("validators", [["Name"], ["Address"]], validators),
    el("h2", {}, "Assets"),
    table("assets", [["Symbol"], ["Name"], ["Kind"], ["Issuer"], ["Supply", true]], assetRows),
    el("h2", {}, "Listings"),
    catalog.listings.length ? table("listings", [["#", true], ["Item"], ["Price", true], ["Stock", true], ["Seller"], ["Status"]], listingRows) : el("p", { id: "listings" }, "No listings yet."),
  ];
}

async function blockPage(height) {
  const block = await client.block(height, SUMMARY);
  const items = block.transactions.map((tx) => el("li", {}, txLink(tx.hash), ` ${tx.method} — ${tx.ok ? "ok" : tx.code}`));
  show(
    "view",
    el("h2", {}, `Block ${block.height}`),
    el("dl", {}, el("dt", {}, "Hash"), el("dd", { class: "wrap" }, block.hash), el("dt", {}, "Time"), el("dd", {}, when(block.header.timestamp_ms)), el("dt", {}, "Proposer"), el("dd", { class: "wrap" }, block.header.proposer), el("dt", {}, "Transactions"), el("dd", {}, block.header.tx_count)),
    el("h3", {}, "Transactions"),
    items.length ? el("ul", {}, items) : el("p", {}, "None."),
    el("p", {}, Number(block.height) > 1 ? el("a", { href: `/explorer?block=${Number(block.height) - 1}` }, "← previous block") : null),
  );
}

async function txPage(hash) {
  const [answer, bySymbol] = await Promise.all([client.getTx(hash), assets()]);
  const receipt = answer.receipt;
  const events = receipt ? receipt.events.map((event) => el("li", {}, describeEvent(event, bySymbol))) : [];
  let verdict;
  if (answer.status !== "committed" && answer.status !== "rejected") {
    verdict = el("p", { id: "verified", class: "pending" }, `Not in a block yet (${answer.status}); nothing to verify.`);
  } else {
    try {
      const { anchor } = await trustAnchor();
      const proven = await client.proveTx(hash, anchor);
      // The words shown come from the node's JSON: they must say what the proof proves.
      if (proven.receipt.code !== receipt.code || Number(proven.height) !== Number(answer.height)) throw new Error("the node's answer differs from what its proof proves");
      verdict = mark(true);
    } catch (error) {
      verdict = mark(false, proofProblem(error));
    }
  }
  const tx = answer.tx || {};
  show(
    "view",
    el("h2", {}, "Transaction"),
    verdict,
    el("dl", {}, el("dt", {}, "Hash"), el("dd", { class: "wrap" }, answer.hash), el("dt", {}, "Status"), el("dd", { id: "tx-status" }, answer.status), answer.height ? [el("dt", {}, "Block"), el("dd", {}, el("a", { href: `/explorer?block=${answer.height}` }, answer.height))] : null, el("dt", {}, "Sender"), el("dd", { class: "wrap" }, el("a", { href: `/explorer?account=${tx.sender}` }, tx.sender || "")), el("dt", {}, "Call"), el("dd", {}, tx.method || ""), receipt ? [el("dt", {}, "Result"), el("dd", {}, receipt.ok ? "done" : `refused: ${receipt.code} ${receipt.message}`)] : null),
    el("h3", {}, "What happened"),
    events.length ? el("ul", { id: "events" }, events) : el("p", {}, "No events."),
  );
}

async function accountPage(address) {
  const publicKey = await addressFromText(address);
  const bySymbol = await assets();
  const { anchor } = await trustAnchor();
  let verdict;
  const rows = [];
  let nonce = null;
  try {
    const proven = await client.proveAccount(address, anchor, { symbols: [...bySymbol.keys()].slice(0, 64) });
    // Show only what the proof proves: each balance key is coin/bal/<key>/<symbol>.
    for (const proof of proven.proofs) {
      if (proof.value === null) continue;
      if (equal(proof.key, concat(utf8("acct/nonce/"), publicKey))) nonce = decode(proof.value);
      for (const symbol of bySymbol.keys()) {
        if (equal(proof.key, concat(utf8("coin/bal/"), publicKey, utf8(`/${symbol}`)))) {
          rows.push(el("tr", {}, el("td", {}, symbol), el("td", { class: "num", "data-symbol": symbol }, formatAmount(decode(proof.value), bySymbol.get(symbol)))));
        }
      }
    }
    verdict = mark(true);
  } catch (error) {
    verdict = mark(false, proofProblem(error));
  }
  show(
    "view",
    el("h2", {}, "Account"),
    el("p", { class: "wrap" }, el("code", {}, address)),
    verdict,
    nonce !== null ? el("p", {}, `Transactions sent: ${nonce}`) : null,
    el("table", {}, el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Coin"), el("th", { scope: "col", class: "num" }, "Balance"))), el("tbody", {}, rows.length ? rows : el("tr", {}, el("td", { colspan: 2 }, "No proven balances.")))),
  );
}

document.getElementById("search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = document.getElementById("search").value.trim();
  if (/^\d+$/.test(text)) location.search = `?block=${text}`;
  else if (/^[0-9a-fA-F]{64}$/.test(text)) location.search = `?tx=${text.toLowerCase()}`;
  else if (text.startsWith("pasar1")) location.search = `?account=${text}`;
  else say("Type a block height, a 64-digit transaction hash or a pasar1 address.", "error");
});

async function main() {
  try {
    if (params.has("tx")) {
      const hash = params.get("tx");
      await txPage(hash);
      // A pending transaction is shown again, proven, once its block is committed.
      if (document.getElementById("verified")?.className === "pending") {
        const done = await client.waitTx(hash, { timeoutMs: 120_000 });
        if (done.status === "committed" || done.status === "rejected") await txPage(hash);
      }
    } else if (params.has("block")) {
      await blockPage(params.get("block"));
    } else if (params.has("account")) {
      const address = params.get("account");
      await accountPage(address);
      // Each new transaction of the account: its balances proven again.
      live(() => accountPage(address), { account: address, matters: (frame) => frame.event === "tx" });
    } else {
      await latestBlocks();
      live(latestBlocks, { matters: (frame) => frame.event === "block" });
    }
  } catch (error) {
    say(error.message, "error");
  }
}

main();
