"""The validator process: RPC, peer transport, mempool, sync, storage and metrics."""
