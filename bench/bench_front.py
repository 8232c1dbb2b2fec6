"""What the RPC front costs per request it relays, next to what the node costs.

    python bench/bench_front.py --requests 5000
    python bench/bench_front.py --requests 5000 --path /v1/blocks/1 --no-front
    python bench/bench_front.py --requests 3000 --path /v1/txs/batch --body '{"txs": ["00"]}'

Starts one validator (a real `pasar node` process on loopback, its own LevelDB
home in a temporary directory), sends `--requests` requests one after another
over one kept-alive connection, and prints the CPU time, user and kernel, the
node process and its RPC front (node/rpc_front.py) each used per request, read
from /proc, and the wall time per request. `--no-front` runs the node with
`[rpc] front = false`, so the same requests show what the relay adds. `--body`
POSTs that JSON instead of a GET: the third line above is the refusal probe's
request (bench/refusal_probe.py), which a node with room answers 400.
"""

from __future__ import annotations

import argparse
import dataclasses
import http.client
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ledger.keys import PrivateKey, address_to_text  # noqa: E402
from node.home import CONFIG_FILE, config_to_toml, create_testnet, load_home  # noqa: E402


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(user, kernel) CPU seconds of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / ticks, int(fields[12]) / ticks


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.extend(int(part) for part in (task / "children").read_text().split())
    return found


def connect(port: int, timeout: float) -> http.client.HTTPConnection:
    deadline = time.monotonic() + timeout
    while True:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.request("GET", "/v1/status")
            connection.getresponse().read()
            return connection
        except OSError:
            connection.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--path", default="/v1/status")
    parser.add_argument("--port", type=int, default=28900)
    parser.add_argument("--no-front", action="store_true")
    parser.add_argument(
        "--body",
        help="POST this JSON body to --path instead of a GET (e.g. the refusal probe's: "
        '--path /v1/txs/batch --body \'{"txs": ["00"]}\')',
    )
    args = parser.parse_args()
    home_root = Path(tempfile.mkdtemp(prefix="pasar-bench-front-"))
    issuer = PrivateKey.from_seed(bytes([200]) * 32)
    coin = [["IDRX", "Rupiah", 0, address_to_text(issuer.public_key), 10**15, "open"]]
    (node,) = create_testnet(
        home_root,
        ["v0"],
        base_port=args.port,
        chain_id="bench-front",
        app_state={"coin": [coin, []]},
        insecure=True,
    )
    if args.no_front:
        config = dataclasses.replace(load_home(node.home).config, rpc_front=False)
        (node.home / CONFIG_FILE).write_text(config_to_toml(config))
    log = open(home_root / "v0.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "node", "--home", str(node.home)],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        connection = connect(args.port, 30)
        time.sleep(2)  # past the first blocks and the start-up collections
        fronts = children(process.pid)
        pids = {"node": [process.pid], "front": fronts}
        before = {name: [cpu_seconds(pid) for pid in group] for name, group in pids.items()}
        started = time.perf_counter()
        statuses: dict[int, int] = {}
        body = None if args.body is None else args.body.encode()
        headers = {} if body is None else {"Content-Type": "application/json"}
        for _ in range(args.requests):
            if body is None:
                connection.request("GET", args.path)
            else:
                connection.request("POST", args.path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            statuses[response.status] = statuses.get(response.status, 0) + 1
        wall = time.perf_counter() - started
        method = "GET" if body is None else "POST"
        parts = [f"requests={args.requests} {method} {args.path} statuses={statuses}"]
        for name, group in pids.items():
            if not group:
                continue
            after = [cpu_seconds(pid) for pid in group]
            user = sum(a[0] - b[0] for a, b in zip(after, before[name], strict=True))
            kernel = sum(a[1] - b[1] for a, b in zip(after, before[name], strict=True))
            per = 1e6 / args.requests
            parts.append(
                f"{name}_us_per_request={(user + kernel) * per:.0f} "
                f"(user {user * per:.0f}, kernel {kernel * per:.0f})"
            )
        parts.append(f"wall_us_per_request={wall / args.requests * 1e6:.0f}")
        print(" ".join(parts))
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()
        shutil.rmtree(home_root, ignore_errors=True)


if __name__ == "__main__":
    main()
