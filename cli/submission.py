"""Signing a transaction and submitting it, stepping past nonces still in the mempool.

Shared by `pasar tx` and the merchant SDK (cli/merchant): both fetch the
committed nonce, and a transaction sent a moment ago may still hold it in the
mempool (`nonce_taken`), so the next nonce is tried, a bounded number of times.

A caller with a deadline (`busy_until`: `pasar tx --busy-wait`, the merchant
SDK's wait) also rides out a busy node: a 429 (`mempool_full`,
`sender_backlog_full`, `nonce_gap_full`) is retried with the same signed bytes after the node's
retry time (`Retry-After-Ms`, else `Retry-After`) times a factor drawn from
[1, 1.5), while that still ends before the deadline. The jitter matters: clients
refused in the same instant with the same wait would otherwise all come back in
one burst (docs/node.md,
"Load generator"). `submit_signed` is that retry alone, for a transaction signed
already (`pasar tx submit`); `sign_and_submit` signs and uses it.
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


BUSY_CODES = frozenset({"mempool_full", "sender_backlog_full", "nonce_gap_full"})
RETRY_JITTER = 0.5  # a busy retry waits Retry-After × a factor drawn from [1, 1 + this)


# told before each busy retry: the node's refusal and the seconds about to be waited
WaitNotice = Callable[[NodeReplyError, float], None]


def busy_deadline(seconds: float) -> float | None:
    """The `busy_until` of a wait budget in seconds from now (0: do not wait)."""
    return time.monotonic() + seconds if seconds > 0 else None


def is_busy(exc: NodeReplyError) -> bool:
    """Whether a refusal means "not now": a full pool or a sender over its share."""
    return exc.status == 429 and exc.code in BUSY_CODES


def submit_signed(
    client: NodeClient,
    stx: SignedTransaction,
    busy_until: float | None = None,
    *,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], None] | None = None,
    rng: random.Random | None = None,
    on_wait: WaitNotice | None = None,
) -> Any:
    """POST a signed transaction and answer the node's admission.

    With `busy_until` (a `clock` time, by default `time.monotonic`), a 429 of a busy
    node is retried with the same bytes after its jittered `Retry-After`, as long as
    the retry starts before then (`on_wait` is told first); otherwise, or past it,
    the 429 is raised."""
    now = clock if clock is not None else time.monotonic  # looked up per call: tests swap it
    pause = sleep if sleep is not None else time.sleep
    draw = rng if rng is not None else random
    encoded = stx.encode()
    while True:
        try:
            return client.submit(encoded)
        except NodeReplyError as exc:
            if not is_busy(exc) or busy_until is None:
                raise
            after = 1.0 if exc.retry_after is None else exc.retry_after
            wait = after * draw.uniform(1.0, 1.0 + RETRY_JITTER)
            if now() + wait >= busy_until:
                raise
            if on_wait is not None:
                on_wait(exc, wait)
            pause(wait)


def sign_and_submit(
    client: NodeClient,
    tx: Transaction,
    keys: list[PrivateKey],
    nonce_fixed: bool = False,
    busy_until: float | None = None,
    *,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], None] | None = None,
    rng: random.Random | None = None,
    on_wait: WaitNotice | None = None,
) -> tuple[SignedTransaction, Any]:
    """Sign `tx` with `keys` and POST it; answer the signed tx and the node's admission.

    Unless `nonce_fixed` (the caller chose the nonce), a `nonce_taken` refusal moves
    to the next nonce and signs again. A busy node is ridden out by `submit_signed`
    within `busy_until` (the same deadline across nonces)."""
    steps = 0
    stx = tx.sign(*keys)
    while True:
        try:
            answer = submit_signed(
                client, stx, busy_until, clock=clock, sleep=sleep, rng=rng, on_wait=on_wait
            )
            return stx, answer
        except NodeReplyError as exc:
            if exc.code != "nonce_taken" or nonce_fixed:
                raise
            steps += 1
            if steps >= MAX_NONCE_STEPS:
                raise CliError(
                    f"{MAX_NONCE_STEPS} pending transactions already use the next nonces"
                ) from exc
            tx = replace(tx, nonce=tx.nonce + 1)
            stx = tx.sign(*keys)
