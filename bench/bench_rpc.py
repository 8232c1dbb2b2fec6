"""RPC edge benchmark: how many transactions per second the HTTP layer admits.

The server (a separate process, so client and server each get a core) runs
`node.rpc.app.build_rpc_app` over a stub NodeService whose `submit` verifies each
signature and appends to a list - the RPC's own cost plus one Ed25519 check,
without consensus. The client pre-signs transfers, then submits them
- one per POST /v1/txs (JSON hex), with C concurrent connections, and
- in POST /v1/txs/batch requests of B transactions,
and prints admitted transactions per second for each, plus the machine's
single-thread Ed25519 verification rate for scale.

Run from the repository root:  python bench/bench_rpc.py [--txs N] [--concurrency C] [--batch B]

`--json` instead times what the RPC renders most, with the standard library's
json.dumps against orjson.dumps (no server): GET /v1/blocks/{h} of a block of
2,000 transfers with their receipts, a POST /v1/txs/batch answer of 1,000
admission results, and the event stream's SSE frames of that block.

    python bench/bench_rpc.py --json [--repeat R]

`--parse` times each step a `POST /v1/txs/batch` body of B transactions goes
through before admission (no server), in microseconds per transaction: the
JSON body parsed (the RPC's `decode_json`, and `orjson.loads` for scale), the
model checked, each hex string parsed and each transaction decoded and hashed.

    python bench/bench_rpc.py --parse [--batch B] [--repeat R]

`--summary` times what `GET /v1/blocks/{h}?transactions=summary` renders per
transaction (`tx_summary_json`), for a block of 2,000 transfers from 2,000
senders: senders this process has not named yet, then the same senders again
(as in the next blocks of a busy chain, where the same accounts recur).

    python bench/bench_rpc.py --summary

`--hostile` times decoding, or refusing, one transaction of each shape a client may
send: a transfer; 60 KB of empty arrays (refused from its msgpack headers,
`codec.count_values`); the same with a float ahead of them; 1,020 arrays, within the
limit; and what decoding the 60 KB whole would cost.

    python bench/bench_rpc.py --hostile [--repeat R]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402

from ledger.chainstore import Head  # noqa: E402
from ledger.execution import Application  # noqa: E402
from ledger.keys import PrivateKey  # noqa: E402
from ledger.kv import MemoryStore  # noqa: E402
from ledger.receipt import Event, Receipt  # noqa: E402
from ledger.tx import SignedTransaction, Transaction  # noqa: E402
from node.rpc.app import build_rpc_app  # noqa: E402
from node.rpc.render import receipt_json, tx_json  # noqa: E402
from node.service import Admission, NodeStatus  # noqa: E402

CHAIN_ID = "bench"


class StubService:
    """Admits every correctly signed transaction; nothing is ever committed."""

    chain_id = CHAIN_ID
    node_id = bytes(32)
    app = Application({})

    def __init__(self) -> None:
        self._store = MemoryStore()
        self.admitted = 0

    @property
    def store(self) -> MemoryStore:
        return self._store

    def head(self) -> Head:
        return Head(0, bytes(32), bytes(32))

    def status(self) -> NodeStatus:
        return NodeStatus(CHAIN_ID, bytes(32), 0, bytes(32), bytes(32), 0, None, (), 0, False, 0)

    async def submit(self, raw_transactions: list[bytes | SignedTransaction]) -> list[Admission]:
        results = []
        for raw in raw_transactions:
            # the RPC decodes a submission itself and hands the node the decoded form
            stx = raw if isinstance(raw, SignedTransaction) else SignedTransaction.decode(raw)
            ok = stx.verify_signature()
            self.admitted += ok
            results.append(Admission(stx.hash, ok, "accepted" if ok else "bad_signature"))
        return results

    def is_pending(self, tx_hash: bytes) -> bool:
        return False

    async def wait_for_height(self, height: int, timeout: float) -> int:
        return 0

    def mempool_full(self) -> bool:
        return False

    def note_refused_request(self) -> None:
        pass

    def retry_after_ms(self) -> int:
        return 1000


def serve(port: int) -> None:
    web.run_app(
        build_rpc_app(StubService()), host="127.0.0.1", port=port, print=None, access_log=None
    )


def signed_transfers(count: int) -> list[str]:
    senders = [PrivateKey.from_seed(bytes([i + 1]) * 32) for i in range(64)]
    target = PrivateKey.from_seed(bytes([250]) * 32).public_key
    txs = []
    for index in range(count):
        key = senders[index % len(senders)]
        tx = Transaction(
            CHAIN_ID,
            key.public_key,
            index // len(senders),
            "coin.transfer",
            ("IDRA", target, 1 + index),
        )
        txs.append(tx.sign(key).encode().hex())
    return txs


async def run_single(url: str, txs: list[str], concurrency: int) -> float:
    queue = iter(txs)
    async with aiohttp.ClientSession() as session:

        async def worker() -> None:
            for item in queue:
                async with session.post(url + "/v1/txs", json={"tx": item}) as response:
                    if response.status != 202:
                        raise RuntimeError(f"submit answered {response.status}")
                    await response.read()

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return len(txs) / (time.perf_counter() - start)


async def run_batches(url: str, txs: list[str], batch: int, concurrency: int) -> float:
    batches = iter([txs[i : i + batch] for i in range(0, len(txs), batch)])
    async with aiohttp.ClientSession() as session:

        async def worker() -> None:
            for chunk in batches:
                async with session.post(url + "/v1/txs/batch", json={"txs": chunk}) as response:
                    body: Any = await response.json()
                    if response.status != 200 or not all(r["accepted"] for r in body["results"]):
                        raise RuntimeError(f"batch answered {response.status}")

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return len(txs) / (time.perf_counter() - start)


def verify_rate(txs: list[str]) -> float:
    decoded = [SignedTransaction.decode(bytes.fromhex(item)) for item in txs[:5000]]
    start = time.perf_counter()
    for stx in decoded:
        stx.verify_signature()
    return len(decoded) / (time.perf_counter() - start)


def rendered_documents(txs: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The JSON documents the RPC renders most, built by node/rpc/render.py's functions."""
    transactions = []
    frames = []
    for index, item in enumerate(txs):
        stx = SignedTransaction.decode(bytes.fromhex(item))
        event = Event("coin.transfer", (("from", stx.tx.sender), ("amount", 1 + index)))
        receipt = receipt_json(Receipt(stx.hash, True, "ok", "", (event,)))
        transactions.append({**tx_json(stx), "result": receipt})
        frames.append({"height": 7, "index": index, "hash": stx.hash.hex(), "receipt": receipt})
    block = {"height": 7, "hash": "ab" * 32, "transactions": transactions, "certificate": None}
    results = [
        {"hash": frame["hash"], "accepted": True, "code": "accepted", "message": None}
        for frame in frames[:1000]
    ]
    return {
        f"block of {len(txs)} txs": [block],
        "batch answer, 1,000 items": [{"results": results}],
        f"{len(txs)} SSE tx frames": frames,
    }


def time_json(repeat: int) -> None:
    """Best-of-`repeat` time to render each document with json.dumps and orjson.dumps."""
    import json

    import orjson

    encoders: dict[str, Callable[[Any], bytes]] = {
        "json.dumps": lambda value: json.dumps(value).encode(),
        "orjson.dumps": orjson.dumps,
    }
    for name, documents in rendered_documents(signed_transfers(2000)).items():
        # the same document either way (orjson only leaves out the spaces)
        assert [json.loads(orjson.dumps(d)) for d in documents] == documents
        times = {}
        for label, encode in encoders.items():
            best = float("inf")
            for _ in range(repeat):
                start = time.perf_counter()
                for document in documents:
                    encode(document)
                best = min(best, time.perf_counter() - start)
            times[label] = best
        size = sum(len(json.dumps(document)) for document in documents)
        print(
            f"{name:<28} {size / 1e3:>7,.0f} kB  json {times['json.dumps'] * 1e3:7.2f} ms"
            f"  orjson {times['orjson.dumps'] * 1e3:6.2f} ms"
            f"  ({times['json.dumps'] / times['orjson.dumps']:.1f}x)"
        )


def time_parse(batch: int, repeat: int) -> None:
    """Best-of-`repeat` µs per transaction of each step of a batch submission's parsing."""
    import json

    import orjson

    from node.rpc.models import SubmitBatch
    from node.rpc.params import decode_json, parse_hex, parse_model
    from node.rpc.routes_txs import decode_signed

    txs = signed_transfers(batch)
    body = json.dumps({"txs": txs}).encode()
    value = decode_json(body)
    raws = [bytes.fromhex(item) for item in txs]
    steps: dict[str, Callable[[], object]] = {
        "decode_json (body)": lambda: decode_json(body),
        "orjson.loads (body, for scale)": lambda: orjson.loads(body),
        "parse_model(SubmitBatch)": lambda: parse_model(SubmitBatch, value),
        "parse_hex": lambda: [parse_hex(item, "tx") for item in txs],
        "decode_signed + hash": lambda: [decode_signed(raw).hash for raw in raws],
    }
    for name, step in steps.items():
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            step()
            best = min(best, time.perf_counter() - start)
        print(f"{name:<32} {best / batch * 1e6:6.2f} us/tx")


def time_hostile(repeat: int) -> None:
    """µs to decode, or refuse, one transaction of each shape a client may send: a
    transfer, and 60 KB ones made of empty arrays (refused from their headers; the
    last with a float early on, which once let the rest through to the decoder)."""
    from ledger import codec
    from ledger.errors import CodecError

    key = PrivateKey.from_seed(bytes([7]) * 32)
    target = PrivateKey.from_seed(bytes([8]) * 32).public_key

    def transfer(memo: Any) -> bytes:
        tx = Transaction(CHAIN_ID, key.public_key, 0, "coin.transfer", ("IDRA", target, 1, memo))
        return tx.sign(key).encode()

    arrays = transfer([[]] * 60_000)
    at = arrays.index(b"\x01\xdc")  # the amount, then the memo's array header
    shapes = {
        "a transfer": transfer("thanks"),
        "60,000 empty arrays": arrays,
        "the same, a float amount": arrays[:at] + b"\xcb" + bytes(8) + arrays[at + 1 :],
        "1,020 empty arrays (accepted)": transfer([[]] * 1_020),
    }
    for name, data in shapes.items():
        best, outcome = float("inf"), "decoded"
        for _ in range(repeat):
            start = time.perf_counter()
            try:
                SignedTransaction.decode(data)
            except CodecError as exc:
                outcome = exc.code
            best = min(best, time.perf_counter() - start)
        print(f"{name:<32} {len(data):>7,} bytes  {best * 1e6:9.1f} us  {outcome}")
    # what decoding the arrays whole costs (the codec's full check, no count first)
    start = time.perf_counter()
    codec.decode(arrays, 1 << 20)
    elapsed = time.perf_counter() - start
    print(f"{'60,000 arrays, decoded whole':<32} {len(arrays):>7,} bytes  {elapsed * 1e6:9.1f} us")


def time_summary() -> None:
    """µs per transaction of a block summary's rendering, new senders and known ones."""
    from ledger.receipt import Outcome
    from node.rpc.render import tx_summary_json

    target = PrivateKey.from_seed(bytes([250]) * 32).public_key
    signed = []
    for index in range(2000):
        key = PrivateKey.from_seed(index.to_bytes(4, "big") * 8)
        tx = Transaction(CHAIN_ID, key.public_key, 0, "coin.transfer", ("IDRA", target, 1))
        signed.append(SignedTransaction.decode(tx.sign(key).encode()))
    outcomes = [Outcome(stx.hash, True, "ok") for stx in signed]
    for label in ("senders not named before", "the same senders again"):
        start = time.perf_counter()
        senders: dict[bytes, str] = {}  # one block's, as block_summary_json keeps
        for stx, outcome in zip(signed, outcomes, strict=True):
            tx_summary_json(stx, outcome, senders)
        elapsed = time.perf_counter() - start
        print(f"summary of a transfer, {label:<26} {elapsed / len(signed) * 1e6:6.2f} us/tx")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--txs", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--json", action="store_true", help="time JSON rendering only")
    parser.add_argument(
        "--parse", action="store_true", help="time a batch submission's parsing only"
    )
    parser.add_argument(
        "--summary", action="store_true", help="time a block summary's rendering only"
    )
    parser.add_argument(
        "--hostile", action="store_true", help="time decoding or refusing hostile transactions"
    )
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.json:
        time_json(options.repeat)
        return
    if options.parse:
        time_parse(options.batch, options.repeat)
        return
    if options.summary:
        time_summary()
        return
    if options.hostile:
        time_hostile(options.repeat)
        return
    if options.serve:
        serve(options.serve)
        return
    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.1)
        txs = signed_transfers(options.txs)
        print(f"Ed25519 verify, 1 thread:         {verify_rate(txs):>9,.0f} /s")
        single = asyncio.run(run_single(url, txs, options.concurrency))
        print(
            f"POST /v1/txs, one tx per request: {single:>9,.0f} tx/s  ({options.concurrency} conns)"
        )
        batched = asyncio.run(run_batches(url, txs, options.batch, 2))
        print(f"POST /v1/txs/batch of {options.batch}:       {batched:>9,.0f} tx/s  (2 conns)")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
