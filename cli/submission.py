"""Signing a transaction and submitting it, stepping past nonces still in the mempool.

Shared by `pasar tx` and the merchant SDK (cli/merchant): both fetch the
committed nonce, and a transaction sent a moment ago may still hold it in the
mempool (`nonce_taken`), so the next nonce is tried, a bounded number of times.

A caller with a deadline (`busy_until`, the merchant SDK's wait) also rides out a
busy node: a 429 (`mempool_full`, `sender_backlog_full`) is retried with the same
signed bytes after the node's `Retry-After` times a factor drawn from [1, 1.5),
while that still ends before the deadline. The jitter matters: clients refused in
the same instant with the same whole second would otherwise all come back in one
burst (docs/node.md, "Load generator").
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from cli.client import NodeClient, NodeReplyError
from cli.common import CliError
from ledger.keys import PrivateKey
from ledger.tx import SignedTransaction, Transaction

MAX_NONCE_STEPS = 64


BUSY_CODES = frozenset({"mempool_full", "sender_backlog_full"})
RETRY_JITTER = 0.5  # a busy retry waits Retry-After × a factor drawn from [1, 1 + this)


def sign_and_submit(
    client: NodeClient,
    tx: Transaction,
    keys: list[PrivateKey],
    nonce_fixed: bool = False,
    busy_until: float | None = None,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> tuple[SignedTransaction, Any]:
    """Sign `tx` with `keys` and POST it; answer the signed tx and the node's admission.

    Unless `nonce_fixed` (the caller chose the nonce), a `nonce_taken` refusal moves
    to the next nonce and signs again. With `busy_until` (a `clock` time), a 429 is
    retried after its jittered `Retry-After` as long as the retry starts before then;
    otherwise, or past it, the 429 is raised.
    """
    draw = rng if rng is not None else random
    steps = 0
    stx = tx.sign(*keys)
    while True:
        try:
            return stx, client.submit(stx.encode())
        except NodeReplyError as exc:
            if exc.code == "nonce_taken" and not nonce_fixed:
                steps += 1
                if steps >= MAX_NONCE_STEPS:
                    raise CliError(
                        f"{MAX_NONCE_STEPS} pending transactions already use the next nonces"
                    ) from exc
                tx = replace(tx, nonce=tx.nonce + 1)
                stx = tx.sign(*keys)
                continue
            if exc.status != 429 or exc.code not in BUSY_CODES or busy_until is None:
                raise
            after = 1.0 if exc.retry_after is None else exc.retry_after
            wait = after * draw.uniform(1.0, 1.0 + RETRY_JITTER)
            if clock() + wait >= busy_until:
                raise
            sleep(wait)
