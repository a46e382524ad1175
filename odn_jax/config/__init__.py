"""Configs: the defaults every key starts from, and the config files found by name."""
