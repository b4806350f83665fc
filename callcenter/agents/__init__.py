"""Agents: presence and the state machine every routing decision starts from."""
