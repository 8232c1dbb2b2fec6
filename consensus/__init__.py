"""The PBFT replica as a pure state machine: messages and time in, effects out."""
