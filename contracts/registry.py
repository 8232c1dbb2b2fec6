"""The contract registry: every built-in contract gathered into one Application.

Order matters and is fixed here: end-of-block hooks and genesis hooks run in the
order of `MODULES`, identically on every validator.
"""

from __future__ import annotations

from types import ModuleType

from contracts import coin, franchise, governance, loyalty, payment, platform, roles
from ledger.execution import Application, GenesisHook, Handler, Hook

MODULES: tuple[ModuleType, ...] = (
    coin,
    roles,
    governance,
    platform,
    payment,
    loyalty,
    franchise,
)


def build_application(modules: tuple[ModuleType, ...] = MODULES) -> Application:
    handlers: dict[str, Handler] = {}
    end_block: list[Hook] = []
    genesis: list[GenesisHook] = []
    for module in modules:
        for name, handler in module.HANDLERS.items():
            if name in handlers:
                raise RuntimeError(f"contract method {name} is registered twice")
            handlers[name] = handler
        end_block.extend(getattr(module, "END_BLOCK_HOOKS", ()))
        genesis.extend(getattr(module, "GENESIS_HOOKS", ()))
    return Application(handlers, tuple(end_block), tuple(genesis))


APPLICATION = build_application()
