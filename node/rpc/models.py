"""Request bodies of the RPC, checked strictly at the edge and converted at once.

`strict=True` refuses "5" for an integer and 5 for a string; `extra="forbid"`
refuses unknown fields, so a typo in a field name is an error, not a silent no-op.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ledger.tx import MAX_NONCE, MAX_TIME_MS

MAX_BATCH = 1000


class EdgeModel(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class SubmitTx(EdgeModel):
    """Either `tx` (signed transaction) or `unsigned_tx` plus `signature`, all hex."""

    tx: str | None = None
    unsigned_tx: str | None = None
    signature: str | None = None


class SubmitBatch(EdgeModel):
    txs: list[str] = Field(max_length=MAX_BATCH)


class EncodeTx(EdgeModel):
    """A JSON description of an unsigned transaction (see node.rpc.values for args)."""

    sender: str
    method: str = Field(min_length=1, max_length=64)
    args: list[Any] = Field(default_factory=list, max_length=256)
    nonce: int | None = Field(default=None, ge=0, le=MAX_NONCE)
    chain_id: str | None = Field(default=None, min_length=1, max_length=64)
    expiry_ms: int = Field(default=0, ge=0, le=MAX_TIME_MS)
