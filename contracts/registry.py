"""The contract registry: every built-in contract gathered into one Application.

Order matters and is fixed here: end-of-block hooks and genesis hooks run in the
order of `MODULES`, identically on every validator. The one module exporting
`AUTHORIZE` (the account contract) decides who may sign for an account. Modules
that keep timeouts in the deadline index export `DEADLINE_HANDLERS` (kind -> handler); they are
gathered into one end-of-block hook that runs before every other hook, so due
deadlines are settled in global key order whatever module owns them.
"""

from __future__ import annotations

from types import ModuleType

from contracts import (
    account,
    arbiter,
    coin,
    deadlines,
    escrow,
    exchange,
    franchise,
    governance,
    invoice,
    listing,
    loyalty,
    payment,
    platform,
    redemption,
    roles,
)
from ledger.execution import Application, Authorizer, GenesisHook, Handler, Hook

MODULES: tuple[ModuleType, ...] = (
    coin,
    roles,
    governance,
    platform,
    payment,
    loyalty,
    franchise,
    arbiter,
    listing,
    escrow,
    exchange,
    invoice,
    redemption,
    account,
)


def build_application(modules: tuple[ModuleType, ...] = MODULES) -> Application:
    handlers: dict[str, Handler] = {}
    end_block: list[Hook] = []
    genesis: list[GenesisHook] = []
    deadline_handlers: dict[str, deadlines.DeadlineHandler] = {}
    authorize: Authorizer | None = None
    for module in modules:
        if hasattr(module, "AUTHORIZE"):
            if authorize is not None:
                raise RuntimeError("two contracts decide who may sign for an account")
            authorize = module.AUTHORIZE
        for name, handler in module.HANDLERS.items():
            if name in handlers:
                raise RuntimeError(f"contract method {name} is registered twice")
            handlers[name] = handler
        for kind, deadline_handler in getattr(module, "DEADLINE_HANDLERS", {}).items():
            if kind in deadline_handlers:
                raise RuntimeError(f"deadline kind {kind} is registered twice")
            deadline_handlers[kind] = deadline_handler
        end_block.extend(getattr(module, "END_BLOCK_HOOKS", ()))
        genesis.extend(getattr(module, "GENESIS_HOOKS", ()))
    if deadline_handlers:
        end_block.insert(0, deadlines.end_block_hook(deadline_handlers))
    return Application(handlers, tuple(end_block), tuple(genesis), authorize)


APPLICATION = build_application()
