"""Random sequences of loyalty and franchise operations against an independent model.

Invariants after every step:
- every coin's balances sum to its supply; the platform coin's supply never
  changes and the exclusive coin's grows only by the reward mints the model
  expects (buyer reward at the rate, block reward, both within the cap);
- the exclusive coin never leaves its group: in "members" and "none" modes only
  members (past or present) and accounts a member or a reward paid hold it, and no
  contract vault ever holds it; transfers succeed exactly when the mode allows;
- the royalties of every franchise sale are exactly what the chain's rates say.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from contracts import coin, franchise, loyalty, policy
from contracts.amounts import share
from contracts.vaults import ESCROW_VAULT, EXCHANGE_VAULT, INVOICE_VAULT
from ledger.errors import InvalidTransaction
from tests.loyalty_harness import Harness, account, named

ACCOUNTS = [account(n) for n in range(40, 46)]
CREATOR = ACCOUNTS[0]
people = st.sampled_from(ACCOUNTS)
STARTING_IDR = 10**9


class LoyaltyMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.h = Harness()
        self.members: set[bytes] = set()
        self.reached: set[bytes] = set()  # accounts the coin may legitimately be held by
        # program id -> (owner, parent, royalty bps, T1, T2), from accepted operations only
        self.programs: dict[bytes, tuple[bytes, bytes, int, int, int]] = {}
        self.bindings: dict[bytes, bytes] = {}  # validator -> operating member
        self.franchisees: list[tuple[bytes, bytes]] = []  # (program, account), join order
        self.minted = 0
        self.royalty_sales = 0

    @initialize(
        mode=st.sampled_from(["members", "open", "none"]),
        cap=st.integers(1_000, 5_000),
        rate=st.integers(0, 3_000),
        block_reward=st.integers(0, 40),
        initial=st.sets(st.sampled_from(ACCOUNTS[1:]), max_size=3),
        handouts=st.lists(st.integers(0, 150), min_size=len(ACCOUNTS), max_size=len(ACCOUNTS)),
        thresholds=st.tuples(st.integers(1, 60), st.integers(0, 60)),
        royalty=st.integers(0, 3_000),
    )
    def create(
        self,
        mode: str,
        cap: int,
        rate: int,
        block_reward: int,
        initial: set[bytes],
        handouts: list[int],
        thresholds: tuple[int, int],
        royalty: int,
    ) -> None:
        self.mode, self.cap, self.rate, self.block_reward = mode, cap, rate, block_reward
        self.h.platform_coin("IDR", {who: STARTING_IDR for who in ACCOUNTS})
        self.h.call(
            CREATOR, "loyalty.create", "KOPI", "Kopi", 0, cap, sorted(initial), [],
            [["IDR", rate]], block_reward, mode,
        )  # fmt: skip
        self.members = set(initial) | {CREATOR}
        self.reached = set(self.members)
        for who, amount in zip(ACCOUNTS, handouts, strict=True):
            if amount:  # the issuer's explicit mint, counted as supply the model expects
                self.h.call(CREATOR, "coin.mint", "KOPI", who, amount)
                self.minted += amount
                self.reached.add(who)
        t1, extra = thresholds
        events = self.h.call(
            CREATOR, "franchise.open_program", "KOPI", ["sku"], t1, t1 + extra, royalty
        )
        root = named(events, "franchise.opened")[0]["program"]
        self.programs[root] = (CREATOR, b"", royalty, t1, t1 + extra)

    # --- membership ----------------------------------------------------------------------

    @rule(sender=people, who=people)
    def add_member(self, sender: bytes, who: bytes) -> None:
        try:
            self.h.call(sender, "loyalty.add_member", "KOPI", who)
        except InvalidTransaction as exc:
            expected = "not_admin" if sender != CREATOR else "already_member"
            assert exc.code == expected
            return
        assert sender == CREATOR and who not in self.members
        self.members.add(who)
        self.reached.add(who)

    @rule(who=people)
    def remove_member(self, who: bytes) -> None:
        try:
            self.h.call(CREATOR, "loyalty.remove_member", "KOPI", who)
        except InvalidTransaction as exc:
            assert exc.code == "not_member" and who not in self.members
            return
        self.members.discard(who)

    # --- moving the coin -----------------------------------------------------------------

    @rule(source=people, recipient=people, amount=st.integers(1, 80))
    def transfer(self, source: bytes, recipient: bytes, amount: int) -> None:
        held = self.h.balance(source, "KOPI")
        touches_member = source in self.members or recipient in self.members
        try:
            self.h.call(source, "coin.transfer", "KOPI", recipient, amount)
        except InvalidTransaction as exc:
            if source == recipient:
                assert exc.code == "self_transfer"
            elif self.mode == "none":
                assert exc.code == "transfers_disabled"
            elif self.mode == "members" and not touches_member:
                assert exc.code == "transfer_restricted"
            else:
                assert exc.code == "insufficient_funds" and held < amount
            return
        assert source != recipient and held >= amount
        assert self.mode == "open" or (self.mode == "members" and touches_member)
        self.reached.add(recipient)

    @rule(
        seller=people,
        buyer=people,
        amount=st.integers(1, 20_000),
        in_kopi=st.booleans(),
        franchised=st.booleans(),
    )
    def sale(
        self, seller: bytes, buyer: bytes, amount: int, in_kopi: bool, franchised: bool
    ) -> None:
        program = None
        if franchised:
            joined = franchise.programs_joined(self.h.state, seller)
            if not joined:
                return
            program = joined[0]
        self.settle(seller, buyer, amount, in_kopi, program)

    def settle(
        self, seller: bytes, buyer: bytes, amount: int, in_kopi: bool, program: bytes | None
    ) -> None:
        """Check the listing as order placement does, then settle and check listeners."""
        symbol = "KOPI" if in_kopi else "IDR"
        asset = coin.require_asset(self.h.state, symbol)
        expected_refusal = self.expected_sale_refusal(seller, in_kopi, program)
        try:
            policy.check_can_sell(self.h.state, seller, asset, program)
        except InvalidTransaction as exc:
            assert exc.code == expected_refusal
            return
        assert expected_refusal == "ok"
        if self.h.balance(buyer, symbol) < amount:
            return
        supply_before = self.h.supply("KOPI")
        events = self.h.sale(seller, buyer, symbol, amount, program)
        # the reward
        earns = symbol == "IDR" and seller in self.members and seller != buyer
        due = amount * self.rate // 10_000 if earns else 0
        expected_mint = min(due, self.cap - supply_before)
        rewards = named(events, "loyalty.reward")
        assert sum(r["minted"] for r in rewards) == expected_mint
        self.minted += expected_mint
        if expected_mint:
            self.reached.add(buyer)
        # the royalties, recomputed from the model's own record of the chain
        royalties = named(events, "franchise.royalty")
        expected = [
            (owner, share(amount, bps))
            for owner, bps in self.chain_rates(program)
            if owner != seller
        ]
        assert [(r["to"], r["paid"]) for r in royalties] == expected
        assert all(r["paid"] == r["due"] for r in royalties)
        self.royalty_sales += 1 if expected else 0
        if in_kopi:
            self.reached.update(owner for owner, _ in expected)

    def chain_rates(self, program: bytes | None) -> list[tuple[bytes, int]]:
        rates = []
        while program:
            owner, parent, bps, _, _ = self.programs[program]
            rates.append((owner, bps))
            program = parent or None
        return rates

    def expected_sale_refusal(self, seller: bytes, in_kopi: bool, program: bytes | None) -> str:
        if in_kopi and seller not in self.members:
            return "not_member"
        if program is None:
            return "ok"
        if self.h.balance(seller, "KOPI") < self.programs[program][3]:
            return "below_threshold"
        node = program
        while self.programs[node][1]:
            owner, parent = self.programs[node][0], self.programs[node][1]
            if self.h.balance(owner, "KOPI") < self.programs[parent][4]:
                return "sub_franchise_suspended"
            node = parent
        return "ok"

    # --- franchise -----------------------------------------------------------------------

    @rule(who=people, pick=st.integers(0, 5))
    def join(self, who: bytes, pick: int) -> None:
        program_id = sorted(self.programs)[pick % len(self.programs)]
        try:
            self.h.call(who, "franchise.join", program_id)
        except InvalidTransaction as exc:
            assert exc.code in (
                "below_threshold",
                "already_franchisee",
                "is_franchisor",
                "sub_franchise_suspended",
            )
            return
        program = franchise.load_program(self.h.state, program_id)
        assert program is not None and self.h.balance(who, "KOPI") >= program.t1
        self.franchisees.append((program_id, who))

    @rule(pick=st.integers(0, 50), buyer=people, amount=st.integers(1, 20_000))
    def franchise_sale(self, pick: int, buyer: bytes, amount: int) -> None:
        if not self.franchisees:
            return
        program, seller = self.franchisees[pick % len(self.franchisees)]
        self.settle(seller, buyer, amount, False, program)

    @rule(who=people, pick=st.integers(0, 5), extra=st.integers(0, 30), bps=st.integers(0, 2500))
    def open_sub(self, who: bytes, pick: int, extra: int, bps: int) -> None:
        parent_id = sorted(self.programs)[pick % len(self.programs)]
        parent = franchise.load_program(self.h.state, parent_id)
        assert parent is not None
        try:
            events = self.h.call(
                who, "franchise.open_sub", parent_id, [], parent.t1, parent.t1 + extra, bps
            )
        except InvalidTransaction:
            return
        assert self.h.balance(who, "KOPI") >= parent.t2
        sub = named(events, "franchise.opened")[0]["program"]
        self.programs[sub] = (who, parent_id, bps, parent.t1, parent.t1 + extra)
        total = sum(rate for _, rate in self.chain_rates(sub))
        assert total <= franchise.MAX_CHAIN_ROYALTY_BPS

    # --- blocks --------------------------------------------------------------------------

    @rule(proposer=people)
    def end_block(self, proposer: bytes) -> None:
        supply_before = self.h.supply("KOPI")
        events = self.h.end_block(proposer)
        earner = self.bindings.get(proposer)
        if earner not in self.members:
            earner = proposer if proposer in self.members else None
        due = self.block_reward if earner is not None else 0
        expected_mint = min(due, self.cap - supply_before)
        rewards = named(events, "loyalty.reward")
        assert sum(r["minted"] for r in rewards) == expected_mint
        assert all(r["to"] == earner for r in rewards)
        self.minted += expected_mint

    @rule(validator=people, member=people, approved=st.booleans())
    def bind(self, validator: bytes, member: bytes, approved: bool) -> None:
        try:
            self.h.call(validator, "loyalty.bind_validator", "KOPI", member)
        except InvalidTransaction as exc:
            assert exc.code == "not_member" and member not in self.members
            return
        assert member in self.members
        if approved:  # only a group administrator's approval makes it count
            self.h.call(CREATOR, "loyalty.approve_binding", "KOPI", validator)
            self.bindings[validator] = member

    # --- invariants ----------------------------------------------------------------------

    @invariant()
    def supplies_are_conserved(self) -> None:
        if not self.programs:
            return
        for symbol in ("IDR", "KOPI"):
            total = sum(self.h.balance(who, symbol) for who in ACCOUNTS)
            assert total == self.h.supply(symbol)
        assert self.h.supply("IDR") == STARTING_IDR * len(ACCOUNTS)
        assert self.h.supply("KOPI") == self.minted <= self.cap

    @invariant()
    def the_coin_never_leaves_its_group(self) -> None:
        if not self.programs:
            return
        for vault in (ESCROW_VAULT, EXCHANGE_VAULT, INVOICE_VAULT):
            assert self.h.balance(vault, "KOPI") == 0
        if self.mode != "open":
            holders = {who for who in ACCOUNTS if self.h.balance(who, "KOPI") > 0}
            assert holders <= self.reached
        assert set(loyalty.group_members(self.h.state, "KOPI")) == self.members


TestLoyaltyMachine = LoyaltyMachine.TestCase
TestLoyaltyMachine.settings = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
