"""The PBFT replica as a pure state machine: messages and time in, effects out.

`consensus.replica.Replica` is the entry point; `consensus.messages` defines the
wire messages and `consensus.state` what a validator persists across restarts.
See docs/consensus.md.
"""
