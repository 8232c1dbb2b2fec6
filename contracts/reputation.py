"""Seller reputation, kept from what the chain did: how orders ended, and buyers' ratings.

    reputation/seller/<seller>  -> SellerRecord.to_list()
    reputation/rating/<order>   -> [stars, review_hash, time_ms]

Escrow calls `record_order_end` exactly once per order, in the transaction (or
end-of-block step) that ends it, so the record is a pure function of the orders
on the chain: completed, refunded (refunds and auto-refunds), cancelled, and for
orders that went through a dispute, won (the seller kept more than the buyer got
back) or lost. A buyer may rate an ended order once (`order.rate`, see
contracts.escrow): only real orders can be rated, and only by their buyer. The
average rating is kept as an exact fraction (sum of stars over count).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from math import gcd
from typing import Any

from ledger import codec
from ledger.kv import KVReader
from ledger.state import StateView

SELLER_PREFIX = b"reputation/seller/"
RATING_PREFIX = b"reputation/rating/"
MIN_STARS = 1
MAX_STARS = 5


@dataclass(frozen=True, slots=True)
class SellerRecord:
    completed: int = 0
    refunded: int = 0
    cancelled: int = 0
    disputes_won: int = 0
    disputes_lost: int = 0
    ratings: int = 0
    stars: int = 0  # the sum of every rating's stars

    def to_list(self) -> list[int]:
        return [
            self.completed,
            self.refunded,
            self.cancelled,
            self.disputes_won,
            self.disputes_lost,
            self.ratings,
            self.stars,
        ]

    def average(self) -> tuple[int, int] | None:
        """The average rating as a reduced fraction (numerator, denominator)."""
        if self.ratings == 0:
            return None
        divisor = gcd(self.stars, self.ratings)
        return self.stars // divisor, self.ratings // divisor

    def to_json(self) -> dict[str, Any]:
        average = self.average()
        return {
            "completed": self.completed,
            "refunded": self.refunded,
            "cancelled": self.cancelled,
            "disputes_won": self.disputes_won,
            "disputes_lost": self.disputes_lost,
            "ratings": self.ratings,
            "stars": self.stars,
            "average_rating": None
            if average is None
            else {"numerator": average[0], "denominator": average[1]},
        }


def seller_record(reader: StateView | KVReader, seller: bytes) -> SellerRecord:
    raw = reader.get(SELLER_PREFIX + seller)
    return SellerRecord() if raw is None else SellerRecord(*codec.decode(raw))


def _save(state: StateView, seller: bytes, record: SellerRecord) -> None:
    state.put_value(SELLER_PREFIX + seller, record.to_list())


def record_order_end(
    state: StateView, seller: bytes, final_state: str, disputed: bool, seller_kept_more: bool
) -> None:
    """Count an order that has just ended in its seller's record."""
    record = seller_record(state, seller)
    if final_state == "completed":
        record = replace(record, completed=record.completed + 1)
    elif final_state == "refunded":
        record = replace(record, refunded=record.refunded + 1)
    elif final_state == "cancelled":
        record = replace(record, cancelled=record.cancelled + 1)
    if disputed:
        if seller_kept_more:
            record = replace(record, disputes_won=record.disputes_won + 1)
        else:
            record = replace(record, disputes_lost=record.disputes_lost + 1)
    _save(state, seller, record)


def rating(reader: StateView | KVReader, order_id: bytes) -> tuple[int, bytes, int] | None:
    """(stars, review hash, time) of an order's rating, if it has one."""
    raw = reader.get(RATING_PREFIX + order_id)
    if raw is None:
        return None
    stars, review, time_ms = codec.decode(raw)
    return int(stars), bytes(review), int(time_ms)


def add_rating(
    state: StateView, seller: bytes, order_id: bytes, stars: int, review: bytes, time_ms: int
) -> None:
    """Store an order's one rating and add it to the seller's record."""
    state.put_value(RATING_PREFIX + order_id, [stars, review, time_ms])
    record = seller_record(state, seller)
    _save(state, seller, replace(record, ratings=record.ratings + 1, stars=record.stars + stars))
