"""Create an invoice with the shop's scoped key and print its id and checkout link.

Run from the directory `pasar up` runs in: the shop key is .pasar/keys/shop.json,
the merchant is the `seller` account, PASAR_PASSPHRASE unlocks the key.
"""

import os

from cli.merchant import Merchant

NODE = os.environ.get("PASAR_NODE", "http://127.0.0.1:26600")
MERCHANT = os.environ["MERCHANT"]  # the seller's address, pasar1...

shop = Merchant.from_key_file(
    NODE, ".pasar/keys/shop.json", MERCHANT, passphrase=os.environ["PASAR_PASSPHRASE"]
)
invoice = shop.create_invoice(150_000, "IDRA", reference="order-17", expires_in_s=900)
print(invoice.id)
print(shop.checkout_url(invoice.id, return_url="http://127.0.0.1:8080/orders/17"))
