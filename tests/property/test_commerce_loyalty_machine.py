"""The commerce state machine extended with exclusive coins and franchising.

`LoyaltyCommerceMachine` keeps every rule and invariant of `CommerceMachine`
(listings, orders, escrow, disputes, deadlines) on the same real chain and adds a
seller group with its exclusive coin KOPI (earned on completed sales and by the
block proposer's operator), KOPI listings, plain KOPI transfers, membership
changes, a franchise program with sub-franchises, and franchise listings. After
every step, besides the commerce invariants:

- KOPI's balances sum to its supply, which grows only by the issuer's initial mint
  and the reward mints the receipts report, never past the cap;
- KOPI never leaves its group: it is never in the exchange vault, the escrow vault
  holds exactly the KOPI of open KOPI orders, and every other holder is a member
  (past or present), an account a member or a reward paid, or a fee taker of a
  sale at a member (the platform's commission, the arbiter's fee);
- every plain KOPI transfer succeeds exactly when it touches a member;
- every completed franchise sale paid royalties exactly as the chain's rates say.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, multiple, rule

from contracts import coin, franchise, loyalty
from contracts import escrow as E
from contracts.amounts import share
from contracts.vaults import ESCROW_VAULT, EXCHANGE_VAULT
from ledger import codec
from ledger.execution import BlockResult
from ledger.keys import PrivateKey
from tests.commercekit import DAY, PROPOSER
from tests.property.test_commerce_machine import (
    BY_PUBLIC_KEY,
    COURT,
    PLATFORM,
    USERS,
    CommerceMachine,
    actors,
    users,
)

KOPI = "KOPI"
CAP = 200_000
BLOCK_REWARD = 7
SKU = "LATTE"


class LoyaltyCommerceMachine(CommerceMachine):
    def __init__(self) -> None:
        super().__init__()
        self.members: set[bytes] = set()
        self.reached: set[bytes] = {PLATFORM.public_key, COURT.public_key}
        self.kopi_minted = 0
        # program id -> (owner, parent, royalty bps)
        self.programs: dict[bytes, tuple[bytes, bytes, int]] = {}
        self.creator: PrivateKey = USERS[0]
        self.royalty_sales = 0
        self.own_listings: list[tuple[bytes, PrivateKey]] = []  # KOPI and franchise listings

    # --- plumbing -------------------------------------------------------------------

    def record(self, result: BlockResult) -> None:
        super().record(result)
        receipts = [list(r.events) for r in result.receipts] + [list(result.block_events)]
        for events in receipts:
            royalties: dict[bytes, list[tuple[bytes, int]]] = {}
            for e in events:
                if e.name == "loyalty.reward" and e.get("symbol") == KOPI:
                    self.kopi_minted += e.get("minted")
                    self.reached.add(e.get("to"))
                elif e.name == "franchise.royalty":
                    royalties.setdefault(e.get("reference"), []).append(
                        (e.get("to"), e.get("paid"))
                    )
            for e in events:
                if e.name == "sale.completed" and e.get("kind") == "order":
                    self.check_royalties(e.get("reference"), e, royalties.get(e.get("reference")))

    def check_royalties(self, order_id: bytes, sale: Any, paid: Any) -> None:
        order = E.load_order(self.chain.store, order_id)
        assert order is not None
        program = order.franchise_program
        expected = []
        while program:
            owner, parent, bps = self.programs[program]
            if owner != sale.get("seller"):
                expected.append((owner, share(sale.get("amount"), bps)))
            program = parent or None
        assert (paid or []) == expected
        if expected:
            self.royalty_sales += 1
        if sale.get("symbol") == KOPI:
            self.reached.update(owner for owner, _ in expected)

    def ok(self, sender: PrivateKey, method: str, *args: Any) -> Any:
        """Submit (recording the block's events) a transaction that must succeed."""
        receipt = self.submit(sender, method, *args)
        assert receipt.ok, (method, receipt.code, receipt.message)
        return receipt

    def listing_args(self, price: int, symbol: str, program: bytes | None) -> tuple[Any, ...]:
        args: tuple[Any, ...] = (
            "item", SKU, price, symbol, 5, PLATFORM.public_key,
            [PLATFORM.public_key, COURT.public_key], 2 * DAY, DAY,
        )  # fmt: skip
        return args if program is None else (*args, program)

    # --- the group and its program --------------------------------------------------

    @initialize(
        members=st.sets(st.sampled_from(range(len(USERS))), min_size=1, max_size=3),
        rate=st.integers(0, 2_000),
        handouts=st.lists(st.integers(0, 400), min_size=len(USERS), max_size=len(USERS)),
        t1=st.integers(1, 150),
        royalty=st.integers(0, 2_500),
    )
    def found_group(
        self, members: set[int], rate: int, handouts: list[int], t1: int, royalty: int
    ) -> None:
        chosen = sorted(members)
        self.creator = USERS[chosen[0]]
        others = [USERS[i].public_key for i in chosen[1:]]
        rules = [["IDR", rate], ["USD", rate // 2]]
        self.ok(
            self.creator, "loyalty.create", KOPI, "Kopi", 0, CAP, others, [], rules,
            BLOCK_REWARD, "members",
        )  # fmt: skip
        self.members = {USERS[i].public_key for i in chosen}
        self.reached |= self.members
        for user, amount in zip(USERS, handouts, strict=True):
            if amount:
                self.ok(self.creator, "coin.mint", KOPI, user.public_key, amount)
                self.kopi_minted += amount
                self.reached.add(user.public_key)
        if others:  # the block proposer is operated by a member: later blocks mint to it
            bind = (PROPOSER, "loyalty.bind_validator", (KOPI, others[0]))
            approve = (self.creator, "loyalty.approve_binding", (KOPI, PROPOSER.public_key))
            self.record(self.chain.block([bind, approve]))
        receipt = self.ok(self.creator, "franchise.open_program", KOPI, [SKU], t1, t1, royalty)
        program = next(e.get("program") for e in receipt.events if e.name == "franchise.opened")
        self.programs[program] = (self.creator.public_key, b"", royalty)

    @rule(who=users, add=st.booleans())
    def change_membership(self, who: PrivateKey, add: bool) -> None:
        method = "loyalty.add_member" if add else "loyalty.remove_member"
        receipt = self.submit(self.creator, method, KOPI, who.public_key)
        if receipt.ok:
            if add:
                self.members.add(who.public_key)
                self.reached.add(who.public_key)
            else:
                self.members.discard(who.public_key)
        else:
            assert receipt.code == ("already_member" if add else "not_member")

    @rule(sender=users, recipient=actors, amount=st.integers(1, 300))
    def transfer_kopi(self, sender: PrivateKey, recipient: PrivateKey, amount: int) -> None:
        held = coin.balance(self.chain.store, sender.public_key, KOPI)
        touches = sender.public_key in self.members or recipient.public_key in self.members
        receipt = self.submit(sender, "coin.transfer", KOPI, recipient.public_key, amount)
        if sender == recipient:
            assert receipt.code == "self_transfer"
        elif not touches:
            assert receipt.code == "transfer_restricted"
        elif held < amount:
            assert receipt.code == "insufficient_funds"
        else:
            assert receipt.ok, receipt.code
            self.reached.add(recipient.public_key)

    @rule(target=CommerceMachine.listings, seller=users, price=st.integers(1, 400))
    def list_in_kopi(self, seller: PrivateKey, price: int) -> Any:
        receipt = self.submit(seller, "listing.create", *self.listing_args(price, KOPI, None))
        assert receipt.ok == (seller.public_key in self.members), receipt.code
        if not receipt.ok:
            assert receipt.code == "not_member"
            return multiple()
        return self.listed(receipt, seller)

    def listed(self, receipt: Any, seller: PrivateKey) -> Any:
        listing = next(e.get("listing") for e in receipt.events if e.name == "listing.created")
        self.own_listings.append((listing, seller))
        return listing

    @rule(pick=st.integers(0, 99), buyer=users)
    def complete_sale(self, pick: int, buyer: PrivateKey) -> None:
        """Order from a KOPI or franchise listing, ship and confirm: the happy path, so
        rewards and royalties happen often (the inherited rules cover everything else)."""
        if not self.own_listings:
            return
        listing, seller = self.own_listings[pick % len(self.own_listings)]
        placed = self.submit(buyer, "order.place", listing, 1, 10**9, COURT.public_key, b"n")
        if not placed.ok:
            return
        order = next(e.get("order") for e in placed.events if e.name == "order.placed")
        self.ok(seller, "escrow.ship", order, b"\x02" * 32)
        self.ok(buyer, "escrow.confirm", order)

    @rule(who=users, pick=st.integers(0, 9))
    def join(self, who: PrivateKey, pick: int) -> None:
        if self.programs:
            program = sorted(self.programs)[pick % len(self.programs)]
            self.submit(who, "franchise.join", program)

    @rule(who=users, pick=st.integers(0, 9), bps=st.integers(0, 2_500))
    def open_sub(self, who: PrivateKey, pick: int, bps: int) -> None:
        if not self.programs:
            return
        parent_id = sorted(self.programs)[pick % len(self.programs)]
        parent = franchise.load_program(self.chain.store, parent_id)
        assert parent is not None
        receipt = self.submit(who, "franchise.open_sub", parent_id, [], parent.t1, parent.t2, bps)
        if receipt.ok:
            sub = next(e.get("program") for e in receipt.events if e.name == "franchise.opened")
            self.programs[sub] = (who.public_key, parent_id, bps)

    @rule(who=users, pick=st.integers(0, 9), by_owner=st.sampled_from([True, True, False]))
    def expel(self, who: PrivateKey, pick: int, by_owner: bool) -> None:
        """The franchisor expels someone: its open orders run on (the base invariants keep
        checking their money), new orders on its listings are refused."""
        if not self.programs:
            return
        program = sorted(self.programs)[pick % len(self.programs)]
        owner = BY_PUBLIC_KEY[self.programs[program][0]] if by_owner else who
        receipt = self.submit(owner, "franchise.expel", program, who.public_key, "rules")
        if receipt.ok:
            status = franchise.franchisee_status(self.chain.store, program, who.public_key)
            assert status is not None and "franchisee_expelled" in status["reasons"]

    @rule(pick=st.integers(0, 9), by_owner=st.sampled_from([True, True, False]))
    def close_program(self, pick: int, by_owner: bool) -> None:
        if not self.programs:
            return
        program = sorted(self.programs)[pick % len(self.programs)]
        owner = BY_PUBLIC_KEY[self.programs[program][0]] if by_owner else USERS[0]
        self.submit(owner, "franchise.close", program, "closing")

    @rule(
        target=CommerceMachine.listings,
        seller=users,
        pick=st.integers(0, 9),
        price=st.integers(1, 50_000),
        symbol=st.sampled_from(["IDR", "USD"]),
    )
    def list_franchise_product(self, seller: PrivateKey, pick: int, price: int, symbol: str) -> Any:
        if not self.programs:
            return multiple()
        program = sorted(self.programs)[pick % len(self.programs)]
        receipt = self.submit(seller, "listing.create", *self.listing_args(price, symbol, program))
        if not receipt.ok:
            assert receipt.code in (
                "not_franchisee",
                "below_threshold",
                "sub_franchise_suspended",
                "franchisee_expelled",
                "program_closed",
            )
            return multiple()
        assert franchise.is_franchisee(self.chain.store, program, seller.public_key)
        return self.listed(receipt, seller)

    # --- invariants -----------------------------------------------------------------

    @invariant()
    def kopi_supply_grows_only_by_rewards(self) -> None:
        asset = coin.load_asset(self.chain.store, KOPI)
        if asset is None:
            return
        total = sum(amount for _, amount in self._kopi_balances())
        assert total == asset.supply == self.kopi_minted <= CAP

    def _kopi_balances(self) -> list[tuple[bytes, int]]:
        suffix = b"/" + KOPI.encode()
        return [
            (k[len(coin.BALANCE_PREFIX) : -len(suffix)], int(codec.decode(v)))
            for k, v in self.chain.store.iterate(coin.BALANCE_PREFIX)
            if k.endswith(suffix)
        ]

    @invariant()
    def kopi_never_leaves_its_group(self) -> None:
        if coin.load_asset(self.chain.store, KOPI) is None:
            return
        in_escrow = sum(o.held for o in E.open_orders(self.chain.store) if o.symbol == KOPI)
        assert coin.balance(self.chain.store, ESCROW_VAULT, KOPI) == in_escrow
        assert coin.balance(self.chain.store, EXCHANGE_VAULT, KOPI) == 0
        for account, _ in self._kopi_balances():
            assert account == ESCROW_VAULT or account in self.reached
        assert set(loyalty.group_members(self.chain.store, KOPI)) == self.members


TestLoyaltyCommerceMachine = LoyaltyCommerceMachine.TestCase
TestLoyaltyCommerceMachine.settings = settings(
    max_examples=25,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
