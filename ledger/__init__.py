"""The ledger layer: canonical bytes, keys, transaction and block types, state and execution.

Everything here is deterministic: no clock, randomness, floats or I/O beyond the
abstract key-value interface, so every validator computes the same bytes.
"""
