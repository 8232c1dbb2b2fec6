"""Contract-held accounts ("vaults") for locked funds.

Escrowed payments, resting exchange orders and coins waiting for redemption are
moved into a vault account whose key is a hash, so nobody holds its private key
and only contract code can move funds out. Keeping locked funds as ordinary balances means the coin
invariant (sum of balances == supply) covers them too, and each vault's balance
must equal the sum of the open positions it backs.
"""

from __future__ import annotations

from ledger.hashing import tagged_hash

VAULT_DOMAIN = b"pasar/vault"


def vault_account(name: str) -> bytes:
    """The 32-byte account of the vault called `name` (e.g. "escrow", "exchange")."""
    return tagged_hash(VAULT_DOMAIN, name.encode())


ESCROW_VAULT = vault_account("escrow")
EXCHANGE_VAULT = vault_account("exchange")
INVOICE_VAULT = vault_account("invoice")
REDEMPTION_VAULT = vault_account("redemption")
