"""Optimizer, train state and the jitted steps."""
