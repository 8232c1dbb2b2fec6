"""Built-in contract types: pure functions over a state view.

Each contract module exposes `HANDLERS` (method name -> handler) and, when it
needs them, `END_BLOCK_HOOKS` and `GENESIS_HOOKS`. `contracts.registry` gathers
them into the one `Application` the node runs.
"""
