"""The commerce mix of the load generator (`bench/loadgen.py --mix`).

Next to the plain-transfer ladder, the same offered rates with what a shop chain
carries, per 20 pre-signed transactions (escrow follow-ups come on top):

- 6 payment.pay through a platform taking 2.5 % commission,
- 4 invoice.pay of an IDRX invoice paid in EMAS: a swap on the order book,
- 2 order.place into escrow, each followed by the seller's escrow.ship once the
  order is committed and the buyer's escrow.confirm once the shipment is,
- 3 transfers from accounts whose policy needs two of their two keys (multi-key),
- 5 plain coin.transfer,

so of all transactions about a quarter are payments, a sixth invoice swaps, a
quarter the three escrow steps, an eighth multi-key transfers and a fifth plain
transfers. A setup phase (not measured) publishes the arbiter's schedule, lists
the sellers' items, seeds the book with bids for EMAS, creates every invoice the
ladder will pay and gives the multi-key accounts their policy; genesis funds
everyone. Everything is signed ahead except the shipments: a seller's nonces
follow the order in which its orders commit.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from contracts.escrow import order_id_for
from contracts.exchange import PRICE_SCALE
from contracts.listing import listing_id_for
from ledger.keys import PrivateKey, address_to_text
from ledger.tx import Transaction

SETTLE, OTHER = "IDRX", "EMAS"
PRICE = 25_000  # IDRX: payments, transfers, invoices and the listed item
EMAS_PRICE = 250 * PRICE_SCALE  # IDRX per EMAS
MAX_EMAS = 200  # an invoice of 25,000 IDRX takes about 100 EMAS at the bids' prices
DAY_MS = 24 * 3600 * 1000
SELLERS = 16
MERCHANTS = 64
MAKERS = 16
MULTI_KEY_ACCOUNTS = 200
FUNDS = 10**12
# slot kinds, in the order of one round of 20 pre-signed transactions
ROUND = (
    "pay", "tx", "inv", "multi", "pay", "place", "tx", "pay", "inv", "tx",
    "pay", "multi", "inv", "tx", "pay", "place", "pay", "inv", "multi", "tx",
)  # fmt: skip


def key(role: str, index: int) -> PrivateKey:
    return PrivateKey.from_seed(hashlib.sha256(f"loadmix/{role}/{index}".encode()).digest())


def signed(
    chain_id: str, signers: list[PrivateKey], nonce: int, method: str, *args: Any
) -> tuple[bytes, str]:
    """(hash, hex) of a transaction from the first signer's account."""
    tx = Transaction(chain_id, signers[0].public_key, nonce, method, tuple(args))
    stx = tx.sign(*signers)
    return stx.hash, stx.encode().hex()


def count_of(kind: str, total: int) -> int:
    """How many of the first `total` slots are of `kind`."""
    per_round = ROUND.count(kind)
    rounds, rest = divmod(total, len(ROUND))
    return rounds * per_round + ROUND[:rest].count(kind)


@dataclass
class Followup:
    """What happens once a placed order, then its shipment, commits."""

    seller: int
    order_id: bytes
    confirm: tuple[bytes, str]  # the buyer's escrow.confirm, signed ahead (nonce 1)


@dataclass
class CommerceMix:
    chain_id: str
    buyers: int  # accounts taking payments, invoices and plain transfers
    total: int  # pre-signed transactions the ladder may offer
    platform: PrivateKey = field(default_factory=lambda: key("platform", 0))
    arbiter: PrivateKey = field(default_factory=lambda: key("arbiter", 0))

    def __post_init__(self) -> None:
        self.buyer_keys = [key("buyer", i) for i in range(self.buyers)]
        self.sellers = [key("seller", i) for i in range(SELLERS)]
        self.merchants = [key("merchant", i) for i in range(MERCHANTS)]
        self.makers = [key("maker", i) for i in range(MAKERS)]
        self.multi = [(key("multi", i), key("cosigner", i)) for i in range(MULTI_KEY_ACCOUNTS)]
        self.escrow_buyers = [key("escrow", i) for i in range(count_of("place", self.total))]
        self.invoices: list[bytes] = []
        self.listings: list[bytes] = []
        self.seller_nonce = [1] * SELLERS  # nonce 0 lists the item
        self.followups: dict[bytes, Followup] = {}  # place hash -> what follows
        self.shipped: dict[bytes, tuple[int, tuple[bytes, str]]] = {}  # ship hash -> confirm

    def app_state(self) -> dict[str, Any]:
        funded = self.buyer_keys + self.makers + self.escrow_buyers
        funded += [owner for owner, _ in self.multi]
        issuer = address_to_text(self.platform.public_key)
        return {
            "coin": [
                [
                    [SETTLE, "Rupiah", 0, issuer, 10**18, "platform"],
                    [OTHER, "Gold", 0, issuer, 10**18, "platform"],
                ],
                [
                    [address_to_text(k.public_key), symbol, FUNDS]
                    for k in funded
                    for symbol in (SETTLE, OTHER)
                ],
            ],
            "roles": [
                [issuer, "mall", 250],
                [address_to_text(self.arbiter.public_key), "court", 0],
            ],
        }

    def setup(self, now_ms: int) -> list[list[tuple[bytes, str]]]:
        """Setup transactions in rounds: each round's must commit before the next."""
        c = self.chain_id
        first = [signed(c, [self.arbiter], 0, "arbiter.publish", 300, 3 * DAY_MS)]
        for index, seller in enumerate(self.sellers):
            item = signed(
                c,
                [seller],
                0,
                "listing.create",
                f"item {index}",
                f"SKU-{index}",
                PRICE,
                SETTLE,
                10**9,
                self.platform.public_key,
                [self.arbiter.public_key],
                2 * DAY_MS,
                7 * DAY_MS,
            )
            self.listings.append(listing_id_for(item[0]))
            first.append(item)
        for n, maker in enumerate(self.makers):  # bids for EMAS just under 250 IDRX
            for level in range(8):
                price = EMAS_PRICE - (n * 8 + level + 1) * PRICE_SCALE // 100
                first.append(
                    signed(c, [maker], level, "exchange.order", OTHER, SETTLE, "buy", price, 10**7)
                )
        for owner, cosigner in self.multi:
            keys = sorted([[owner.public_key, 1], [cosigner.public_key, 1]])
            policy = [keys, [1, 2, 2], 0, [], None]
            first.append(signed(c, [owner], 0, "account.set_policy", policy))
        invoices = []
        count = count_of("inv", self.total)
        expiry = now_ms + 30 * DAY_MS
        for i in range(count):
            merchant, nonce = self.merchants[i % MERCHANTS], i // MERCHANTS
            created = signed(
                c, [merchant], nonce, "invoice.create", SETTLE, PRICE, expiry, "order", b""
            )
            self.invoices.append(created[0])
            invoices.append(created)
        return [first, invoices]

    def streams(self, lanes: int) -> list[list[tuple[bytes, str]]]:
        """Per lane, the pre-signed transactions in send order (an account, one lane)."""
        c = self.chain_id
        out: list[list[tuple[bytes, str]]] = [[] for _ in range(lanes)]
        nonces = [0] * self.buyers
        multi_nonces = [1] * MULTI_KEY_ACCOUNTS  # nonce 0 set the policy
        counters = dict.fromkeys(ROUND, 0)
        platform = self.platform.public_key
        for slot in range(self.total):
            kind = ROUND[slot % len(ROUND)]
            n = counters[kind]
            counters[kind] += 1
            if kind == "multi":
                index = n % MULTI_KEY_ACCOUNTS
                owner, cosigner = self.multi[index]
                to = self.buyer_keys[n % self.buyers].public_key
                item = signed(
                    c, [owner, cosigner], multi_nonces[index], "coin.transfer", SETTLE, to, PRICE
                )
                multi_nonces[index] += 1
                out[(self.buyers + index) % lanes].append(item)
                continue
            if kind == "place":
                buyer = self.escrow_buyers[n]
                seller = n % SELLERS
                item = signed(
                    c, [buyer], 0, "order.place", self.listings[seller], 1, PRICE,
                    self.arbiter.public_key,
                )  # fmt: skip
                order_id = order_id_for(item[0])
                confirm = signed(c, [buyer], 1, "escrow.confirm", order_id)
                self.followups[item[0]] = Followup(seller, order_id, confirm)
                out[n % lanes].append(item)
                continue
            index = slot % self.buyers
            buyer = self.buyer_keys[index]
            merchant = self.merchants[slot % MERCHANTS].public_key
            if kind == "pay":
                item = signed(
                    c, [buyer], nonces[index], "payment.pay", platform, merchant, SETTLE, PRICE, "r"
                )
            elif kind == "inv":
                invoice = self.invoices[n]
                item = signed(c, [buyer], nonces[index], "invoice.pay", invoice, OTHER, MAX_EMAS)
            else:
                item = signed(c, [buyer], nonces[index], "coin.transfer", SETTLE, merchant, PRICE)
            nonces[index] += 1
            out[index % lanes].append(item)
        return out

    def committed(self, tx_hash: bytes) -> tuple[int, tuple[bytes, str]] | None:
        """What to send now that `tx_hash` committed: (seller, transaction) or None.

        A committed order gets its shipment (signed now: a seller's nonces follow the
        order in which its orders commit), a committed shipment the buyer's confirm.
        Both go through the seller's lane, so the seller's nonces stay in order."""
        followup = self.followups.pop(tx_hash, None)
        if followup is not None:
            seller = followup.seller
            nonce = self.seller_nonce[seller]
            self.seller_nonce[seller] += 1
            tracking = hashlib.sha256(followup.order_id).digest()
            ship = signed(
                self.chain_id, [self.sellers[seller]], nonce, "escrow.ship", followup.order_id,
                tracking,
            )  # fmt: skip
            self.shipped[ship[0]] = (seller, followup.confirm)
            return seller, ship
        return self.shipped.pop(tx_hash, None)
