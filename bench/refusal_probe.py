"""Refusal probe: how soon a node answers a submission, timed by a process of its own.

    python bench/refusal_probe.py --url http://127.0.0.1:27600 --hz 20 --seconds 60

The load generator times every answer it gets, but under overload its own event
loop runs late (it prints that lag), and a late loop reads an answer late: its
429 times are the node's answer time plus the generator's lag. This probe is a
separate process with blocking sockets and nothing else to do, so what it
measures is the node (and the machine's scheduler), not a busy client.

It sends `POST /v1/txs/batch` at `--hz` requests per second in all, in turn to
each `--url`, over one kept-alive connection per node. The body's one item is
not a transaction, so the probe never adds to the load: a node with room decodes
it and answers 400, a node whose mempool is full answers 429 `mempool_full`
before reading the body (docs/node.md, "Admission"). At the end it prints one
JSON object on stdout: for each status, how many answers and their p50, p99 and
largest time in milliseconds, from the request's first byte to the answer's last.
Answers without a `Server` header are counted a second time under
`<status>_front`: a node's RPC front (node/rpc_front.py) names nothing, while the
node behind it (aiohttp) does, so the two sets tell the front's own refusals from
those the node decided after the front let the request through.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import time
import urllib.parse

BODY = json.dumps({"txs": ["00"]}).encode()
HEADERS = {"Content-Type": "application/json"}


def percentile(values: list[float], fraction: float) -> float:
    """The `fraction` percentile of `values` by nearest rank (nan when there are none);
    bench/loadgen.py uses it too."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def summary(times: dict[str, list[float]], errors: int) -> dict[str, object]:
    """Per status: count, p50, p99 and max (ms); plus the requests that got no answer."""
    answers: dict[str, object] = {}
    for status, values in sorted(times.items()):
        answers[status] = {
            "count": len(values),
            "p50_ms": round(percentile(values, 0.5) * 1000, 1),
            "p99_ms": round(percentile(values, 0.99) * 1000, 1),
            "max_ms": round(max(values) * 1000, 1),
        }
    return {"answers": answers, "errors": errors}


def connect(url: str) -> http.client.HTTPConnection:
    parts = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)


def probe(urls: list[str], hz: float, seconds: float) -> dict[str, object]:
    """Send the probe requests on a fixed schedule for `seconds`; answer the summary."""
    connections = [connect(url) for url in urls]
    times: dict[str, list[float]] = {}
    errors = 0
    start = time.monotonic()
    sent = 0
    while True:
        if sent / hz >= seconds:  # not due - start: start + x - start need not be x
            break
        due = start + sent / hz
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        index = sent % len(urls)
        sent += 1
        began = time.perf_counter()
        try:
            connection = connections[index]
            connection.request("POST", "/v1/txs/batch", body=BODY, headers=HEADERS)
            response = connection.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            errors += 1
            connections[index].close()
            connections[index] = connect(urls[index])
            continue
        took = time.perf_counter() - began
        times.setdefault(str(response.status), []).append(took)
        if response.getheader("Server") is None:
            times.setdefault(f"{response.status}_front", []).append(took)
        if response.getheader("Connection", "").lower() == "close":
            connections[index].close()
            connections[index] = connect(urls[index])
    for connection in connections:
        connection.close()
    return summary(times, errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", action="append", required=True, help="a node's RPC URL")
    parser.add_argument("--hz", type=float, default=20.0, help="requests per second in all")
    parser.add_argument("--seconds", type=float, required=True)
    args = parser.parse_args()
    if args.hz <= 0 or args.seconds <= 0:
        sys.exit("--hz and --seconds must be positive")
    print(json.dumps(probe(args.url, args.hz, args.seconds)), flush=True)


if __name__ == "__main__":
    main()
