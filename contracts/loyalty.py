"""Exclusive (loyalty) coins: a coin confined to a group of sellers.

A seller, or a group of sellers, creates an exclusive coin. It is a `coin` asset
with policy "exclusive" plus a group record saying who the members are, who
administers membership, how plain transfers are limited and how the coin is
earned. `contracts.policy` enforces where the coin may go; this module keeps the
group and mints the rewards.

State:
    loyalty/group/<symbol>                 -> [symbol, creator, admins, transfer_mode,
                                               rules, block_reward]
    loyalty/member/<symbol>/<account>      -> height the account joined
    loyalty/membership/<account>/<symbol>  -> height (reverse index: an account's groups)
    loyalty/operator/<validator>/<symbol>  -> the member operating that validator
    loyalty/pending-bind/<validator>/<symbol> -> the member it asked for, until approved

Transfer modes (plain `coin.transfer` of the coin; sales, rewards and royalties are
contract payments and are governed by acceptance instead):
    "members"  sender or recipient must be a member (a holder pays a member, a member
               hands coins out); two non-members may not transfer (`transfer_restricted`);
    "open"     any holder may transfer to anyone; still never exchangeable, still spent
               only at members;
    "none"     no plain transfers at all (`transfers_disabled`).

Earning:
    transaction reward  rules are [[payment_symbol, rate_bps], ...]: a completed sale by
                        a member, paid in `payment_symbol`, mints floor(amount * rate_bps /
                        10000) of the coin to the buyer. Rates may exceed 10000 (up to
                        MAX_REWARD_BPS) because the coins' decimals may differ.
    mining reward       each committed block mints `block_reward` to the member operating
                        the proposer: the member the validator key asked for with
                        `loyalty.bind_validator` once a group administrator approved it
                        (`loyalty.approve_binding`), or the validator key itself if it is
                        a member and unbound.
Both mint within the supply cap: at the cap they mint what still fits (possibly
nothing) and never reject the sale or the block that triggered them; the event
says how much was due and how much was minted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from contracts import args as A
from contracts import coin
from contracts.amounts import MAX_AMOUNT, check_amount, check_basis_points
from ledger import codec
from ledger.errors import InvalidTransaction
from ledger.execution import Context, Handler
from ledger.kv import KVReader
from ledger.state import StateView

if TYPE_CHECKING:  # sales imports this module to register its listener
    from contracts.sales import Sale

GROUP_PREFIX = b"loyalty/group/"
MEMBER_PREFIX = b"loyalty/member/"
MEMBERSHIP_PREFIX = b"loyalty/membership/"
OPERATOR_PREFIX = b"loyalty/operator/"
PENDING_BIND_PREFIX = b"loyalty/pending-bind/"

TRANSFER_MODES = ("members", "open", "none")
MAX_ADMINS = 8
MAX_INITIAL_MEMBERS = 64
MAX_RULES = 16
MAX_REWARD_BPS = 1_000_000  # 100x: a reward coin may have more decimals than the payment coin


@dataclass(frozen=True, slots=True)
class Group:
    """The group behind an exclusive coin."""

    symbol: str
    creator: bytes
    admins: tuple[bytes, ...]
    transfer_mode: str
    rules: tuple[tuple[str, int], ...]  # (payment symbol, rate in bps), sorted by symbol
    block_reward: int

    def to_list(self) -> list[Any]:
        return [
            self.symbol,
            self.creator,
            list(self.admins),
            self.transfer_mode,
            [[symbol, rate] for symbol, rate in self.rules],
            self.block_reward,
        ]

    @staticmethod
    def from_list(value: list[Any]) -> Group:
        symbol, creator, admins, mode, rules, block_reward = value
        return Group(
            symbol,
            creator,
            tuple(admins),
            mode,
            tuple((str(s), int(r)) for s, r in rules),
            int(block_reward),
        )

    def reward_rate(self, payment_symbol: str) -> int:
        for symbol, rate in self.rules:
            if symbol == payment_symbol:
                return rate
        return 0


def group_key(symbol: str) -> bytes:
    return GROUP_PREFIX + symbol.encode()


def member_key(symbol: str, account: bytes) -> bytes:
    return MEMBER_PREFIX + symbol.encode() + b"/" + account


def membership_key(account: bytes, symbol: str) -> bytes:
    return MEMBERSHIP_PREFIX + account + b"/" + symbol.encode()


def operator_key(validator: bytes, symbol: str) -> bytes:
    return OPERATOR_PREFIX + validator + b"/" + symbol.encode()


def pending_binding_key(validator: bytes, symbol: str) -> bytes:
    return PENDING_BIND_PREFIX + validator + b"/" + symbol.encode()


# --- reads (also used by policy, franchise and the RPC) -------------------------------


def load_group(reader: StateView | KVReader, symbol: str) -> Group | None:
    raw = reader.get(group_key(symbol))
    return None if raw is None else Group.from_list(codec.decode(raw))


def is_member(reader: StateView | KVReader, symbol: str, account: bytes) -> bool:
    return reader.get(member_key(symbol, account)) is not None


def group_members(reader: StateView | KVReader, symbol: str) -> list[bytes]:
    """The coin's current members, in key order."""
    prefix = MEMBER_PREFIX + symbol.encode() + b"/"
    return [key[len(prefix) :] for key, _ in reader.iterate(prefix)]


def groups_of(reader: StateView | KVReader, account: bytes) -> list[str]:
    """Symbols of the exclusive coins whose group `account` belongs to, in key order."""
    prefix = MEMBERSHIP_PREFIX + account + b"/"
    return [key[len(prefix) :].decode() for key, _ in reader.iterate(prefix)]


def operator_of(reader: StateView | KVReader, validator: bytes, symbol: str) -> bytes | None:
    raw = reader.get(operator_key(validator, symbol))
    return None if raw is None else bytes(codec.decode(raw))


def require_group(state: StateView, symbol: Any) -> tuple[coin.Asset, Group]:
    asset = coin.require_asset(state, symbol)
    group = load_group(state, asset.symbol)
    if asset.policy != "exclusive" or group is None:
        raise InvalidTransaction("not_exclusive", f"{asset.symbol} is not an exclusive coin")
    return asset, group


def require_admin(group: Group, account: bytes) -> None:
    if account not in group.admins:
        raise InvalidTransaction(
            "not_admin", f"only an administrator of the {group.symbol} group may do this"
        )


# --- argument checks -------------------------------------------------------------------


def check_transfer_mode(value: Any) -> str:
    if value not in TRANSFER_MODES:
        raise InvalidTransaction(
            "bad_args", f"transfer mode must be one of {', '.join(TRANSFER_MODES)}"
        )
    return str(value)


def check_rules(state: StateView, value: Any) -> tuple[tuple[str, int], ...]:
    """Reward rules: distinct existing payment coins, each with a rate in bps."""
    if not isinstance(value, list) or len(value) > MAX_RULES:
        raise InvalidTransaction(
            "bad_args", f"reward rules must be a list of at most {MAX_RULES} [symbol, bps]"
        )
    rules: dict[str, int] = {}
    for item in value:
        if not isinstance(item, list) or len(item) != 2:
            raise InvalidTransaction("bad_args", "each reward rule is [payment_symbol, rate_bps]")
        payment = coin.check_symbol(item[0])
        if coin.load_asset(state, payment) is None:
            raise InvalidTransaction("unknown_asset", f"reward rule names unknown coin {payment}")
        if payment in rules:
            raise InvalidTransaction("bad_args", f"reward rules name {payment} twice")
        rules[payment] = check_basis_points(item[1], "reward rate", MAX_REWARD_BPS)
    return tuple(sorted(rules.items()))


# --- writes ----------------------------------------------------------------------------


def save_group(state: StateView, group: Group) -> None:
    state.put_value(group_key(group.symbol), group.to_list())


def add_member_record(state: StateView, symbol: str, account: bytes, height: int) -> None:
    state.put_value(member_key(symbol, account), height)
    state.put_value(membership_key(account, symbol), height)


def mint_capped(state: StateView, asset: coin.Asset, target: bytes, due: int) -> int:
    """Mint up to `due` within the cap; returns what was minted (0 at the cap)."""
    amount = min(due, asset.cap - asset.supply)
    if amount > 0:
        coin.mint_to(state, asset, target, amount)
    return max(amount, 0)


# --- handlers --------------------------------------------------------------------------


def create(ctx: Context, args: tuple[Any, ...]) -> None:
    """loyalty.create(symbol, name, decimals, cap, members, admins, rules, block_reward,
    transfer_mode): the sender creates an exclusive coin and its group.

    The sender is the coin's issuer and always a member; `admins` empty means the
    sender alone administers membership.
    """
    symbol, name, decimals, cap, members, admins, rules, block_reward, mode = A.unpack(
        args,
        (
            "symbol",
            "name",
            "decimals",
            "cap",
            "members",
            "admins",
            "rules",
            "block_reward",
            "transfer_mode",
        ),
    )
    member_list = A.account_list(members, "members", MAX_INITIAL_MEMBERS)
    admin_list = A.account_list(admins, "admins", MAX_ADMINS) or [ctx.sender]
    checked_rules = check_rules(ctx.state, rules)
    reward = check_amount(block_reward, "block reward", allow_zero=True)
    transfer_mode = check_transfer_mode(mode)
    asset = coin.create_asset(ctx.state, symbol, name, decimals, cap, ctx.sender, "exclusive")
    group = Group(asset.symbol, ctx.sender, tuple(admin_list), transfer_mode, checked_rules, reward)
    save_group(ctx.state, group)
    everyone = sorted(set(member_list) | {ctx.sender})
    for account in everyone:
        add_member_record(ctx.state, asset.symbol, account, ctx.block.height)
    ctx.emit(
        "loyalty.created",
        ("symbol", asset.symbol),
        ("creator", ctx.sender),
        ("cap", asset.cap),
        ("members", len(everyone)),
        ("transfer_mode", transfer_mode),
    )


def add_member(ctx: Context, args: tuple[Any, ...]) -> None:
    """loyalty.add_member(symbol, account): an administrator admits a seller."""
    symbol, account = A.unpack(args, ("symbol", "account"))
    _, group = require_group(ctx.state, symbol)
    member = A.account(account, "account")
    require_admin(group, ctx.sender)
    if is_member(ctx.state, group.symbol, member):
        raise InvalidTransaction("already_member", f"the account is already in {group.symbol}")
    add_member_record(ctx.state, group.symbol, member, ctx.block.height)
    ctx.emit("loyalty.member_added", ("symbol", group.symbol), ("account", member))


def remove_member(ctx: Context, args: tuple[Any, ...]) -> None:
    """loyalty.remove_member(symbol, account): acceptance stops from now on; balances stay."""
    symbol, account = A.unpack(args, ("symbol", "account"))
    _, group = require_group(ctx.state, symbol)
    member = A.account(account, "account")
    require_admin(group, ctx.sender)
    if not is_member(ctx.state, group.symbol, member):
        raise InvalidTransaction("not_member", f"the account is not in the {group.symbol} group")
    ctx.state.delete(member_key(group.symbol, member))
    ctx.state.delete(membership_key(member, group.symbol))
    ctx.emit("loyalty.member_removed", ("symbol", group.symbol), ("account", member))


def set_rewards(ctx: Context, args: tuple[Any, ...]) -> None:
    """loyalty.set_rewards(symbol, rules, block_reward): an administrator changes earning."""
    symbol, rules, block_reward = A.unpack(args, ("symbol", "rules", "block_reward"))
    _, group = require_group(ctx.state, symbol)
    checked_rules = check_rules(ctx.state, rules)
    reward = check_amount(block_reward, "block reward", allow_zero=True)
    require_admin(group, ctx.sender)
    save_group(
        ctx.state,
        Group(
            group.symbol, group.creator, group.admins, group.transfer_mode, checked_rules, reward
        ),
    )
    ctx.emit(
        "loyalty.rewards_set",
        ("symbol", group.symbol),
        ("rules", [[s, r] for s, r in checked_rules]),
        ("block_reward", reward),
    )


def bind_validator(ctx: Context, args: tuple[Any, ...]) -> None:
    """loyalty.bind_validator(symbol, member): signed by a validator key, asking that the
    group member `member` operate it (earn the coin's block reward for the blocks it
    proposes). Nothing changes until a group administrator approves
    (`loyalty.approve_binding`); asking again replaces a request still waiting."""
    symbol, member = A.unpack(args, ("symbol", "member"))
    _, group = require_group(ctx.state, symbol)
    operator = A.account(member, "member")
    if not is_member(ctx.state, group.symbol, operator):
        raise InvalidTransaction(
            "not_member", f"the operator must be a member of the {group.symbol} group"
        )
    ctx.state.put_value(pending_binding_key(ctx.sender, group.symbol), operator)
    ctx.emit(
        "loyalty.binding_requested",
        ("symbol", group.symbol),
        ("validator", ctx.sender),
        ("member", operator),
    )


def approve_binding(ctx: Context, args: tuple[Any, ...]) -> None:
    """loyalty.approve_binding(symbol, validator): a group administrator approves the
    validator's waiting request; from then on its named member earns its block rewards."""
    symbol, validator = A.unpack(args, ("symbol", "validator"))
    _, group = require_group(ctx.state, symbol)
    validator = A.account(validator, "validator")
    require_admin(group, ctx.sender)
    raw = ctx.state.get(pending_binding_key(validator, group.symbol))
    if raw is None:
        raise InvalidTransaction(
            "no_pending_binding", "this validator has not asked to be bound to the group"
        )
    operator = bytes(codec.decode(raw))
    if not is_member(ctx.state, group.symbol, operator):
        raise InvalidTransaction(
            "not_member", f"the named operator is no longer a member of {group.symbol}"
        )
    ctx.state.delete(pending_binding_key(validator, group.symbol))
    ctx.state.put_value(operator_key(validator, group.symbol), operator)
    ctx.emit(
        "loyalty.validator_bound",
        ("symbol", group.symbol),
        ("validator", validator),
        ("member", operator),
        ("approved_by", ctx.sender),
    )


def unbind_validator(ctx: Context, args: tuple[Any, ...]) -> None:
    """loyalty.unbind_validator(symbol): the validator key withdraws its binding and any
    request still waiting for approval."""
    (symbol,) = A.unpack(args, ("symbol",))
    _, group = require_group(ctx.state, symbol)
    bound = operator_of(ctx.state, ctx.sender, group.symbol) is not None
    pending = ctx.state.get(pending_binding_key(ctx.sender, group.symbol)) is not None
    if not bound and not pending:
        raise InvalidTransaction("not_bound", f"this key is not bound to the {group.symbol} group")
    ctx.state.delete(operator_key(ctx.sender, group.symbol))
    ctx.state.delete(pending_binding_key(ctx.sender, group.symbol))
    ctx.emit("loyalty.validator_unbound", ("symbol", group.symbol), ("validator", ctx.sender))


def pending_binding(reader: StateView | KVReader, validator: bytes, symbol: str) -> bytes | None:
    """The member a validator asked to be operated by, while no administrator approved."""
    raw = reader.get(pending_binding_key(validator, symbol))
    return None if raw is None else bytes(codec.decode(raw))


# --- rewards ---------------------------------------------------------------------------


def reward_sale(ctx: Context, sale: Sale) -> None:
    """Sale listener: the buyer earns every group coin the seller belongs to whose rules
    cover the payment coin. Never rejects: at the cap it mints what fits."""
    if sale.buyer == sale.seller:
        return  # buying from oneself must not farm rewards
    for symbol in groups_of(ctx.state, sale.seller):
        group = load_group(ctx.state, symbol)
        asset = coin.load_asset(ctx.state, symbol)
        if group is None or asset is None:
            continue
        due = sale.amount * group.reward_rate(sale.symbol) // 10_000
        due = min(due, MAX_AMOUNT)
        if due == 0:
            continue
        minted = mint_capped(ctx.state, asset, sale.buyer, due)
        ctx.emit(
            "loyalty.reward",
            ("symbol", symbol),
            ("kind", "sale"),
            ("to", sale.buyer),
            ("due", due),
            ("minted", minted),
            ("reference", sale.reference),
        )


def mining_recipients(reader: StateView | KVReader, proposer: bytes) -> list[tuple[str, bytes]]:
    """(symbol, member) pairs the proposer's block rewards go to, sorted by symbol.

    A binding to a current member wins; otherwise the proposer earns for itself in
    the groups it is a member of.
    """
    recipients: dict[str, bytes] = {symbol: proposer for symbol in groups_of(reader, proposer)}
    prefix = OPERATOR_PREFIX + proposer + b"/"
    for key, value in reader.iterate(prefix):
        symbol = key[len(prefix) :].decode()
        member = bytes(codec.decode(value))
        if is_member(reader, symbol, member):
            recipients[symbol] = member
    return sorted(recipients.items())


def mining_reward(ctx: Context) -> None:
    """End-of-block hook: mint each group's block reward to the proposer's operator."""
    for symbol, member in mining_recipients(ctx.state, ctx.block.proposer):
        group = load_group(ctx.state, symbol)
        asset = coin.load_asset(ctx.state, symbol)
        if group is None or asset is None or group.block_reward == 0:
            continue
        minted = mint_capped(ctx.state, asset, member, group.block_reward)
        ctx.emit(
            "loyalty.reward",
            ("symbol", symbol),
            ("kind", "block"),
            ("to", member),
            ("due", group.block_reward),
            ("minted", minted),
            ("height", ctx.block.height),
        )


HANDLERS: dict[str, Handler] = {
    "loyalty.create": create,
    "loyalty.add_member": add_member,
    "loyalty.remove_member": remove_member,
    "loyalty.set_rewards": set_rewards,
    "loyalty.bind_validator": bind_validator,
    "loyalty.unbind_validator": unbind_validator,
    "loyalty.approve_binding": approve_binding,
}
END_BLOCK_HOOKS = (mining_reward,)
