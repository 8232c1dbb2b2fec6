"""Franchising on an exclusive coin: programs, franchisees, sub-franchises, royalties.

The owner (issuer or a group administrator) of an exclusive coin becomes a
franchisor by opening a program: the products franchisees may sell (SKUs), a
franchisee threshold T1 and a sub-franchise threshold T2 >= T1, both in that coin,
and a royalty rate. A holder of at least T1 joins as a franchisee and may list the
program's products; a franchisee holding at least the parent's T2 may open a
sub-franchise (its own products, a subset of the parent's; T1 at least the parent's
T1; its own royalty) under its parent.

Thresholds are checked when used, never enforced by locking coins:
- joining needs T1; opening a sub-franchise needs the parent's T2;
- a franchise listing (created, updated, or ordered from) needs the seller to hold
  its program's T1 (`below_threshold`), and every sub-franchisor above it to hold
  its parent's T2 (`sub_franchise_suspended`).
Every completed sale of a franchise listing pays royalties up the chain (the
program's owner, then its parent's owner, up to the franchisor), each
floor(amount * royalty_bps / 10000) of the sale, moved from the seller's just
received proceeds in the sale's coin, in the same transaction as the sale. The
rates of a chain add up to at most MAX_CHAIN_ROYALTY_BPS, below what a seller keeps
after the highest platform commission, so the proceeds always cover them.

State:
    franchise/program/<id>              -> [id, symbol, owner, parent, depth, products,
                                            t1, t2, royalty_bps]   (parent b"" for a root)
    franchise/member/<id>/<account>     -> height the franchisee joined
    franchise/joined/<account>/<id>     -> height (reverse index)
    franchise/child/<parent>/<child>    -> height the sub-franchise opened
    franchise/sub/<parent>/<owner>      -> child id (one sub-franchise per franchisee)
    franchise/coin/<symbol>/<id>        -> height (root programs of a coin)
    franchise/closed/<id>               -> [time_ms, reason] (the franchisor closed it)
    franchise/expelled/<id>/<account>   -> [time_ms, reason] (the franchisor expelled it)

A franchisor may expel a franchisee (`franchise.expel`) or close a program
(`franchise.close`). Nothing already sold or ordered is touched (open orders run
to their end and still pay royalties), but the listings tied to it stop taking
orders: `check_franchise_sale` refuses an expelled seller (`franchisee_expelled`)
and any program whose chain holds a closed program (`program_closed`).
`franchisee_status` says whether a franchisee may sell now and, if not, every
reason why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from contracts import args as A
from contracts import coin, loyalty
from contracts.amounts import MAX_COMMISSION_BPS, check_amount, check_basis_points, share
from ledger import codec
from ledger.errors import InvalidTransaction
from ledger.execution import Context, Handler
from ledger.hashing import tagged_hash
from ledger.kv import KVReader
from ledger.state import StateView

if TYPE_CHECKING:  # sales imports this module to register its listener
    from contracts.sales import Sale

PROGRAM_PREFIX = b"franchise/program/"
MEMBER_PREFIX = b"franchise/member/"
JOINED_PREFIX = b"franchise/joined/"
CHILD_PREFIX = b"franchise/child/"
SUB_PREFIX = b"franchise/sub/"
COIN_PREFIX = b"franchise/coin/"
CLOSED_PREFIX = b"franchise/closed/"
EXPELLED_PREFIX = b"franchise/expelled/"
MAX_REASON = 256
PROGRAM_DOMAIN = b"pasar/franchise-program"

MAX_DEPTH = 3  # franchisor -> sub -> sub-sub: royalty chains stay short and bounded
MAX_PRODUCTS = 64
MAX_SKU = 64
# A seller keeps at least 10000 - MAX_COMMISSION_BPS of a sale; royalties stay within it.
MAX_CHAIN_ROYALTY_BPS = 5_000
if MAX_CHAIN_ROYALTY_BPS + MAX_COMMISSION_BPS > 10_000:
    raise RuntimeError("royalties and commission could exceed a sale")


@dataclass(frozen=True, slots=True)
class Program:
    program_id: bytes
    symbol: str
    owner: bytes
    parent: bytes  # b"" for a root program
    depth: int  # 0 for a root program
    products: tuple[str, ...]  # sorted SKUs
    t1: int
    t2: int
    royalty_bps: int

    def to_list(self) -> list[Any]:
        return [
            self.program_id,
            self.symbol,
            self.owner,
            self.parent,
            self.depth,
            list(self.products),
            self.t1,
            self.t2,
            self.royalty_bps,
        ]

    @staticmethod
    def from_list(value: list[Any]) -> Program:
        pid, symbol, owner, parent, depth, products, t1, t2, royalty = value
        return Program(pid, symbol, owner, parent, depth, tuple(products), t1, t2, royalty)


def program_key(program_id: bytes) -> bytes:
    return PROGRAM_PREFIX + program_id


def member_key(program_id: bytes, account: bytes) -> bytes:
    return MEMBER_PREFIX + program_id + b"/" + account


def joined_key(account: bytes, program_id: bytes) -> bytes:
    return JOINED_PREFIX + account + b"/" + program_id


def child_key(parent: bytes, child: bytes) -> bytes:
    return CHILD_PREFIX + parent + b"/" + child


def sub_key(parent: bytes, owner: bytes) -> bytes:
    return SUB_PREFIX + parent + b"/" + owner


def coin_key(symbol: str, program_id: bytes) -> bytes:
    return COIN_PREFIX + symbol.encode() + b"/" + program_id


# --- reads -----------------------------------------------------------------------------


def load_program(reader: StateView | KVReader, program_id: bytes) -> Program | None:
    raw = reader.get(program_key(program_id))
    return None if raw is None else Program.from_list(codec.decode(raw))


def require_program(state: StateView, program_id: Any) -> Program:
    pid = A.digest(program_id, "program")
    program = load_program(state, pid)
    if program is None:
        raise InvalidTransaction("unknown_program", "no franchise program with this id")
    return program


def is_franchisee(reader: StateView | KVReader, program_id: bytes, account: bytes) -> bool:
    return reader.get(member_key(program_id, account)) is not None


def franchisees(reader: StateView | KVReader, program_id: bytes) -> list[bytes]:
    prefix = MEMBER_PREFIX + program_id + b"/"
    return [key[len(prefix) :] for key, _ in reader.iterate(prefix)]


def sub_programs(reader: StateView | KVReader, program_id: bytes) -> list[bytes]:
    prefix = CHILD_PREFIX + program_id + b"/"
    return [key[len(prefix) :] for key, _ in reader.iterate(prefix)]


def programs_of_coin(reader: StateView | KVReader, symbol: str) -> list[bytes]:
    """Root programs opened on an exclusive coin, in id order."""
    prefix = COIN_PREFIX + symbol.encode() + b"/"
    return [key[len(prefix) :] for key, _ in reader.iterate(prefix)]


def programs_joined(reader: StateView | KVReader, account: bytes) -> list[bytes]:
    prefix = JOINED_PREFIX + account + b"/"
    return [key[len(prefix) :] for key, _ in reader.iterate(prefix)]


def chain(reader: StateView | KVReader, program: Program) -> list[Program]:
    """The program and its ancestors, nearest first, ending with the root program."""
    result = [program]
    while result[-1].parent:
        parent = load_program(reader, result[-1].parent)
        if parent is None:  # unreachable: programs are never deleted
            break
        result.append(parent)
    return result


def suspended_sub(reader: StateView | KVReader, program: Program) -> Program | None:
    """The first sub-franchise in the chain whose owner no longer holds its parent's T2."""
    programs = chain(reader, program)
    for index, node in enumerate(programs[:-1]):
        parent = programs[index + 1]
        if coin.balance(reader, node.owner, node.symbol) < parent.t2:
            return node
    return None


def royalty_split(
    reader: StateView | KVReader, program: Program, amount: int
) -> list[tuple[bytes, int]]:
    """(recipient, royalty) for each level of the chain, nearest first."""
    return [(node.owner, share(amount, node.royalty_bps)) for node in chain(reader, program)]


@dataclass(frozen=True, slots=True)
class Franchisee:
    account: bytes
    balance: int
    active: bool  # holds the program's T1 and no sub-franchise above it is suspended


@dataclass(frozen=True, slots=True)
class ProgramTree:
    program: Program
    active: bool  # the owner holds the parent's T2 (always true for a root)
    franchisees: tuple[Franchisee, ...]
    subs: tuple[ProgramTree, ...]


def program_tree(reader: StateView | KVReader, program_id: bytes) -> ProgramTree | None:
    """The program with its franchisees and sub-franchises and their status, recursively."""
    program = load_program(reader, program_id)
    if program is None:
        return None
    return _tree(reader, program, suspended_sub(reader, program) is None)


def _tree(reader: StateView | KVReader, program: Program, chain_active: bool) -> ProgramTree:
    members = []
    for account in franchisees(reader, program.program_id):
        held = coin.balance(reader, account, program.symbol)
        members.append(Franchisee(account, held, chain_active and held >= program.t1))
    subs = []
    for child_id in sub_programs(reader, program.program_id):
        child = load_program(reader, child_id)
        if child is None:
            continue
        child_ok = coin.balance(reader, child.owner, child.symbol) >= program.t2
        subs.append(_tree(reader, child, chain_active and child_ok))
    return ProgramTree(program, chain_active, tuple(members), tuple(subs))


def closed_record(reader: StateView | KVReader, program_id: bytes) -> tuple[int, str] | None:
    raw = reader.get(CLOSED_PREFIX + program_id)
    if raw is None:
        return None
    time_ms, reason = codec.decode(raw)
    return int(time_ms), str(reason)


def expelled_record(
    reader: StateView | KVReader, program_id: bytes, account: bytes
) -> tuple[int, str] | None:
    raw = reader.get(EXPELLED_PREFIX + program_id + b"/" + account)
    if raw is None:
        return None
    time_ms, reason = codec.decode(raw)
    return int(time_ms), str(reason)


def closed_in_chain(reader: StateView | KVReader, program: Program) -> Program | None:
    """The nearest program of the chain (itself first) that its franchisor closed."""
    for node in chain(reader, program):
        if reader.get(CLOSED_PREFIX + node.program_id) is not None:
            return node
    return None


def franchisee_status(
    reader: StateView | KVReader, program_id: bytes, account: bytes
) -> dict[str, Any] | None:
    """May `account` sell the program's products now, and if not, every reason why, as
    stable codes (the ones an order on its listing would be refused with)."""
    program = load_program(reader, program_id)
    if program is None:
        return None
    reasons: list[str] = []
    closed = closed_in_chain(reader, program)
    if closed is not None:
        reasons.append("program_closed")
    expelled = expelled_record(reader, program_id, account)
    if expelled is not None:
        reasons.append("franchisee_expelled")
    elif not is_franchisee(reader, program_id, account):
        reasons.append("not_franchisee")
    held = coin.balance(reader, account, program.symbol)
    if held < program.t1:
        reasons.append("below_threshold")
    suspended = suspended_sub(reader, program)
    if suspended is not None:
        reasons.append("sub_franchise_suspended")
    closed_info = None
    if closed is not None:
        when = closed_record(reader, closed.program_id)
        closed_info = {
            "program": closed.program_id.hex(),
            "time_ms": when[0] if when else 0,
            "reason": when[1] if when else "",
        }
    return {
        "program": program_id.hex(),
        "account": account.hex(),
        "franchisee": is_franchisee(reader, program_id, account),
        "active": not reasons,
        "reasons": reasons,
        "balance": held,
        "t1": program.t1,
        "symbol": program.symbol,
        "expelled": None if expelled is None else {"time_ms": expelled[0], "reason": expelled[1]},
        "closed": closed_info,
        "suspended_sub": None if suspended is None else suspended.program_id.hex(),
    }


def check_franchise_sale(
    state: StateView, program_id: bytes, seller: bytes, product: str | None
) -> None:
    """The franchise rules of a listing: see the module docstring. Used by policy."""
    program = require_program(state, program_id)
    if closed_in_chain(state, program) is not None:
        raise InvalidTransaction(
            "program_closed", "the franchisor closed this program: its listings take no orders"
        )
    if expelled_record(state, program.program_id, seller) is not None:
        raise InvalidTransaction(
            "franchisee_expelled", "the franchisor expelled this seller from the program"
        )
    if not is_franchisee(state, program.program_id, seller):
        raise InvalidTransaction(
            "not_franchisee", "only franchisees of the program may sell its products"
        )
    if product is not None and product not in program.products:
        raise InvalidTransaction(
            "not_program_product", f"product {product!r} is not one the program may sell"
        )
    held = coin.balance(state, seller, program.symbol)
    if held < program.t1:
        raise InvalidTransaction(
            "below_threshold",
            f"a franchisee must hold {program.t1} {program.symbol} to sell (holds {held})",
        )
    if suspended_sub(state, program) is not None:
        raise InvalidTransaction(
            "sub_franchise_suspended",
            "a sub-franchisor above this franchise no longer holds its threshold",
        )


# --- argument checks -------------------------------------------------------------------


def check_products(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) > MAX_PRODUCTS:
        raise InvalidTransaction(
            "bad_args", f"products must be a list of at most {MAX_PRODUCTS} SKUs"
        )
    products = [A.text(item, "product", MAX_SKU, 1) for item in value]
    if len(set(products)) != len(products):
        raise InvalidTransaction("bad_args", "products lists a SKU twice")
    return tuple(sorted(products))


def check_thresholds(t1: Any, t2: Any, cap: int, floor: int) -> tuple[int, int]:
    low = check_amount(t1, "T1")
    high = check_amount(t2, "T2")
    if low < floor:
        raise InvalidTransaction(
            "bad_threshold", f"T1 must be at least the parent program's T1 of {floor}"
        )
    if high < low:
        raise InvalidTransaction("bad_threshold", "T2 must be at least T1")
    if high > cap:
        raise InvalidTransaction("bad_threshold", f"T2 exceeds the coin's supply cap of {cap}")
    return low, high


def new_program_id(ctx: Context) -> bytes:
    program_id = tagged_hash(PROGRAM_DOMAIN, ctx.tx_hash)
    if load_program(ctx.state, program_id) is not None:
        raise InvalidTransaction("program_exists", "this transaction already opened a program")
    return program_id


def emit_opened(ctx: Context, program: Program) -> None:
    ctx.emit(
        "franchise.opened",
        ("program", program.program_id),
        ("symbol", program.symbol),
        ("owner", program.owner),
        ("parent", program.parent),
        ("t1", program.t1),
        ("t2", program.t2),
        ("royalty_bps", program.royalty_bps),
    )


# --- handlers --------------------------------------------------------------------------


def open_program(ctx: Context, args: tuple[Any, ...]) -> None:
    """franchise.open_program(symbol, products, t1, t2, royalty_bps): the coin's issuer or
    a group administrator becomes the franchisor of a new root program."""
    symbol, products, t1, t2, royalty = A.unpack(
        args, ("symbol", "products", "t1", "t2", "royalty_bps")
    )
    asset, group = loyalty.require_group(ctx.state, symbol)
    skus = check_products(products)
    if not skus:
        raise InvalidTransaction("bad_args", "a program needs at least one product")
    low, high = check_thresholds(t1, t2, asset.cap, 1)
    rate = check_basis_points(royalty, "royalty", MAX_CHAIN_ROYALTY_BPS)
    if ctx.sender != asset.issuer and ctx.sender not in group.admins:
        raise InvalidTransaction(
            "not_owner", f"only the owner of {asset.symbol} may open a franchise program"
        )
    program = Program(new_program_id(ctx), asset.symbol, ctx.sender, b"", 0, skus, low, high, rate)
    ctx.state.put_value(program_key(program.program_id), program.to_list())
    ctx.state.put_value(coin_key(asset.symbol, program.program_id), ctx.block.height)
    emit_opened(ctx, program)


def join(ctx: Context, args: tuple[Any, ...]) -> None:
    """franchise.join(program): a holder of at least T1 becomes a franchisee."""
    (program_id,) = A.unpack(args, ("program",))
    program = require_program(ctx.state, program_id)
    if ctx.sender == program.owner:
        raise InvalidTransaction("is_franchisor", "the program's owner cannot join it")
    if is_franchisee(ctx.state, program.program_id, ctx.sender):
        raise InvalidTransaction("already_franchisee", "the account already joined this program")
    if closed_in_chain(ctx.state, program) is not None:
        raise InvalidTransaction("program_closed", "the franchisor closed this program")
    if expelled_record(ctx.state, program.program_id, ctx.sender) is not None:
        raise InvalidTransaction(
            "franchisee_expelled", "the franchisor expelled this account from the program"
        )
    held = coin.balance(ctx.state, ctx.sender, program.symbol)
    if held < program.t1:
        raise InvalidTransaction(
            "below_threshold",
            f"joining needs {program.t1} {program.symbol}; the account holds {held}",
        )
    if suspended_sub(ctx.state, program) is not None:
        raise InvalidTransaction(
            "sub_franchise_suspended", "this sub-franchise's owner no longer holds its threshold"
        )
    ctx.state.put_value(member_key(program.program_id, ctx.sender), ctx.block.height)
    ctx.state.put_value(joined_key(ctx.sender, program.program_id), ctx.block.height)
    ctx.emit("franchise.joined", ("program", program.program_id), ("account", ctx.sender))


def open_sub(ctx: Context, args: tuple[Any, ...]) -> None:
    """franchise.open_sub(parent, products, t1, t2, royalty_bps): a franchisee holding the
    parent's T2 opens a sub-franchise under it (products empty = all of the parent's)."""
    parent_id, products, t1, t2, royalty = A.unpack(
        args, ("parent", "products", "t1", "t2", "royalty_bps")
    )
    parent = require_program(ctx.state, parent_id)
    skus = check_products(products) or parent.products
    asset = coin.load_asset(ctx.state, parent.symbol)
    if asset is None:  # unreachable: assets are never deleted
        raise InvalidTransaction("unknown_asset", f"no asset with symbol {parent.symbol}")
    low, high = check_thresholds(t1, t2, asset.cap, parent.t1)
    rate = check_basis_points(royalty, "royalty", MAX_CHAIN_ROYALTY_BPS)
    outside = [sku for sku in skus if sku not in parent.products]
    if outside:
        raise InvalidTransaction(
            "not_program_product", f"product {outside[0]!r} is not in the parent program"
        )
    if parent.depth + 1 >= MAX_DEPTH:
        raise InvalidTransaction(
            "too_deep", f"franchise chains are at most {MAX_DEPTH} programs deep"
        )
    if closed_in_chain(ctx.state, parent) is not None:
        raise InvalidTransaction("program_closed", "the franchisor closed this program")
    if not is_franchisee(ctx.state, parent.program_id, ctx.sender):
        raise InvalidTransaction(
            "not_franchisee", "only a franchisee of the parent may open a sub-franchise"
        )
    if ctx.state.get(sub_key(parent.program_id, ctx.sender)) is not None:
        raise InvalidTransaction(
            "already_sub_franchisor", "the account already runs a sub-franchise of this program"
        )
    held = coin.balance(ctx.state, ctx.sender, parent.symbol)
    if held < parent.t2:
        raise InvalidTransaction(
            "below_threshold",
            f"a sub-franchise needs {parent.t2} {parent.symbol}; the account holds {held}",
        )
    if suspended_sub(ctx.state, parent) is not None:
        raise InvalidTransaction(
            "sub_franchise_suspended", "a sub-franchisor above no longer holds its threshold"
        )
    total = rate + sum(node.royalty_bps for node in chain(ctx.state, parent))
    if total > MAX_CHAIN_ROYALTY_BPS:
        raise InvalidTransaction(
            "royalty_too_high",
            f"royalties up the chain would total {total} bps; the limit is {MAX_CHAIN_ROYALTY_BPS}",
        )
    program = Program(
        new_program_id(ctx),
        parent.symbol,
        ctx.sender,
        parent.program_id,
        parent.depth + 1,
        skus,
        low,
        high,
        rate,
    )
    ctx.state.put_value(program_key(program.program_id), program.to_list())
    ctx.state.put_value(child_key(parent.program_id, program.program_id), ctx.block.height)
    ctx.state.put_value(sub_key(parent.program_id, ctx.sender), program.program_id)
    emit_opened(ctx, program)


def leave(ctx: Context, args: tuple[Any, ...]) -> None:
    """franchise.leave(program): a franchisee leaves; its sub-franchise (if any) stays."""
    (program_id,) = A.unpack(args, ("program",))
    program = require_program(ctx.state, program_id)
    if not is_franchisee(ctx.state, program.program_id, ctx.sender):
        raise InvalidTransaction("not_franchisee", "the account is not in this program")
    ctx.state.delete(member_key(program.program_id, ctx.sender))
    ctx.state.delete(joined_key(ctx.sender, program.program_id))
    ctx.emit("franchise.left", ("program", program.program_id), ("account", ctx.sender))


def _owned_program(ctx: Context, program_id: Any) -> Program:
    program = require_program(ctx.state, program_id)
    if ctx.sender != program.owner:
        raise InvalidTransaction("not_owner", "only the program's franchisor may do this")
    return program


def expel(ctx: Context, args: tuple[Any, ...]) -> None:
    """franchise.expel(program, account, reason): the franchisor removes a franchisee; its
    listings in the program take no more orders, open orders run to their end."""
    program_id, account, reason = A.unpack(args, ("program", "account", "reason"))
    program = _owned_program(ctx, program_id)
    account = A.account(account, "account")
    reason = A.text(reason, "reason", MAX_REASON, 1)
    if not is_franchisee(ctx.state, program.program_id, account):
        raise InvalidTransaction("not_franchisee", "the account is not in this program")
    ctx.state.delete(member_key(program.program_id, account))
    ctx.state.delete(joined_key(account, program.program_id))
    ctx.state.put_value(
        EXPELLED_PREFIX + program.program_id + b"/" + account, [ctx.block.timestamp_ms, reason]
    )
    ctx.emit(
        "franchise.expelled",
        ("program", program.program_id),
        ("account", account),
        ("reason", reason),
    )


def close(ctx: Context, args: tuple[Any, ...]) -> None:
    """franchise.close(program, reason): the franchisor closes a program (and so every
    sub-franchise under it) to new orders and new franchisees; open orders run on."""
    program_id, reason = A.unpack(args, ("program", "reason"))
    program = _owned_program(ctx, program_id)
    reason = A.text(reason, "reason", MAX_REASON, 1)
    if closed_record(ctx.state, program.program_id) is not None:
        raise InvalidTransaction("program_closed", "the program is already closed")
    ctx.state.put_value(CLOSED_PREFIX + program.program_id, [ctx.block.timestamp_ms, reason])
    ctx.emit("franchise.closed", ("program", program.program_id), ("reason", reason))


# --- royalties -------------------------------------------------------------------------


def pay_royalties(ctx: Context, sale: Sale) -> None:
    """Sale listener: move each level's royalty from the seller to that level's owner.

    The chain's total is capped below what the seller keeps of a sale, so the
    just-received proceeds cover it; should they not (a settlement path that pays
    less), each level is paid what is left rather than rejecting the settled sale.
    """
    if sale.franchise_program is None:
        return
    program = load_program(ctx.state, sale.franchise_program)
    if program is None:
        return
    for level, (owner, due) in enumerate(royalty_split(ctx.state, program, sale.amount)):
        if owner == sale.seller:
            continue
        paid = min(due, coin.balance(ctx.state, sale.seller, sale.symbol))
        coin.move(ctx.state, sale.symbol, sale.seller, owner, paid)
        ctx.emit(
            "franchise.royalty",
            ("program", program.program_id),
            ("level", level),
            # The seller it was taken from: an account's event stream then carries the
            # royalties its sales paid, also when the sale completed at a block's end.
            ("from", sale.seller),
            ("to", owner),
            ("symbol", sale.symbol),
            ("due", due),
            ("paid", paid),
            ("reference", sale.reference),
        )


HANDLERS: dict[str, Handler] = {
    "franchise.open_program": open_program,
    "franchise.join": join,
    "franchise.open_sub": open_sub,
    "franchise.leave": leave,
    "franchise.expel": expel,
    "franchise.close": close,
}
