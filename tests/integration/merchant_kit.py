"""A testnet with a merchant whose shop server holds a scoped key, for SDK tests.

`ShopNet` starts real validators (tests/integration/harness.py) whose genesis
makes `arbiter` a platform (arbiters must be), and gives the merchant account a
policy with one scoped key that may create and cancel invoices and ship orders.
`chain_tx` signs and commits any other transaction (the buyer's payment, a
listing) through the project's client library.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cli.client import NodeClient
from ledger.keys import PrivateKey, address_to_text
from ledger.tx import Transaction
from node.home import GENESIS_FILE
from tests.accountkit import policy
from tests.integration.harness import SYMBOL, LocalNet

SHOP_METHODS = ("escrow.ship", "invoice.cancel", "invoice.create")


class ShopNet:
    """Accounts: merchant (seller), buyer, arbiter; `shop_key` is the scoped key."""

    def __init__(self, root: Path, count: int = 1) -> None:
        self.merchant_key = PrivateKey.from_seed(bytes([2]) * 32)
        self.buyer_key = PrivateKey.from_seed(bytes([3]) * 32)
        self.arbiter_key = PrivateKey.from_seed(bytes([4]) * 32)
        self.shop_key = PrivateKey.from_seed(bytes([77]) * 32)
        roles = [[address_to_text(self.arbiter_key.public_key), "Resolusi", 0]]
        self.net = LocalNet(root, count=count, accounts=4, extra_app_state={"roles": roles})
        self.symbol = SYMBOL
        self.merchant = address_to_text(self.merchant_key.public_key)
        self.buyer = address_to_text(self.buyer_key.public_key)
        self.arbiter = address_to_text(self.arbiter_key.public_key)

    @property
    def url(self) -> str:
        return self.net.nodes[0].rpc_url

    @property
    def genesis_path(self) -> Path:
        return self.net.nodes[0].home / GENESIS_FILE

    def start(self) -> None:
        self.net.start_all()
        scoped = [(self.shop_key, SHOP_METHODS, None)]
        self.chain_tx(
            self.merchant_key,
            "account.set_policy",
            policy([(self.merchant_key, 1)], (1, 1, 1), scoped=scoped),
        )

    def close(self) -> None:
        self.net.close()

    def chain_tx(self, key: PrivateKey, method: str, *args: Any) -> dict[str, Any]:
        """Sign with `key` for its own account, submit, wait; the committed receipt."""
        client = NodeClient(self.url)
        nonce = int(client.account(address_to_text(key.public_key))["nonce"])
        tx = Transaction(self.net.chain_id, key.public_key, nonce, method, tuple(args))
        client.submit(tx.sign(key).encode())
        outcome = client.tx(tx.hash.hex(), 30)
        if outcome["status"] != "committed" or not outcome["receipt"]["ok"]:
            raise AssertionError(f"{method} did not commit: {outcome}")
        receipt: dict[str, Any] = outcome["receipt"]
        receipt["hash"] = tx.hash.hex()
        return receipt

    def pay_invoice(self, invoice_id: str, amount: int) -> str:
        """The buyer pays the invoice in its own coin; answers the payment's tx hash."""
        receipt = self.chain_tx(
            self.buyer_key, "invoice.pay", bytes.fromhex(invoice_id), self.symbol, amount
        )
        return str(receipt["hash"])
