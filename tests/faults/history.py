"""A load client that records a history: every submission and every answer, with times.

`LoadClient` runs a few worker threads against a LocalNet. Each worker owns some
accounts and a home validator (rotating on errors, as a client would). For each
transaction it reads the sender's nonce from the node, submits one signed tx
(POST /v1/txs/batch), records the answer, then asks for its status
(GET /v1/txs/{hash}?wait=) and records that answer too. The issuer worker mixes
in `coin.mint` and `coin.burn` so the supply check has something to check.

Answers are recorded as they came; nothing is inferred. A tx answered
"committed" carries the height and index the node claimed: the checker
(tests/faults/checker.py) holds every honest node to that claim.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ledger.keys import PrivateKey, address_to_text
from ledger.tx import SignedTransaction, Transaction
from tests.integration.harness import SYMBOL, LocalNet, http


@dataclass(frozen=True)
class Event:
    """One history entry: what was asked or answered, when (monotonic seconds)."""

    at: float
    kind: str  # "submit", "answer", "status", "error"
    tx: str  # tx hash (hex)
    node: int
    detail: dict[str, Any] = field(default_factory=dict)


class History:
    """Thread-safe append-only list of events."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._lock = threading.Lock()

    def add(self, kind: str, tx: str, node: int, **detail: Any) -> None:
        with self._lock:
            self.events.append(Event(time.monotonic(), kind, tx, node, detail))

    def snapshot(self) -> list[Event]:
        with self._lock:
            return list(self.events)

    def committed(self) -> dict[str, tuple[int, int, int]]:
        """tx hash -> (height, index, answering node) for every 'committed' status answer."""
        result: dict[str, tuple[int, int, int]] = {}
        for event in self.snapshot():
            if event.kind == "status" and event.detail.get("status") == "committed":
                result.setdefault(
                    event.tx, (int(event.detail["height"]), int(event.detail["index"]), event.node)
                )
        return result

    def commit_times(self) -> list[float]:
        return sorted(
            e.at
            for e in self.snapshot()
            if e.kind == "status" and e.detail.get("status") == "committed"
        )


class LoadClient:
    """Worker threads submitting transfers (and the issuer's mints/burns) until stopped."""

    def __init__(
        self,
        net: LocalNet,
        workers: int = 3,
        pause: float = 0.05,
        targets: Sequence[int] | None = None,
    ) -> None:
        self.net = net
        # the validators clients talk to (not a Byzantine one: its answers prove nothing)
        self.targets = list(targets) if targets is not None else list(range(len(net.nodes)))
        self.history = History()
        self.pause = pause
        self._stop = threading.Event()
        count = len(net.accounts)
        groups = [list(range(w, count, workers)) for w in range(workers)]
        self._threads = [
            threading.Thread(target=self._worker, args=(w, groups[w]), daemon=True)
            for w in range(workers)
        ]
        self._threads.append(threading.Thread(target=self._issuer, daemon=True))

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            if thread.ident is not None:  # started: a run that failed early never was
                thread.join(timeout=30)

    # -- one transaction -----------------------------------------------------------

    def _nonce(self, node: int, key: PrivateKey) -> int:
        address = address_to_text(key.public_key)
        code, body = http("GET", self.net.url(node, f"/v1/accounts/{address}"), timeout=3.0)
        if code != 200:
            raise OSError(f"account answered {code}")
        return int(body["nonce"])

    def _one(self, node: int, key: PrivateKey, method: str, args: tuple[Any, ...]) -> bool:
        """Submit one tx and follow it; False when the node did not answer (try another)."""
        try:
            nonce = self._nonce(node, key)
        except (OSError, ValueError):
            return False
        tx = Transaction(self.net.chain_id, key.public_key, nonce, method, args)
        stx: SignedTransaction = tx.sign(key)
        tx_hash = stx.hash.hex()
        self.history.add("submit", tx_hash, node, method=method, nonce=nonce, args=repr(args))
        try:
            code, answer = http(
                "POST",
                self.net.url(node, "/v1/txs/batch"),
                {"txs": [stx.encode().hex()]},
                timeout=5.0,
            )
        except OSError as exc:
            self.history.add("error", tx_hash, node, error=repr(exc))
            return False
        result = answer["results"][0] if code == 200 else {"code": code, "accepted": False}
        self.history.add("answer", tx_hash, node, **result)
        if not result.get("accepted"):
            return True
        for _ in range(3):  # bounded follow-up; a tx may commit later without us seeing it
            if self._stop.is_set():
                return True
            try:
                code, status = http(
                    "GET", self.net.url(node, f"/v1/txs/{tx_hash}?wait=2"), timeout=5.0
                )
            except OSError as exc:
                self.history.add("error", tx_hash, node, error=repr(exc))
                return False
            if code == 200 and status.get("status") == "committed":
                ok = bool(status.get("receipt", {}).get("ok"))
                self.history.add(
                    "status",
                    tx_hash,
                    node,
                    status="committed",
                    height=status["height"],
                    index=status["index"],
                    ok=ok,
                )
                return True
            self.history.add("status", tx_hash, node, status=str(status.get("status", code)))
        return True

    def _next(self, node: int) -> int:
        return self.targets[(self.targets.index(node) + 1) % len(self.targets)]

    def _worker(self, worker: int, accounts: list[int]) -> None:
        node = self.targets[worker % len(self.targets)]
        step = 0
        while not self._stop.is_set():
            sender = accounts[step % len(accounts)]
            receiver = (sender + 1 + step) % len(self.net.accounts)
            to = self.net.accounts[receiver].public_key
            args = (SYMBOL, to, 1 + step % 7)
            if not self._one(node, self.net.accounts[sender], "coin.transfer", args):
                node = self._next(node)
                self._stop.wait(0.2)
            step += 1
            self._stop.wait(self.pause)

    def _issuer(self) -> None:
        node = self.targets[-1]
        issuer = self.net.issuer
        step = 0
        while not self._stop.is_set():
            # Mint twice, burn once: the issuer's balance grows, so burns can succeed.
            if step % 3 == 2:
                method, args = "coin.burn", (SYMBOL, 3)
            else:
                method, args = "coin.mint", (SYMBOL, issuer.public_key, 5)
            if not self._one(node, issuer, method, args):
                node = self._next(node)
                self._stop.wait(0.2)
            step += 1
            self._stop.wait(self.pause * 4)
